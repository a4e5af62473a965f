import Numerics
import World

/// Unified Concept Editing (Gandikota et al., 2024): a closed-form edit of the denoiser's
/// cross-attention key and value projections, so the text tokens of an erased concept project
/// as their targets do while every preserved token projects as before.
///
/// For each projection W (Dout × Dc) UCE solves
///
///     min_W'  Σ_e s_e‖W'c_e − W t_e‖² + Σ_p s_p‖W'c_p − W c_p‖² + λ‖W' − W‖²_F
///     W' = W·(λI + s_e Σ t_e c_eᵀ + s_p Σ c_p c_pᵀ)·(λI + s_e Σ c_e c_eᵀ + s_p Σ c_p c_pᵀ)⁻¹ = W·T
///
/// (its "replace" technique: targets are W of an embedding), so one Dc × Dc matrix T serves
/// all six projections. In this world the token embeddings are the text tower's per-token
/// outputs, which are contextual: an explicit word also shifts its neighbours. So an erased
/// prompt p contributes its explicit words (`Blocklist`), mapped to the null prompt's end token
/// (toward the null), and, with weight s_n, each other token mapped to the same token of p's
/// safe side (the prompt without the words); preserved prompts (and the null prompt) map to
/// themselves.
public enum ConceptEditing {
    /// λ, s_e, s_p, and s_n: the weight of an erased prompt's other tokens (mapped to its
    /// safe side's), relative to s_e of its explicit words.
    public struct Weights: Sendable, Equatable {
        public var regularization = 0.1
        public var erase = 1.0
        public var preserve = 1.0
        public var neighbours = 1.0
        public init() {}
    }

    /// The edit's pairs of token embeddings (Dc each).
    public struct Pairs {
        /// (context c_e, target t_e) of the explicit words.
        public var erase: [(context: [Float], target: [Float])] = []
        /// (context, target) of the erased prompts' other tokens.
        public var neighbours: [(context: [Float], target: [Float])] = []
        /// c_p.
        public var preserve: [[Float]] = []
        public init() {}
    }

    /// What an edit did: its pairs and how well T fits them.
    public struct Report: Sendable {
        public var erasePairs: Int
        public var preservePairs: Int
        /// Mean over preserved tokens of ‖T c − c‖ / ‖c‖.
        public var preserveError: Double
        /// Mean over the explicit words' tokens of ‖T c − t‖ / ‖c − t‖ (1: unchanged, 0: at the target).
        public var eraseError: Double
        /// The projections edited.
        public var layers: [String]
    }

    /// The pairs of `erasePrompts` (each should contain an explicit word) and `preservePrompts`.
    public static func pairs(_ model: DiffusionModel, erase erasePrompts: [String], preserve preservePrompts: [String]) -> Pairs {
        var pairs = Pairs()
        let null = encodeRows(model, [Prompt.nullText])[0]
        let nullEnd = null[1]  // "" is <bos> <eos>
        pairs.preserve += null
        for chunk in stride(from: 0, to: erasePrompts.count, by: 256) {
            let texts = Array(erasePrompts[chunk..<min(chunk + 256, erasePrompts.count)])
            let words = texts.map { $0.split(whereSeparator: \.isWhitespace).map(String.init) }
            let unsafe = encodeRows(model, texts)
            let safe = encodeRows(model, texts.map(Blocklist.strip))
            for (i, w) in words.enumerated() where unsafe[i].count == w.count + 2 {
                let struck = Blocklist.struck(w)
                var safePosition = 1
                pairs.neighbours.append((unsafe[i][0], safe[i][0]))
                for (j, gone) in struck.enumerated() {
                    if gone {
                        pairs.erase.append((unsafe[i][1 + j], nullEnd))
                    } else {
                        pairs.neighbours.append((unsafe[i][1 + j], safe[i][safePosition]))
                        safePosition += 1
                    }
                }
                pairs.neighbours.append((unsafe[i][w.count + 1], safe[i][safePosition]))
            }
        }
        for chunk in stride(from: 0, to: preservePrompts.count, by: 256) {
            pairs.preserve += encodeRows(model, Array(preservePrompts[chunk..<min(chunk + 256, preservePrompts.count)])).joined()
        }
        return pairs
    }

