import Dispatch
import Diffusion
import Foundation
import Numerics
import World

/// How the denoiser is pretrained; defaults are the shipped run.
public struct DiffusionTrainingConfig: Codable, Sendable, Equatable {
    /// Optimizer steps.
    public var steps = 5000
    /// (image, caption) pairs per step, all fresh draws from the data distribution.
    public var batchSize = 64
    /// Seeds the initial weights, the data stream, timesteps, noise and prompt dropout.
    public var seed: UInt64 = 0
    /// Peak AdamW learning rate, reached after the warmup, then cosine-decayed to 0.
    public var learningRate: Float = 1e-3
    /// Steps of linear warmup from 0.
    public var warmupSteps = 200
    /// AdamW decoupled weight decay on matrices and kernels (not on biases and norms).
    public var weightDecay: Float = 0.01
    /// Global gradient-norm clip.
    public var maxGradNorm: Float = 1
    /// Share of captions replaced by the null prompt "", so the model also learns ε(x, t, ∅)
    /// for classifier-free guidance.
    public var promptDropout: Float = 0.1
    /// Decay of the exponential moving average of the weights that is saved (warmed up as
    /// min(decay, (1 + k)/(10 + k))); nil saves the raw weights.
    public var emaDecay: Float? = 0.999
    /// Threads a batch is split among, each with a copy of the denoiser and one BLAS thread.
    /// The run is reproducible for a given value.
    public var workers = 2
    /// The denoiser's architecture.
    public var model = UNet.Config()

    /// The shipped run.
    public init() {}
}

/// What one training step measured.
public struct DiffusionStepStats: Sendable {
    /// 1-based step number.
    public var step: Int
    /// The optimized loss: the batch's v-prediction MSE.
    public var loss: Float
    /// Global gradient norm before clipping.
    public var gradNorm: Float
    /// Learning rate used.
    public var learningRate: Float
}

/// Pretrains a `DiffusionModel`'s denoiser on fresh data-distribution pairs, with the text
/// tower frozen. The loss is the plain MSE of the network's velocity v̂ against
/// v = √ᾱ·ε − √(1−ᾱ)·x_0 (see `UNet`), unweighted over uniform t: in ε terms that weights each
/// t by 1/ᾱ_t, so at the high-noise steps that decide the layout (where the object is, its size)
/// x_0 errors count fully, where ε-MSE, with or without min-SNR clamping, gives them almost no
/// weight (ε ≈ x_t there). Min-SNR weighting is therefore not used.
///
/// Step k's batch is pairs k·B ..< (k+1)·B of `DataDistribution.pair(seed:index:)`; its
/// timesteps, noise and prompt dropout come from `RandomGenerator(seed).split(tag).split(k)`,
/// and the initial weights from another split: a run is a function of its config. The text
/// tower costs ~1% of a step, so captions are encoded afresh rather than cached.
public final class DiffusionTrainer {
    public let config: DiffusionTrainingConfig
    public let model: DiffusionModel
    public private(set) var step = 0
    private let optimizer: AdamW
    private let replicas: [UNet]  // replicas[0] is model.unet
    private var ema: [Float]?     // (P), aligned with model.unet.store
    private let root: RandomGenerator

    /// A fresh denoiser conditioned on `clip`'s (frozen) text tower.
    public convenience init(config: DiffusionTrainingConfig, clip: MiniCLIP) {
        var rng = RandomGenerator(seed: config.seed).split(0x0E7)
        self.init(config: config, continuing: DiffusionModel(textFrom: clip, unet: config.model, rng: &rng))
    }

    /// Trains `model` further (a later stage from an earlier stage's checkpoint); its denoiser's
    /// architecture must be `config.model`.
    public init(config: DiffusionTrainingConfig, continuing model: DiffusionModel) {
        precondition(config.steps > 0 && config.batchSize >= config.workers && config.workers >= 1 && config.warmupSteps >= 0,
                     "DiffusionTrainer: steps > 0, 1 ≤ workers ≤ batch size, warmup ≥ 0")
        precondition(model.unet.config == config.model, "DiffusionTrainer: the model's architecture differs from config.model")
        self.config = config
        self.model = model
        root = RandomGenerator(seed: config.seed)
        var rng = RandomGenerator(seed: 0)  // replica values are overwritten before every step
        replicas = [model.unet] + (1..<config.workers).map { _ in UNet(config: config.model, rng: &rng) }
        optimizer = AdamW(model.unet.store,
                          config: .init(learningRate: config.learningRate, weightDecay: config.weightDecay,
                                        maxGradNorm: config.maxGradNorm),
                          noDecay: { $0.shape.count == 1 })
        ema = config.emaDecay.map { _ in Array(model.unet.store.values) }
    }

