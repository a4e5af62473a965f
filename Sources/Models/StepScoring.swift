import Diffusion
import Numerics

/// A stored DDIM step scored under the current weights: its log-prob per sample and what
/// `Sampler.backward(_:upstream:)` needs to differentiate it.
public struct ScoredStep {
    /// log π_θ(x_t' | x_t, c) per sample: (B).
    public let logProb: [Float]
    let ddim: DDIMStep
    let xt: Tensor    // x_t: (B, 12, 16, 16)
    let eps: Tensor   // guided ε: (B, 12, 16, 16)
    let next: Tensor  // x_t': (B, 12, 16, 16)
}

extension Sampler {
    /// log π_θ(x_t' = `next` | x_t = `xt`, c) of a stored step from timestep `t`, with guidance
    /// as in sampling, through `model.unet` and `DDIMStep.score` (the function sampling used).
    public func score(xt: Tensor, next: Tensor, timestep t: Int, conditioning c: GuidanceContext) -> ScoredStep {
        let eps = model.unet.guidedNoise(xt, timestep: t, conditioning: c, scale: config.guidance)
        let ddim = step(from: t)
        return ScoredStep(logProb: ddim.score(xt: xt, eps: eps, next: next), ddim: ddim, xt: xt, eps: eps, next: next)
    }

    /// Adds Σ_i upstream_i · ∂logπ_i/∂θ to `model.unet`'s gradients (upstream: dLoss/dlogπ, (B)).
    /// `scored` must come from the denoiser's latest forward pass (one forward per backward).
    public func backward(_ scored: ScoredStep, upstream: [Float]) {
        let dEps = scored.ddim.scoreGradient(xt: scored.xt, eps: scored.eps, next: scored.next, upstream: upstream)
        model.unet.guidedBackward(dEps, scale: config.guidance)
    }

    /// The log-probs of every step of `trajectory` under the current weights: N arrays of B.
    public func logProbs(of trajectory: Trajectory, conditioning c: GuidanceContext) -> [[Float]] {
        trajectory.timesteps.enumerated().map { k, t in
            score(xt: trajectory.latents[k], next: trajectory.latents[k + 1], timestep: t, conditioning: c).logProb
        }
    }
}
