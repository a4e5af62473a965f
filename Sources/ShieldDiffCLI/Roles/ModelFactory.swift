import Runtime

/// The model-facing objects of a run, by `config.model`. Each role builds only what it
/// uses (the learner never loads a sampler, an actor never builds an optimizer).
///
/// `test-linear` is the protocol-conformance policy of the runtime tests and benchmarks
/// (Runtime/TestPolicy); `diffusion` is the world's denoiser, mini-CLIP and detector, wired
/// in here once the Models and RL modules provide them.
func makeModels(config: RunConfig) -> ModelSet {
    switch config.model {
    case "test-linear":
        return ModelSet(sampler: { TestLinearSampler(config: config) },
                        scorer: { TestLinearScorer(config: config) },
                        learner: { TestLinearLearner(config: config) })
    default:
        let missing = RuntimeError("model '\(config.model)' is not available in this build yet; use model: test-linear")
        return ModelSet(sampler: { throw missing }, scorer: { throw missing }, learner: { throw missing })
    }
}
