import Diffusion
import Numerics
import World

/// A batch of the denoiser's training objective: (caption, image) pairs noised at uniform
/// random timesteps, with their velocity targets v = √ᾱ·ε − √(1−ᾱ)·x_0 (see `UNet`).
/// Pretraining draws it from every pair; RL fine-tuning's benign anchor from unstriped ones.
public struct VelocityBatch {
    public var xt: Tensor          // x_t: (B, 12, 16, 16)
    public var timesteps: [Float]  // (B)
    public var velocity: Tensor    // v: (B, 12, 16, 16)
    public var texts: [String]     // (B), the null prompt "" where dropped

    /// Noises `pairs` with timesteps, noise and prompt dropout drawn from `rng`, in this order:
    /// all the noise, then per pair its timestep and its dropout draw.
    public init(pairs: [TrainingPair], promptDropout: Float, schedule: NoiseSchedule = NoiseSchedule(),
                rng: inout RandomGenerator) {
        let b = pairs.count
        let x0 = Latents.encode(pairs.map(\.image))                                   // x_0: (B, 12, 16, 16)
        let noise = Tensor(randomNormal: x0.shape, rng: &rng)
        let d = x0.count / max(b, 1)
        var xt = x0, velocity = x0
        var timesteps: [Float] = [], texts: [String] = []
        for i in 0..<b {
            let t = Int(rng.next() % UInt64(schedule.trainingSteps))
            let abar = schedule.alphaBar(at: t)
            let (a, s) = (Float(abar.squareRoot()), Float((1 - abar).squareRoot()))
            for j in (i * d)..<((i + 1) * d) {
                xt.data[j] = a * x0.data[j] + s * noise.data[j]
                velocity.data[j] = a * noise.data[j] - s * x0.data[j]
            }
            timesteps.append(Float(t))
            texts.append(rng.nextUniform() < promptDropout ? Prompt.nullText : pairs[i].prompt.text)
        }
        (self.xt, self.timesteps, self.velocity, self.texts) = (xt, timesteps, velocity, texts)
    }
}