    /// Learning rate at 0-based step k: linear warmup, then cosine decay to 0 at `steps`.
    public func learningRate(at k: Int) -> Float {
        if k < config.warmupSteps { return config.learningRate * Float(k + 1) / Float(config.warmupSteps) }
        let progress = Double(k - config.warmupSteps) / Double(max(config.steps - config.warmupSteps, 1))
        return config.learningRate * Float(0.5 * (1 + cos(Double.pi * min(progress, 1))))
    }

    /// The batch of 0-based step k.
    func batch(at k: Int) -> VelocityBatch {
        let b = config.batchSize
        let pairs = (0..<b).map { DataDistribution.pair(seed: config.seed, index: k * b + $0) }
        var rng = root.split(0xD1FF).split(UInt64(k))
        return VelocityBatch(pairs: pairs, promptDropout: config.promptDropout, rng: &rng)
    }

    /// One AdamW step on the next batch.
    public func trainStep() throws -> DiffusionStepStats {
        let data = batch(at: step)
        let text = model.encode(data.texts)
        let b = config.batchSize, w = config.workers
        let ranges = (0..<w).map { i in (i * b / w)..<((i + 1) * b / w) }
        let sums = SumBox(count: w)
        for r in replicas.dropFirst() { r.copyParameters(from: model.unet) }
        // Each worker touches only its own replica and its own slice of the batch.
        nonisolated(unsafe) let replicas = self.replicas
        nonisolated(unsafe) let work = { (i: Int) in
            let r = ranges[i], unet = replicas[i]
            unet.store.zeroGrads()
            let v = unet.forwardVelocity(data.xt.batchSlice(r), timesteps: Array(data.timesteps[r]),
                                   context: text.tokens.batchSlice(r),
                                   mask: KeyPaddingMask(batch: r.count, keys: text.mask.keys,
                                                        attend: Array(text.mask.attend[(r.lowerBound * text.mask.keys)..<(r.upperBound * text.mask.keys)])),
                                   pooled: text.pooled.batchSlice(r))
            let (dv, loss) = sliceMSE(v, target: data.velocity.batchSlice(r), batch: b)
            unet.backwardVelocity(dv)
            sums.set(i, loss)
        }
        if w == 1 {
            work(0)
        } else {
            let savedThreads = blasThreads
            blasThreads = 1
            DispatchQueue.concurrentPerform(iterations: w) { work($0) }
            blasThreads = savedThreads
            let grads = model.unet.store.grads
            for r in replicas.dropFirst() {
                let g = r.store.grads
                for j in grads.indices { grads[j] += g[j] }
            }
        }
        optimizer.config.learningRate = learningRate(at: step)
        let norm = try optimizer.step()
        updateEMA()
        step += 1
        return DiffusionStepStats(step: step, loss: sums.total, gradNorm: norm,
                                  learningRate: optimizer.config.learningRate)
    }

    /// Runs the remaining steps, handing every step's statistics to `progress`.
    public func train(progress: (DiffusionStepStats) -> Void = { _ in }) throws {
        while step < config.steps { progress(try trainStep()) }
    }

    /// Writes the model with the EMA weights (or the raw ones without EMA) to `url`.
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        var meta = metadata
        meta["diffusion.training"] = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
        meta["diffusion.step"] = String(step)
        guard let ema else { return try model.save(to: url, metadata: meta) }
        let values = model.unet.store.values
        let raw = Array(values)
        _ = values.update(fromContentsOf: ema)
        defer { _ = values.update(fromContentsOf: raw) }
        try model.save(to: url, metadata: meta)
    }

    private func updateEMA() {
        guard let decay = config.emaDecay, ema != nil else { return }
        let d = min(decay, Float(1 + step) / Float(10 + step))
        let values = model.unet.store.values
        ema!.withUnsafeMutableBufferPointer { e in
            for i in e.indices { e[i] = d * e[i] + (1 - d) * values[i] }
        }
    }
}

/// The MSE of a slice of a batch of `batch` samples, L = Σ_slice (v̂ − v)² / (B·D), with
/// dL/dv̂; the slices' L add up to the batch's MSE.
public func sliceMSE(_ prediction: Tensor, target: Tensor, batch: Int) -> (Tensor, Float) {
    precondition(prediction.shape == target.shape, "sliceMSE: \(prediction.shape) and \(target.shape)")
    let n = Float(batch * (prediction.count / max(prediction.shape[0], 1)))
    var grad = prediction  // dL/dv̂: same shape
    var sum = 0.0
    for j in grad.data.indices {
        let r = prediction.data[j] - target.data[j]
        sum += Double(r * r)
        grad.data[j] = 2 * r / n
    }
    return (grad, Float(sum / Double(n)))
}

/// Per-worker loss sums, each worker writing its own slot.
private final class SumBox: @unchecked Sendable {
    private var values: [Float]
    private let lock = DispatchSemaphore(value: 1)
    init(count: Int) { values = Array(repeating: 0, count: count) }
    func set(_ i: Int, _ value: Float) {
        lock.wait()
        values[i] = value
        lock.signal()
    }
    var total: Float { values.reduce(0, +) }
}
