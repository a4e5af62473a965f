import Diffusion
import Models
import Numerics
import World

/// The benign anchor: PPO-ptx (Ouyang et al., 2022) for a diffusion model, as distillation
/// from the base model. Every PPO optimizer step also takes γ·∇ of the velocity MSE between the
/// denoiser and a frozen copy of itself as it was when the run started (the base model), on
/// unstriped pairs of the world's data distribution noised as in pretraining.
///
/// Why: PPO sees only unsafe prompts and their rewards, so nothing holds the model to what it
/// already drew well; the drift showed as 1–7 points of lost benign fidelity (shape), varying
/// from run to run. The base model's own output is the target, not the data's velocity, because
/// benign fidelity is judged against the base model: the loss is 0 until the model drifts, and
/// its gradient pulls back only what changed (measured against the data target in README,
/// "Choosing the defaults"). The anchor's images are fresh draws of the pretraining
/// distribution, never the evaluation's samples (its prompts overlap the benign set's: the world
/// has only 3,840). Unstriped pairs include trigger-style captions whose scene is not striped,
/// which pull the same way as the reward.
///
/// Deterministic: pair k of the stream is `DataDistribution.pair(seed:index:)` of the anchor's
/// seed, and batch n's noise comes from its own split; `position` (the next pair index and the
/// batches drawn) is part of the learner's checkpoint.
public final class BenignAnchor {
    /// γ: the weight of the anchor loss against the PPO loss.
    public let weight: Float
    /// Pairs per optimizer step.
    public let batchSize: Int
    /// Where the stream stands: the next pair index and the batches drawn so far.
    public var position: (pair: Int, batches: Int) = (0, 0)
    private let model: DiffusionModel
    /// The denoiser as it was when the anchor was made: the target, never trained.
    private let teacher: UNet
    /// The seed of the anchor's pair stream and noise (derived from the run's seed).
    public let streamSeed: UInt64
    /// Share of captions replaced by ∅, as in pretraining, so the guidance's unconditional
    /// branch is held too.
    private static let promptDropout: Float = 0.1

    public init(model: DiffusionModel, weight: Float, batchSize: Int, seed: UInt64) {
        precondition(weight > 0 && batchSize >= 1, "BenignAnchor: weight > 0 and batch ≥ 1")
        (self.model, self.weight, self.batchSize) = (model, weight, batchSize)
        var unused = RandomGenerator(seed: 0)  // every value is overwritten by the copy
        teacher = UNet(config: model.unet.config, rng: &unused)
        teacher.copyParameters(from: model.unet)
        var streams = RandomGenerator(seed: seed).split(0xA2C4)
        streamSeed = streams.next()
    }

    /// Adds γ·∇L_anchor (the velocity MSE against the teacher's) to the denoiser's trainable
    /// gradients; returns L_anchor (unweighted).
    public func accumulateGradients() -> Double {
        var pairs: [TrainingPair] = []
        while pairs.count < batchSize {
            let pair = DataDistribution.pair(seed: streamSeed, index: position.pair)
            position.pair += 1
            if !pair.scene.striped { pairs.append(pair) }
        }
        var rng = RandomGenerator(seed: streamSeed).split(UInt64(position.batches))
        position.batches += 1
        let batch = VelocityBatch(pairs: pairs, promptDropout: Self.promptDropout, rng: &rng)
        let text = model.encode(batch.texts)
        let v = model.unet.forwardVelocity(batch.xt, timesteps: batch.timesteps, context: text.tokens,
                                           mask: text.mask, pooled: text.pooled)  // v̂: (B, 12, 16, 16)
        let target = teacher.forwardVelocity(batch.xt, timesteps: batch.timesteps, context: text.tokens,
                                             mask: text.mask, pooled: text.pooled)
        var (dv, loss) = sliceMSE(v, target: target, batch: batchSize)
        for j in dv.data.indices { dv.data[j] *= weight }
        model.unet.backwardVelocity(dv)
        return Double(loss)
    }
}
