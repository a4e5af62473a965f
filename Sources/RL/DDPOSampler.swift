import Diffusion
import Numerics

/// Samples DDPO trajectories: N guided DDIM steps with η > 0 from Gaussian noise, recording
/// every latent and each step's log-prob. Each trajectory's initial noise and step noises
/// come from its own seed, so a trajectory does not depend on what it was batched with.
public struct DDPOSampler {
    /// The guided denoiser (the same `GuidedNoise` path the learner scores with).
    public let guided: GuidedNoise
    /// The noise schedule.
    public let schedule: NoiseSchedule
    /// N: DDIM steps.
    public let steps: Int
    /// DDIM η (> 0).
    public let eta: Double
    /// (C, H, W) of one latent.
    public let latentShape: [Int]

    public init(guided: GuidedNoise, schedule: NoiseSchedule, steps: Int, eta: Double, latentShape: [Int]) {
        precondition(eta > 0, "DDPOSampler: η must be > 0 for log-probs, got \(eta)")
        (self.guided, self.schedule, self.steps, self.eta, self.latentShape) = (guided, schedule, steps, eta, latentShape)
    }

    /// One trajectory per row of `conditioning` (B rows; `prompts` and `seeds` have B
    /// entries), all steps batched. `reward` maps the final latents (B, C, H, W) to B rewards.
    public func sample(prompts: [String], conditioning: Conditioning, seeds: [UInt64],
                       reward: (Tensor) -> [Float]) -> [DDPOTrajectory] {
        let b = conditioning.batch, d = latentShape.reduce(1, *)
        precondition(prompts.count == b && seeds.count == b, "DDPOSampler: \(prompts.count) prompts, \(seeds.count) seeds for \(b) rows")
        var rngs = seeds.map { RandomGenerator(seed: $0) }
        var x = Tensor(zeros: [b] + latentShape)  // x_t: (B, C, H, W)
        for r in 0..<b {
            x.data.replaceSubrange((r * d)..<((r + 1) * d), with: Tensor(randomNormal: [d], rng: &rngs[r]).data)
        }
        // The one sampling loop (Diffusion.sampleDDIM), guided through the learner's GuidedNoise.
        let path = sampleDDIM(from: x, schedule: schedule, steps: steps, eta: eta, rngs: &rngs) { x, t in
            guided.forward(x, timesteps: Array(repeating: t, count: b), conditioning: conditioning)
        }
        let rewards = reward(path.latents.last!)
        precondition(rewards.count == b, "DDPOSampler: reward gave \(rewards.count) values for \(b) samples")
        return (0..<b).map { r in
            DDPOTrajectory(prompt: prompts[r], conditioning: conditioning.row(r), timesteps: path.timesteps,
                           latents: Tensor(shape: [steps + 1, d], data: path.latents.flatMap { $0.data[(r * d)..<((r + 1) * d)] }),
                           logProbs: path.logProbs.map { $0[r] }, reward: rewards[r])
        }
    }
}
