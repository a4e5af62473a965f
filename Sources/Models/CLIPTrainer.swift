import Foundation
import Numerics
import World

/// How the mini-CLIP is pretrained; defaults are the shipped run.
public struct CLIPTrainingConfig: Codable, Sendable, Equatable {
    /// Optimizer steps.
    public var steps = 1500
    /// (image, caption) pairs per step, all fresh draws from the data distribution.
    public var batchSize = 128
    /// Seeds the initial weights and the data stream; the whole run is a function of it.
    public var seed: UInt64 = 0
    /// Peak AdamW learning rate, reached after the warmup, then cosine-decayed to 0.
    public var learningRate: Float = 2e-3
    /// Steps of linear warmup from 0.
    public var warmupSteps = 100
    /// AdamW decoupled weight decay on matrices and kernels (not on biases, norms, the scale).
    public var weightDecay: Float = 0.05
    /// Global gradient-norm clip.
    public var maxGradNorm: Float = 1
    /// The architecture.
    public var model = MiniCLIP.Config()

    /// The shipped run.
    public init() {}
}

/// What one training step measured.
public struct CLIPStepStats: Sendable {
    /// 1-based step number.
    public var step: Int
    /// Symmetric InfoNCE loss of the batch.
    public var loss: Float
    /// In-batch image → caption top-1 accuracy.
    public var accuracy: Float
    /// Global gradient norm before clipping.
    public var gradNorm: Float
    /// Learning rate used.
    public var learningRate: Float
    /// Logit scale s after the step.
    public var scale: Float
}

/// Trains a `MiniCLIP` contrastively on fresh data-distribution pairs every step.
///
/// Step k's batch is pairs k·B ..< (k+1)·B of `DataDistribution.pair(seed:index:)`, and the
/// initial weights come from a split of the same seed, so a run is reproducible from its seed
/// and its data never repeats. Evaluate on a different seed (see `CLIPRanking`).
public final class CLIPTrainer {
    public let config: CLIPTrainingConfig
    public let model: MiniCLIP
    public private(set) var step = 0
    private let optimizer: AdamW
    private let tokenizer = Tokenizer(maxLength: TextEncoder.tokens)

    public init(config: CLIPTrainingConfig) {
        precondition(config.steps > 0 && config.batchSize > 1 && config.warmupSteps >= 0,
                     "CLIPTrainer: steps and warmup must be positive and a batch needs at least 2 pairs")
        self.config = config
        var rng = RandomGenerator(seed: config.seed).split(0xC11F)
        model = MiniCLIP(config: config.model, rng: &rng)
        optimizer = AdamW(model.store, config: .init(learningRate: config.learningRate, weightDecay: config.weightDecay,
                                                     maxGradNorm: config.maxGradNorm),
                          noDecay: { $0.shape.count == 1 })
    }

    /// Learning rate at 0-based step k: linear warmup, then cosine decay to 0 at `steps`.
    public func learningRate(at k: Int) -> Float {
        if k < config.warmupSteps { return config.learningRate * Float(k + 1) / Float(config.warmupSteps) }
        let progress = Double(k - config.warmupSteps) / Double(max(config.steps - config.warmupSteps, 1))
        return config.learningRate * Float(0.5 * (1 + cos(Double.pi * min(progress, 1))))
    }

    /// The images (B, 3, 32, 32) and tokenized captions of 0-based step k.
    public func batch(at k: Int) -> (images: Tensor, texts: [TokenizedText]) {
        let b = config.batchSize
        let pairs = (0..<b).map { DataDistribution.pair(seed: config.seed, index: k * b + $0) }
        return (imageBatch(pairs.map(\.image)), pairs.map { tokenizer.encode($0.prompt) })
    }

    /// One AdamW step on the next batch.
    public func trainStep() throws -> CLIPStepStats {
        let (images, texts) = batch(at: step)
        model.store.zeroGrads()
        let loss = model.lossAndBackward(images: images, texts: texts)
        optimizer.config.learningRate = learningRate(at: step)
        let norm = try optimizer.step()
        step += 1
        return CLIPStepStats(step: step, loss: loss.loss, accuracy: loss.imageToTextAccuracy, gradNorm: norm,
                             learningRate: optimizer.config.learningRate, scale: model.scale)
    }

    /// Runs the remaining steps, handing every step's statistics to `progress`.
    public func train(progress: (CLIPStepStats) -> Void = { _ in }) throws {
        while step < config.steps { progress(try trainStep()) }
    }
}
