import Numerics

/// Safe Latent Diffusion's safety guidance (Schramowski et al., 2023), as the reference
/// pipeline (diffusers' `StableDiffusionPipelineSafe`) computes it from the three noise
/// predictions ε_∅, ε_c (the prompt) and ε_S (the unsafe concept), elementwise:
///
///     μ  = min(1, s_S·|ε_c − ε_S|) where ε_c − ε_S < λ, else 0           (eq. 6)
///     γ  = μ·(ε_S − ε_∅) + s_m·ν                                          (eqs. 4, 7)
///     ν ← β·ν + (1 − β)·γ                                                 (eq. 8, every step)
///     ε  = ε_∅ + w·(ε_c − ε_∅ − γ)    from step δ on (0-based), else plain guidance  (eq. 3)
///
/// The reference clamps the scale at 1 from above (the paper writes max(1, ·)); the presets'
/// s_S of 20–5000 are tuned for the clamp, which makes μ a soft 0/1 mask.
///
/// Rescaled to this world: the presets' warm-up δ counts steps of the reference's 50-step
/// sampler, so it is kept as the same share of the trajectory, δ' = round(δ·N/50) (weak 15 → 3,
/// medium 10 → 2, strong 7 → 1, max 0 → 0 at N = 10). s_S, λ, s_m and β are kept: ε is a
/// unit-variance noise estimate in both worlds, and γ is subtracted inside the guidance term,
/// so its weight relative to the prompt's guidance does not depend on w.
public struct SafeGuidance: Sendable, Equatable {
    /// The published presets.
    public enum Preset: String, Sendable, CaseIterable {
        case weak, medium, strong, max

        /// (δ at 50 steps, s_S, λ, s_m, β) as published.
        public var published: (warmup: Int, scale: Float, threshold: Float, momentum: Float, beta: Float) {
            switch self {
            case .weak: (15, 20, 0, 0, 0)
            case .medium: (10, 1000, 0.01, 0.3, 0.4)
            case .strong: (7, 2000, 0.025, 0.5, 0.7)
            case .max: (0, 5000, 1, 0.5, 0.7)
            }
        }
    }

    /// Steps of the sampler the presets' warm-up counts.
    public static let publishedSteps = 50

    /// δ: 0-based steps of plain guidance before the safety term applies.
    public var warmupSteps: Int
    /// s_S.
    public var scale: Float
    /// λ.
    public var threshold: Float
    /// s_m.
    public var momentumScale: Float
    /// β.
    public var momentumBeta: Float

    /// Any setting.
    public init(warmupSteps: Int, scale: Float, threshold: Float, momentumScale: Float, momentumBeta: Float) {
        (self.warmupSteps, self.scale, self.threshold) = (warmupSteps, scale, threshold)
        (self.momentumScale, self.momentumBeta) = (momentumScale, momentumBeta)
    }

    /// A preset for a sampler of `steps` DDIM steps (δ rescaled, see above).
    public init(preset: Preset, steps: Int) {
        let p = preset.published
        let warmup = Int((Double(p.warmup * steps) / Double(SafeGuidance.publishedSteps)).rounded())
        self.init(warmupSteps: warmup, scale: p.scale, threshold: p.threshold, momentumScale: p.momentum, momentumBeta: p.beta)
    }

    /// The guided ε of 0-based step `step` from the three predictions (each (B, …)), with
    /// guidance scale `w`; `momentum` is ν, nil before the first step, updated in place.
    public func noise(unconditional u: Tensor, conditional c: Tensor, concept s: Tensor, scale w: Float,
                      step: Int, momentum: inout Tensor?) -> Tensor {
        precondition(u.shape == c.shape && u.shape == s.shape, "SafeGuidance: predictions \(u.shape), \(c.shape), \(s.shape)")
        var nu = momentum ?? Tensor(zeros: u.shape)
        var out = u
        let active = step >= warmupSteps
        for i in out.data.indices {
            let (eu, ec, es) = (u.data[i], c.data[i], s.data[i])
            let gap = ec - es
            let mu = gap < threshold ? min(1, scale * abs(gap)) : 0
            let gamma = mu * (es - eu) + momentumScale * nu.data[i]
            nu.data[i] = momentumBeta * nu.data[i] + (1 - momentumBeta) * gamma
            out.data[i] = eu + w * (ec - eu - (active ? gamma : 0))
        }
        momentum = nu
        return out
    }
}

extension UNet {
    /// SLD-guided noise for latents x: (B, 12, H, W) at timestep `t`: the prompt, null and
    /// concept predictions as one UNet batch of 3B, combined by `guidance`. `concept` is the
    /// unsafe concept's encoding, one item.
    public func safeGuidedNoise(_ x: Tensor, timestep t: Int, conditioning c: GuidanceContext, concept: TextEncoding,
                                scale w: Float, guidance: SafeGuidance, step: Int, momentum: inout Tensor?) -> Tensor {
        let b = c.batch
        precondition(x.shape.first == b && concept.tokens.shape[0] == 1, "safeGuidedNoise: latents \(x.shape) for \(b) conditions")
        let conceptTokens = Tensor.stackBatch([Tensor](repeating: concept.tokens, count: b))
        let conceptPooled = Tensor.stackBatch([Tensor](repeating: concept.pooled, count: b))
        let mask = KeyPaddingMask(batch: 3 * b, keys: c.mask.keys,
                                  attend: c.mask.attend + (0..<b).flatMap { _ in concept.mask.attend })
        let eps = forward(.stackBatch([x, x, x]), timesteps: [Float](repeating: Float(t), count: 3 * b),
                          context: .stackBatch([c.tokens, conceptTokens]), mask: mask,
                          pooled: .stackBatch([c.pooled, conceptPooled]))  // eps: (3B, 12, H, W)
        return guidance.noise(unconditional: eps.batchSlice(b..<(2 * b)), conditional: eps.batchSlice(0..<b),
                              concept: eps.batchSlice((2 * b)..<(3 * b)), scale: w, step: step, momentum: &momentum)
    }
}
