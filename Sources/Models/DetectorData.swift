import Numerics
import World

/// The detector's data: scenes of the data distribution with stripes set by index parity
/// (odd index: striped), so every even-sized batch is exactly balanced, rendered with jitter.
///
/// Example `index` of `seed` comes from its own split stream, so any example can be produced
/// alone and training and held-out sets differ only by their seed.
public enum DetectorData {
    /// Example `index` of the set of `seed`: the jittered render and its label, plus the
    /// stream it was drawn from, positioned for the example's augmentation.
    public static func example(seed: UInt64, index: Int) -> (image: Image, striped: Bool, rng: RandomGenerator) {
        var rng = RandomGenerator(seed: seed).split(UInt64(index))
        var scene = DataDistribution.drawCaptionedScene(using: &rng).scene
        scene.striped = index % 2 == 1
        return (scene.render(jitter: &rng), scene.striped, rng)
    }

    /// Examples `start ..< start + count` of `seed` as images (B, 3, 32, 32), each corrupted by
    /// `augmentation`, and labels (B) with 1 = striped.
    public static func batch(seed: UInt64, start: Int, count: Int,
                             augmentation: DetectorAugmentation) -> (images: Tensor, labels: Tensor) {
        let plane = Image.valueCount
        var images = Tensor(zeros: [count, 3, Image.side, Image.side])  // (B, 3, 32, 32)
        var labels = Tensor(zeros: [count])                             // (B)
        for i in 0..<count {
            let (image, striped, stream) = example(seed: seed, index: start + i)
            var rng = stream
            var x = image.chwTensor().data                               // (3, 32, 32)
            augmentation.apply(to: &x, rng: &rng)
            images.data.replaceSubrange((i * plane)..<((i + 1) * plane), with: x)
            labels.data[i] = striped ? 1 : 0
        }
        return (images, labels)
    }
}

/// Corruptions that make the detector hold up on a diffusion model's imperfect samples:
/// each image, unless left clean, is in this order partially blurred (sometimes), shifted in
/// colour per channel, given Gaussian pixel noise, and clamped to [0, 1].
public struct DetectorAugmentation: Codable, Sendable, Equatable {
    /// P(an image is left exactly as rendered).
    public var cleanProbability: Float = 0.1
    /// Pixel noise σ ~ U(0, maxNoise) per image.
    public var maxNoise: Float = 0.15
    /// Each channel is shifted by U(−maxColorShift, maxColorShift) per image.
    public var maxColorShift: Float = 0.08
    /// P(an image is blurred).
    public var blurProbability: Float = 0.3
    /// A blurred image becomes (1 − α)·x + α·binomial3×3(x), α ~ U(0, maxBlur). A full 3×3
    /// binomial blur maps a period-2 row pattern to its mean, erasing the stripes, so α stays
    /// below 1: at 0.6 the stripes keep 40% of their contrast and the pixel ground truth
    /// still sees them.
    public var maxBlur: Float = 0.6

    /// The shipped training augmentation.
    public init() {}

    /// No corruption at all.
    public static let none = DetectorAugmentation(cleanProbability: 1, maxNoise: 0, maxColorShift: 0,
                                                  blurProbability: 0, maxBlur: 0)

    /// Any settings.
    public init(cleanProbability: Float, maxNoise: Float, maxColorShift: Float, blurProbability: Float, maxBlur: Float) {
        (self.cleanProbability, self.maxNoise, self.maxColorShift) = (cleanProbability, maxNoise, maxColorShift)
        (self.blurProbability, self.maxBlur) = (blurProbability, maxBlur)
    }

    /// Corrupts one CHW image x (3, 32, 32) in place, drawing from `rng`.
    public func apply(to x: inout [Float], rng: inout RandomGenerator) {
        precondition(x.count == Image.valueCount, "DetectorAugmentation: image of \(x.count) values")
        guard rng.nextUniform() >= cleanProbability else { return }
        if rng.nextUniform() < blurProbability {
            let alpha = rng.nextUniform(0, maxBlur)
            let blurred = binomialBlur(x)
            for i in x.indices { x[i] += alpha * (blurred[i] - x[i]) }
        }
        let plane = Image.side * Image.side
        for c in 0..<3 {
            let shift = rng.nextUniform(-maxColorShift, maxColorShift)
            for i in (c * plane)..<((c + 1) * plane) { x[i] += shift }
        }
        addGaussianNoise(to: &x, sigma: rng.nextUniform(0, maxNoise), rng: &rng)
    }
}

/// Adds N(0, σ²) to every value of x and clamps to [0, 1].
public func addGaussianNoise(to x: inout [Float], sigma: Float, rng: inout RandomGenerator) {
    for i in x.indices { x[i] = min(max(x[i] + sigma * rng.nextGaussian(), 0), 1) }
}

/// The 3×3 binomial blur ([1, 2, 1] ⊗ [1, 2, 1] / 16) of a CHW image (3, 32, 32), edges replicated.
func binomialBlur(_ x: [Float]) -> [Float] {
    let n = Image.side
    var rows = x, out = x  // rows: blurred along x; out: then along y
    for c in 0..<3 {
        let base = c * n * n
        for y in 0..<n {
            for j in 0..<n {
                let l = x[base + y * n + max(j - 1, 0)], r = x[base + y * n + min(j + 1, n - 1)]
                rows[base + y * n + j] = 0.25 * (l + r) + 0.5 * x[base + y * n + j]
            }
        }
        for y in 0..<n {
            let up = base + max(y - 1, 0) * n, down = base + min(y + 1, n - 1) * n
            for j in 0..<n { out[base + y * n + j] = 0.25 * (rows[up + j] + rows[down + j]) + 0.5 * rows[base + y * n + j] }
        }
    }
    return out
}
