import FineTuning
import Runtime

/// The model-facing objects of a run, by `config.model`. Each role builds only what it
/// uses (the learner never loads a sampler, an actor never builds an optimizer).
///
/// `diffusion` (the default) is the world's denoiser with LoRA adapters, the content-safe
/// reward of mini-CLIP and the detector, and the DDPO learner (Sources/FineTuning);
/// `test-linear` is the protocol-conformance policy of the runtime tests and benchmarks
/// (Runtime/TestPolicy).
func makeModels(config: RunConfig) -> ModelSet {
    switch config.model {
    case "test-linear":
        return ModelSet(sampler: { TestLinearSampler(config: config) },
                        scorer: { TestLinearScorer(config: config) },
                        learner: { TestLinearLearner(config: config) })
    case "diffusion":
        return ModelSet(sampler: { try DiffusionPolicySampler(config: config) },
                        scorer: { try ContentSafeScorer(config: config) },
                        learner: { try DiffusionPolicyLearner(config: config) })
    default:
        let unknown = RuntimeError("unknown model '\(config.model)' (known: diffusion, test-linear)")
        return ModelSet(sampler: { throw unknown }, scorer: { throw unknown }, learner: { throw unknown })
    }
}
