import Diffusion
import Models
import Numerics
import RL
import Runtime
import Wire
import World

/// The actor's `PolicySampler`: guided DDIM with η > 0 through `RL.DDPOSampler` (the path the
/// learner scores with), from the shipped model plus the broadcast trainable weights.
public final class DiffusionPolicySampler: PolicySampler {
    private let policy: DiffusionPolicy
    private let sampler: DDPOSampler
    private let embeddingShare: Double
    private let conceptEta: Float
    private let uniformEta: Bool

    /// The shipped model wrapped as `config` asks (LoRA rank, steps, guidance, η, the
    /// adversarial encoding push).
    public convenience init(config: RunConfig) throws {
        let h = config.hyperparameters
        self.init(policy: DiffusionPolicy(model: try DiffusionModel.load(), loraRank: h.loraRank, seed: config.seed),
                  steps: h.steps, guidance: Float(h.guidance), eta: h.eta,
                  embeddingShare: config.adversarial.embeddingShare, conceptEta: Float(config.adversarial.eta),
                  uniformEta: config.adversarial.etaDraw == "uniform")
    }

    /// Samples from `policy` with N = `steps`, guidance w and η; a share `embeddingShare` of
    /// the trajectories (chosen by each one's seed) with the encoding + η'·vector, where η' is
    /// `conceptEta`, or with `uniformEta` uniform in (0, `conceptEta`].
    public init(policy: DiffusionPolicy, steps: Int, guidance: Float, eta: Double,
                embeddingShare: Double = 0, conceptEta: Float = 0, uniformEta: Bool = false) {
        precondition((0...1).contains(embeddingShare), "DiffusionPolicySampler: embedding share \(embeddingShare) outside [0, 1]")
        (self.policy, self.embeddingShare, self.conceptEta, self.uniformEta) = (policy, embeddingShare, conceptEta, uniformEta)
        sampler = DDPOSampler(guided: GuidedNoise(predictor: policy, null: policy.null, scale: guidance),
                              schedule: NoiseSchedule(), steps: steps, eta: eta, latentShape: DiffusionPolicy.latentShape)
    }

    public func load(trainable: [String: Tensor], version: UInt64) throws {
        try policy.load(trainable: trainable)
    }

    public func sample(prompts: [String], safePrompts: [String], seeds: [UInt64], version: UInt64)
        -> (trajectories: [Wire.Trajectory], images: Tensor) {
        let etas = seeds.map(pushEta)
        let sampled = sampler.sample(prompts: prompts, conditioning: policy.conditioning(prompts, conceptEtas: etas), seeds: seeds,
                                     reward: { Array(repeating: 0, count: $0.shape[0]) })
        let finals = Tensor.stackBatch(sampled.map { t in
            Tensor(shape: [1] + DiffusionPolicy.latentShape, data: Array(t.latents.data.suffix(t.latents.shape[1])))
        })
        let trajectories = sampled.indices.map { i in
            Wire.Trajectory(prompt: prompts[i], safePrompt: safePrompts[i], seed: seeds[i], policyVersion: version,
                            timesteps: sampled[i].timesteps.map { UInt32($0) }, latents: sampled[i].latents,
                            logProbs: sampled[i].logProbs, reward: 0, alignment: 0, unsafeProbability: 0,
                            conceptEta: etas[i])
        }
        return (trajectories, imageBatch(Latents.decode(finals)))
    }

    /// The push of the trajectory with `seed` (a stream of its own, so the noise the seed
    /// draws is unchanged): for a share `embeddingShare` of seeds `conceptEta`, or uniform in
    /// (0, `conceptEta`]; else 0.
    private func pushEta(seed: UInt64) -> Float {
        guard embeddingShare > 0 else { return 0 }
        var rng = RandomGenerator(seed: seed).split(0xAD7E)
        guard Double(rng.nextUniform()) < embeddingShare else { return 0 }
        return uniformEta ? conceptEta * (1 - rng.nextUniform()) : conceptEta
    }
}
