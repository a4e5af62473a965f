import Numerics

/// A sampled batch's denoising path: what the one DDIM sampling loop returns.
public struct DDIMPath: Sendable {
    /// x_{t_N}, x_{t_{N−1}}, …, x_{t_0}: N + 1 latents, each (B, C, H, W).
    public var latents: [Tensor]
    /// t_N > … > t_1: the timestep each step starts from (step k goes latents[k] → latents[k+1]).
    public var timesteps: [Int]
    /// log π(latents[k+1] | latents[k], c) per step and row: N arrays of B (empty for η = 0).
    public var logProbs: [[Float]]
}

/// The one guided DDIM sampling loop, shared by `Models.Sampler` (sample, eval, compare) and
/// `RL.DDPOSampler` (actors): N steps of `DDIMStep` from x_{t_N}, guided noise from `noise`
/// (the caller's classifier-free guidance at a timestep for the whole batch). Row r's step
/// noise comes from `rngs[r]`, so a row never depends on its batch-mates.
public func sampleDDIM(from x: Tensor, schedule: NoiseSchedule, steps: Int, eta: Double,
                       rngs: inout [RandomGenerator], noise: (Tensor, Int) -> Tensor) -> DDIMPath {
    precondition(x.rank >= 1 && rngs.count == x.shape[0], "sampleDDIM: \(rngs.count) generators for latents \(x.shape)")
    var path = DDIMPath(latents: [x], timesteps: schedule.samplingTimesteps(steps), logProbs: [])
    var x = x
    for t in path.timesteps {
        let eps = noise(x, t)
        let step = DDIMStep(schedule: schedule, t: t, tPrev: schedule.previousTimestep(t, steps: steps), eta: eta)
        let out = step.sample(xt: x, eps: eps, rngs: &rngs)
        x = out.next
        path.latents.append(x)
        if let lp = out.logProb { path.logProbs.append(lp) }
    }
    return path
}

extension DDIMStep {
    /// `sample` for a batch whose row r draws its noise z from `rngs[r]`: the same values as
    /// sampling each row alone with its generator, without splitting the batch into copies.
    public func sample(xt: Tensor, eps: Tensor, rngs: inout [RandomGenerator]) -> Output {
        var next = mean(xt: xt, eps: eps)
        guard sigma > 0 else { return Output(next: next, logProb: nil) }
        let batch = xt.shape[0], d = xt.count / batch
        precondition(rngs.count == batch, "DDIMStep.sample: \(rngs.count) generators for \(batch) rows")
        let mu = next
        let s = Float(sigma)
        for r in 0..<batch {
            for i in (r * d)..<((r + 1) * d) { next.data[i] += s * rngs[r].nextGaussian() }
        }
        return Output(next: next, logProb: logProb(of: next, mean: mu))
    }
}
