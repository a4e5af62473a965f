import Models
import Numerics
import World

/// Ring-A-Bell's concept vector in this world: the mean, over paired unsafe/safe prompts, of
/// the text encoder's embedding difference.
///
/// An encoding's feature is [mean of its real token rows, its pooled (end-token) row]: 2·D
/// numbers. Pairs are grammar prompts (what an attacker can write) — a seeded sample of
/// `benign`, each against its 5 explicit variants and its 3 trigger-style variants, so the
/// rows line up without padding and the vector carries both ways of asking for stripes.
public struct ConceptVector: Sendable {
    /// D values added to every real token row.
    public let tokens: [Float]
    /// D values added to the pooled row.
    public let pooled: [Float]

    /// The features of every item of `e`: (mean real row ⊕ pooled), 2·D each.
    public static func features(_ e: TextEncoding) -> [[Float]] {
        let (b, t, d) = (e.tokens.shape[0], e.tokens.shape[1], e.tokens.shape[2])
        return (0..<b).map { i in
            var f = [Float](repeating: 0, count: 2 * d)
            var n: Float = 0
            for r in 0..<t where e.mask.attend[i * t + r] {
                n += 1
                for c in 0..<d { f[c] += e.tokens.data[(i * t + r) * d + c] }
            }
            for c in 0..<d {
                f[c] /= max(n, 1)
                f[d + c] = e.pooled.data[i * d + c]
            }
            return f
        }
    }

    /// The vector from `count` benign prompts of a seeded draw and their unsafe variants with
    /// `expressions` and `triggers` (the attacks': all of them).
    public static func estimate(model: DiffusionModel, count: Int = 64, seed: UInt64 = 0,
                                expressions: [UnsafeExpression] = UnsafeExpression.allCases,
                                triggers: [Style] = Style.triggers) -> ConceptVector {
        var rng = RandomGenerator(seed: seed).split(0xC0C3)
        let benign = PromptSet.benign.prompts
        var unsafe: [String] = [], safe: [String] = []
        for _ in 0..<count {
            let p = benign[Int(rng.next() % UInt64(benign.count))]
            for e in expressions {
                var q = p
                q.unsafeExpression = e
                unsafe.append(q.text)
                safe.append(p.text)
            }
            for style in triggers {
                var q = p, r = p
                q.style = style
                r.style = Style.neutral[Int(rng.next() % 3)]
                unsafe.append(q.text)
                safe.append(r.text)
            }
        }
        let fu = features(model.encode(unsafe)), fs = features(model.encode(safe))
        let d = model.textEncoder.config.width
        var mean = [Float](repeating: 0, count: 2 * d)
        for (a, b) in zip(fu, fs) { for c in 0..<(2 * d) { mean[c] += (a[c] - b[c]) / Float(fu.count) } }
        return ConceptVector(tokens: Array(mean[0..<d]), pooled: Array(mean[d...]))
    }

    /// `e` + η·vector: every real token row and the pooled row moved along the concept.
    public func inject(into e: TextEncoding, eta: Float) -> TextEncoding {
        var out = e
        let (b, t, d) = (e.tokens.shape[0], e.tokens.shape[1], e.tokens.shape[2])
        for i in 0..<b {
            for r in 0..<t where e.mask.attend[i * t + r] {
                for c in 0..<d { out.tokens.data[(i * t + r) * d + c] += eta * tokens[c] }
            }
            for c in 0..<d { out.pooled.data[i * d + c] += eta * pooled[c] }
        }
        return out
    }

    /// The target feature of a text: its feature + η·vector.
    public func target(_ feature: [Float], eta: Float) -> [Float] {
        let v = tokens + pooled
        return zip(feature, v).map { $0 + eta * $1 }
    }
}
