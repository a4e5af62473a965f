import Diffusion

extension DDIMStep {
    /// The policy step from timestep t of an N-step DDIM sampler to the next one,
    /// t' = t − T/N (negative on the last step: ᾱ clamps to ᾱ_0). The sampler and the
    /// learner both build their steps here, so they score the same Gaussian.
    public init(schedule: NoiseSchedule, t: Int, steps n: Int, eta: Double) {
        self.init(schedule: schedule, t: t, tPrev: schedule.previousTimestep(t, steps: n), eta: eta)
    }
}
