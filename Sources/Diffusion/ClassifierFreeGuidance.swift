import Numerics

/// Classifier-free guidance: ε = ε(x, ∅) + w·(ε(x, c) − ε(x, ∅)).
public func guidedNoise(unconditional: Tensor, conditional: Tensor, scale w: Float) -> Tensor {
    precondition(unconditional.shape == conditional.shape, "guidance inputs differ in shape")
    var out = unconditional
    for i in out.data.indices { out.data[i] += w * (conditional.data[i] - unconditional.data[i]) }
    return out
}

/// Classifier-free guidance run as one denoiser batch of 2B rows: the B latents twice, the
/// prompts' rows first and the null prompt's rows after, so both halves share one pass. Every
/// guided sampler and learner (`Models.UNet.guidedNoise`, `RL.GuidedNoise`) batches through here.
public enum GuidancePair {
    /// The denoiser's input, (2B, …): the latents x: (B, …) twice.
    public static func input(_ x: Tensor) -> Tensor {
        Tensor(shape: [2 * x.shape[0]] + x.shape.dropFirst(), data: x.data + x.data)
    }

    /// Guided ε: (B, …) from the denoiser's output on the pair, (2B, …).
    public static func noise(_ pair: Tensor, scale w: Float) -> Tensor {
        precondition(pair.rank >= 1 && pair.shape[0] % 2 == 0, "GuidancePair.noise: \(pair.shape) is not a pair of batches")
        let shape = [pair.shape[0] / 2] + pair.shape.dropFirst(), half = pair.count / 2
        return guidedNoise(unconditional: Tensor(shape: shape, data: Array(pair.data[half...])),
                           conditional: Tensor(shape: shape, data: Array(pair.data[..<half])), scale: w)
    }

    /// dL/d(the pair's output), (2B, …), from dL/dε: (B, …): w·dε on the prompts' rows and
    /// (1 − w)·dε on the null rows.
    public static func gradient(_ dEps: Tensor, scale w: Float) -> Tensor {
        let half = dEps.count
        var pair = Tensor(shape: [2 * dEps.shape[0]] + dEps.shape.dropFirst(), data: dEps.data + dEps.data)
        for i in 0..<half {
            pair.data[i] *= w
            pair.data[half + i] *= 1 - w
        }
        return pair
    }
}
