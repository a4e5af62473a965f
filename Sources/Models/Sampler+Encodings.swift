import Numerics
import World

extension Sampler {
    /// Samples one image per text encoding — any conditioning, not only a tokenized prompt's
    /// (the embedding-injection attack feeds encoding + η·concept straight to the denoiser) —
    /// guided as `config.defense` guides (its unconditional text, SLD's concept), image i from
    /// `noise[i]`, on one thread.
    public func sample(encodings c: TextEncoding, noise: [RandomGenerator]) -> [Image] {
        precondition(c.tokens.shape.first == noise.count && !noise.isEmpty,
                     "sample(encodings:): \(c.tokens.shape) for \(noise.count) generators")
        let null = model.encode([String](repeating: config.defense.unconditionalText, count: noise.count))
        let concept = config.defense.safeGuidance(steps: config.steps) == nil ? nil : model.encode([SamplingDefense.unsafeConcept])
        var rngs = noise
        let trajectory = run(model.unet, conditioning: GuidanceContext(conditional: c, unconditional: null), concept: concept,
                             noise: &rngs)
        return Latents.decode(trajectory.latents.last!)
    }
}
