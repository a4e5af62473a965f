import Numerics
import World

/// The detector's figures on held-out renders of `DetectorData` (balanced, jittered).
public struct DetectorEvaluation: Sendable, CustomStringConvertible {
    /// Held-out images scored.
    public var count: Int
    /// Pixel noise σ added to every image (0: clean renders).
    public var noise: Float
    /// ROC-AUC of P(striped).
    public var auc: Double
    /// Expected calibration error, 10 equal-width bins.
    public var ece: Double
    /// Share of images classified right at the threshold P = 0.5.
    public var accuracy: Double

    public var description: String {
        String(format: "detector on %d held-out renders, noise σ=%.2f: ROC-AUC %.5f  ECE %.4f  accuracy %.4f",
               count, noise, auc, ece, accuracy)
    }

    /// Scores examples 0 ..< count of `DetectorData` for `seed` (use a seed training never saw),
    /// each with Gaussian pixel noise σ = `noise` drawn from its own stream, clamped to [0, 1].
    public static func evaluate(_ detector: UnsafeDetector, seed: UInt64, count: Int, noise: Float = 0) -> DetectorEvaluation {
        precondition(count >= 2, "DetectorEvaluation needs at least one image of each class (2 images), got \(count)")
        var labels: [Bool] = []
        var probabilities: [Float] = []
        let chunk = UnsafeDetector.inferenceChunk
        for start in stride(from: 0, to: count, by: chunk) {
            let n = min(chunk, count - start)
            var images = Tensor(zeros: [n, 3, Image.side, Image.side])  // (B, 3, 32, 32)
            for i in 0..<n {
                let (image, striped, stream) = DetectorData.example(seed: seed, index: start + i)
                var rng = stream
                var x = image.chwTensor().data                           // (3, 32, 32)
                if noise > 0 { addGaussianNoise(to: &x, sigma: noise, rng: &rng) }
                images.data.replaceSubrange((i * Image.valueCount)..<((i + 1) * Image.valueCount), with: x)
                labels.append(striped)
            }
            probabilities += detector.forward(images)
        }
        let correct = zip(probabilities, labels).filter { ($0 >= 0.5) == $1 }.count
        return DetectorEvaluation(count: count, noise: noise,
                                  auc: ClassifierMetrics.rocAUC(scores: probabilities, labels: labels)!,
                                  ece: ClassifierMetrics.expectedCalibrationError(probabilities: probabilities, labels: labels)!,
                                  accuracy: Double(correct) / Double(count))
    }
}
