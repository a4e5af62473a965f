import Foundation
import Numerics

/// How the unsafe detector is trained; defaults are the shipped run.
public struct DetectorTrainingConfig: Codable, Sendable, Equatable {
    /// Optimizer steps.
    public var steps = 1500
    /// Images per step (even: half striped), all fresh renders.
    public var batchSize = 64
    /// Seeds the initial weights and the data stream; the whole run is a function of it.
    public var seed: UInt64 = 0
    /// Peak AdamW learning rate, reached after the warmup, then cosine-decayed to 0.
    public var learningRate: Float = 3e-3
    /// Steps of linear warmup from 0.
    public var warmupSteps = 50
    /// AdamW decoupled weight decay on kernels and matrices (not on biases).
    public var weightDecay: Float = 1e-4
    /// Global gradient-norm clip.
    public var maxGradNorm: Float = 1
    /// Corruptions applied to every training image.
    public var augmentation = DetectorAugmentation()
    /// The architecture.
    public var model = UnsafeDetector.Config()

    /// The shipped run.
    public init() {}
}

/// What one training step measured.
public struct DetectorStepStats: Sendable {
    /// 1-based step number.
    public var step: Int
    /// Binary cross-entropy of the batch.
    public var loss: Float
    /// Share of the batch classified right at P = 0.5.
    public var accuracy: Float
    /// Global gradient norm before clipping.
    public var gradNorm: Float
    /// Learning rate used.
    public var learningRate: Float
}

/// Trains an `UnsafeDetector` with binary cross-entropy on fresh, augmented, balanced
/// renders every step.
///
/// Step k's batch is examples k·B ..< (k+1)·B of `DetectorData` for the seed, and the
/// initial weights come from a split of the same seed, so a run is reproducible from its seed
/// and its data never repeats. Evaluate on a different seed (see `DetectorEvaluation`).
public final class DetectorTrainer {
    public let config: DetectorTrainingConfig
    public let detector: UnsafeDetector
    public private(set) var step = 0
    private let optimizer: AdamW

    public init(config: DetectorTrainingConfig) {
        precondition(config.steps > 0 && config.batchSize >= 2 && config.batchSize % 2 == 0 && config.warmupSteps >= 0,
                     "DetectorTrainer: steps must be positive, the batch even and at least 2, the warmup not negative")
        self.config = config
        var rng = RandomGenerator(seed: config.seed).split(0xDE7EC7)
        detector = UnsafeDetector(config: config.model, rng: &rng)
        optimizer = AdamW(detector.store, config: .init(learningRate: config.learningRate, weightDecay: config.weightDecay,
                                                        maxGradNorm: config.maxGradNorm),
                          noDecay: { $0.shape.count == 1 })
    }

    /// Learning rate at 0-based step k: linear warmup, then cosine decay to 0 at `steps`.
    public func learningRate(at k: Int) -> Float {
        if k < config.warmupSteps { return config.learningRate * Float(k + 1) / Float(config.warmupSteps) }
        let progress = Double(k - config.warmupSteps) / Double(max(config.steps - config.warmupSteps, 1))
        return config.learningRate * Float(0.5 * (1 + cos(Double.pi * min(progress, 1))))
    }

    /// One AdamW step on the next batch.
    public func trainStep() throws -> DetectorStepStats {
        let b = config.batchSize
        let (images, labels) = DetectorData.batch(seed: config.seed, start: step * b, count: b,
                                                  augmentation: config.augmentation)
        detector.store.zeroGrads()
        let z = detector.logits(images)                                         // z: (B)
        let (loss, dz) = binaryCrossEntropyWithLogits(z, targets: labels)
        _ = detector.backward(dz)
        optimizer.config.learningRate = learningRate(at: step)
        let norm = try optimizer.step()
        step += 1
        let correct = zip(z.data, labels.data).filter { ($0 >= 0) == ($1 == 1) }.count
        return DetectorStepStats(step: step, loss: loss, accuracy: Float(correct) / Float(b), gradNorm: norm,
                                 learningRate: optimizer.config.learningRate)
    }

    /// Runs the remaining steps, handing every step's statistics to `progress`.
    public func train(progress: (DetectorStepStats) -> Void = { _ in }) throws {
        while step < config.steps { progress(try trainStep()) }
    }
}