    /// T (Dc × Dc, row-major) of the least-squares problem above.
    public static func transform(_ pairs: Pairs, dim d: Int, weights: Weights = Weights()) -> [Double] {
        var m = [Double](repeating: 0, count: d * d)  // λI + Σ s c cᵀ
        var n = m                                     // λI + Σ s t cᵀ
        for i in 0..<d { m[i * d + i] = weights.regularization; n[i * d + i] = weights.regularization }
        func add(_ c: [Float], _ t: [Float], _ s: Double) {
            for i in 0..<d {
                let (ci, ti) = (s * Double(c[i]), s * Double(t[i]))
                for j in 0..<d {
                    m[i * d + j] += ci * Double(c[j])
                    n[i * d + j] += ti * Double(c[j])
                }
            }
        }
        for (c, t) in pairs.erase { add(c, t, weights.erase) }
        for (c, t) in pairs.neighbours where weights.neighbours > 0 { add(c, t, weights.erase * weights.neighbours) }
        for c in pairs.preserve { add(c, c, weights.preserve) }
        // T·M = N, M symmetric: M·Tᵀ = Nᵀ, one Cholesky solve per column of Tᵀ.
        let l = cholesky(m, d)
        var t = [Double](repeating: 0, count: d * d)
        for row in 0..<d {
            let x = choleskySolve(l, d, (0..<d).map { n[row * d + $0] })  // row `row` of T = column of Tᵀ
            for j in 0..<d { t[row * d + j] = x[j] }
        }
        return t
    }

    /// Edits `model`'s cross-attention key and value projections in place: W ← W·T.
    @discardableResult
    public static func edit(_ model: DiffusionModel, erase: [String], preserve: [String], weights: Weights = Weights()) -> Report {
        let pairs = pairs(model, erase: erase, preserve: preserve)
        let d = model.unet.config.contextDim
        let t = transform(pairs, dim: d, weights: weights)
        var layers: [String] = []
        let store = model.unet.store
        for block in [model.unet.cross1, model.unet.cross2, model.unet.cross3] {
            for linear in [block.attention.attention.key, block.attention.attention.value] {
                let w = store.value(linear.weight), rows = linear.outFeatures
                precondition(linear.inFeatures == d, "ConceptEditing: projection reads \(linear.inFeatures) features, context has \(d)")
                for r in 0..<rows {
                    let old = (0..<d).map { Double(w[r * d + $0]) }
                    for j in 0..<d {
                        var acc = 0.0
                        for i in 0..<d { acc += old[i] * t[i * d + j] }
                        w[r * d + j] = Float(acc)
                    }
                }
                layers.append(linear.weight.name)
            }
        }
        func apply(_ c: [Float]) -> [Double] { (0..<d).map { j in (0..<d).reduce(0.0) { $0 + t[j * d + $1] * Double(c[$1]) } } }
        func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        let preserveError = pairs.preserve.map { c in
            norm(zip(apply(c), c).map { $0 - Double($1) }) / max(norm(c.map(Double.init)), 1e-12)
        }.reduce(0, +) / Double(max(pairs.preserve.count, 1))
        let eraseError = pairs.erase.map { pair in
            norm(zip(apply(pair.context), pair.target).map { $0 - Double($1) })
                / max(norm(zip(pair.context, pair.target).map { Double($0 - $1) }), 1e-12)
        }.reduce(0, +) / Double(max(pairs.erase.count, 1))
        return Report(erasePairs: pairs.erase.count + (weights.neighbours > 0 ? pairs.neighbours.count : 0), preservePairs: pairs.preserve.count,
                      preserveError: preserveError, eraseError: eraseError, layers: layers)
    }

    /// Each text's real token embeddings (begin, words, end), Dc each.
    static func encodeRows(_ model: DiffusionModel, _ texts: [String]) -> [[[Float]]] {
        let e = model.encode(texts)
        let (t, d) = (e.tokens.shape[1], e.tokens.shape[2])
        return texts.indices.map { i in
            (0..<t).filter { e.mask.attend[i * t + $0] }.map { k in Array(e.tokens.data[((i * t + k) * d)..<((i * t + k + 1) * d)]) }
        }
    }
}

/// The lower Cholesky factor L (L·Lᵀ = A) of a symmetric positive-definite n × n matrix.
func cholesky(_ a: [Double], _ n: Int) -> [Double] {
    var l = [Double](repeating: 0, count: n * n)
    for i in 0..<n {
        for j in 0...i {
            var s = a[i * n + j]
            for k in 0..<j { s -= l[i * n + k] * l[j * n + k] }
            if i == j {
                precondition(s > 0, "cholesky: matrix not positive definite at \(i)")
                l[i * n + i] = s.squareRoot()
            } else {
                l[i * n + j] = s / l[j * n + j]
            }
        }
    }
    return l
}

/// x with L·Lᵀ·x = b.
func choleskySolve(_ l: [Double], _ n: Int, _ b: [Double]) -> [Double] {
    var y = b
    for i in 0..<n {
        for k in 0..<i { y[i] -= l[i * n + k] * y[k] }
        y[i] /= l[i * n + i]
    }
    for i in stride(from: n - 1, through: 0, by: -1) {
        for k in (i + 1)..<n { y[i] -= l[k * n + i] * y[k] }
        y[i] /= l[i * n + i]
    }
    return y
}
