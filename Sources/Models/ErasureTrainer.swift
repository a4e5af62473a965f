import Diffusion
import Foundation
import Numerics

/// How ESD fine-tunes; defaults are the measured baseline (README: Baselines).
public struct ErasureConfig: Codable, Sendable, Equatable {
    /// Which parameters train: ESD-x (the cross-attention projections only) or the whole denoiser.
    public enum Variant: String, Codable, Sendable, CaseIterable {
        case xattn, full
    }

    public var variant = Variant.xattn
    /// The erased concept's text c_unsafe.
    public var concept = SamplingDefense.unsafeConcept
    /// Optimizer steps.
    public var iterations = 200
    /// x_t drawn per step.
    public var batchSize = 8
    /// Adam learning rate (no weight decay, as ESD).
    public var learningRate: Float = 1e-4
    /// η of the target: ε*(∅) − η·(ε*(c) − ε*(∅)).
    public var negativeGuidance: Float = 1
    /// Guidance scale of the sampling that draws x_t (ESD's start_guidance).
    public var startGuidance: Float = 3
    /// DDIM steps of that sampling (the shipped sampler's N); x_t is its state after a uniform
    /// number 0..<N of steps, at that step's timestep.
    public var steps = SamplerConfig().steps
    /// Seeds the steps' noise and step counts.
    public var seed: UInt64 = 0

    public init() {}
}

/// Erased Stable Diffusion (Gandikota et al., 2023): fine-tunes the denoiser so that its
/// prediction for the concept, ε_θ(x_t, c), matches the frozen base model's negatively guided
/// ε*(x_t, ∅) − η·(ε*(x_t, c) − ε*(x_t, ∅)), where x_t comes from the model's own sampling
/// (being trained) with the concept's prompt. Loss: the mean squared error over all elements.
///
/// One deviation from the reference script: its x_t after k of N DDIM steps is scored at a
/// timestep drawn from the k-th *ascending* stride (a known index mismatch); here it is
/// scored at the timestep it is at.
public final class ErasureTrainer {
    public let config: ErasureConfig
    /// The model being edited, in place.
    public let model: DiffusionModel
    public private(set) var step = 0
    private let frozen: UNet
    private let optimizer: AdamW
    private let trainable: [Bool]  // (P): whether each value of model.unet.store trains
    private let conceptText: TextEncoding
    private let nullText: TextEncoding
    private let schedule = NoiseSchedule()

    public init(model: DiffusionModel, config: ErasureConfig = ErasureConfig()) {
        precondition(config.iterations > 0 && config.batchSize > 0 && config.steps >= 1, "ErasureConfig: iterations, batch and steps must be positive")
        self.config = config
        self.model = model
        var rng = RandomGenerator(seed: 0)  // every value is overwritten by the copy
        frozen = UNet(config: model.unet.config, rng: &rng)
        frozen.copyParameters(from: model.unet)
        let store = model.unet.store
        var mask = [Bool](repeating: config.variant == .full, count: store.count)
        if config.variant == .xattn {
            for p in store.parameters where ErasureTrainer.isCrossAttention(p.name) {
                for i in p.offset..<(p.offset + p.count) { mask[i] = true }
            }
        }
        trainable = mask
        optimizer = AdamW(store, config: .init(learningRate: config.learningRate, weightDecay: 0))
        conceptText = model.encode([config.concept])
        nullText = model.encode([""])
    }

    /// ESD-x's parameters: the projections of the three cross-attention blocks (not their norms).
    public static func isCrossAttention(_ name: String) -> Bool {
        name.contains(".cross.attn.")
    }

    /// x_t and its timestep for `b` images: the trained model's sampling of the concept, stopped
    /// after `k` steps.
    func draw(count b: Int, stepsDone k: Int, rng: inout RandomGenerator) -> (x: Tensor, t: Int) {
        let timesteps = schedule.samplingTimesteps(config.steps)
        let c = GuidanceContext(conditional: repeated(conceptText, b), unconditional: repeated(nullText, b))
        var x = Tensor(randomNormal: [b, 12, model.unet.config.side, model.unet.config.side], rng: &rng)
        for t in timesteps.prefix(k) {
            let eps = model.unet.guidedNoise(x, timestep: t, conditioning: c, scale: config.startGuidance)
            let ddim = DDIMStep(schedule: schedule, t: t, tPrev: schedule.previousTimestep(t, steps: config.steps), eta: 1)
            x = ddim.sample(xt: x, eps: eps, rng: &rng).next
        }
        return (x, timesteps[k])
    }

    /// The frozen model's target ε*(∅) − η·(ε*(c) − ε*(∅)) at (x, t).
    func target(_ x: Tensor, timestep t: Int) -> Tensor {
        let b = x.shape[0]
        let c = GuidanceContext(conditional: repeated(conceptText, b), unconditional: repeated(nullText, b))
        // Guidance with scale −η: ε∅ + (−η)(εc − ε∅).
        return frozen.guidedNoise(x, timestep: t, conditioning: c, scale: -config.negativeGuidance)
    }

    /// The ESD loss of the trained model at (x, t) against `target`, and when `backward` its
    /// gradient added to the store.
    public func loss(_ x: Tensor, timestep t: Int, target: Tensor, backward: Bool) -> Float {
        let b = x.shape[0]
        let c = repeated(conceptText, b)
        let eps = model.unet.forward(x, timesteps: [Float](repeating: Float(t), count: b), context: c.tokens,
                                     mask: c.mask, pooled: c.pooled)
        let (grad, loss) = sliceMSE(eps, target: target, batch: b)
        if backward { model.unet.backward(grad) }
        return loss
    }

    /// One Adam step; returns the loss before it.
    @discardableResult
    public func trainStep() throws -> Float {
        var rng = RandomGenerator(seed: config.seed).split(UInt64(step))
        let k = Int(rng.next() % UInt64(config.steps))
        let (x, t) = draw(count: config.batchSize, stepsDone: k, rng: &rng)
        let goal = target(x, timestep: t)
        let store = model.unet.store
        store.zeroGrads()
        let value = loss(x, timestep: t, target: goal, backward: true)
        let grads = store.grads
        for i in grads.indices where !trainable[i] { grads[i] = 0 }
        _ = try optimizer.step()
        step += 1
        return value
    }

    /// Runs every remaining step, handing each step's number and loss to `progress`.
    public func train(progress: (Int, Float) -> Void = { _, _ in }) throws {
        while step < config.iterations {
            let l = try trainStep()
            progress(step, l)
        }
    }

    /// The mean ESD loss over `batches` fresh draws of `seed` (the "striped ε gap" the training
    /// closes): how far ε_θ(x_t, c) still is from the erased target.
    public func gap(seed: UInt64, batches: Int = 4) -> Float {
        var total: Float = 0
        for i in 0..<batches {
            var rng = RandomGenerator(seed: seed).split(0xE5D).split(UInt64(i))
            let k = Int(rng.next() % UInt64(config.steps))
            let (x, t) = draw(count: config.batchSize, stepsDone: k, rng: &rng)
            total += loss(x, timestep: t, target: target(x, timestep: t), backward: false)
        }
        return total / Float(batches)
    }
}

/// One encoding repeated as a batch of `b` items.
private func repeated(_ e: TextEncoding, _ b: Int) -> TextEncoding {
    TextEncoding(tokens: .stackBatch([Tensor](repeating: e.tokens, count: b)),
                 mask: KeyPaddingMask(batch: b, keys: e.mask.keys, attend: (0..<b).flatMap { _ in e.mask.attend }),
                 pooled: .stackBatch([Tensor](repeating: e.pooled, count: b)))
}
