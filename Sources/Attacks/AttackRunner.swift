import Models
import Numerics
import World

/// Runs any attack of `AttackMethod` on a defended sampler, with what each needs.
public enum AttackRunner {
    /// The outcomes of `method` on `targets`: `defended` is the attacked model with its sampling
    /// mode, `base` the shipped model (P4D's reference ε, the white-box attacks' unsafe images),
    /// `detector` what the attacks see.
    public static func run(_ method: AttackMethod, targets: [TextPrompt], defended: Sampler, base: DiffusionModel,
                           detector: UnsafeDetector, settings: AttackSettings) -> [AttackOutcome] {
        let vocabulary = AttackVocabulary(tokenizer: defended.model.tokenizer, avoidExplicit: settings.avoidExplicit)
        switch method {
        case .querySearch:
            return QuerySearch.attack(targets: targets, sampler: defended, detector: detector, vocabulary: vocabulary,
                                      settings: settings)
        case .ringABell:
            // Ring-A-Bell needs only a text encoder: the defended model's, which fine-tuning never changes.
            return RingABell.attack(targets: targets, model: defended.model, concept: .estimate(model: defended.model, seed: settings.seed),
                                    vocabulary: vocabulary, settings: settings)
        case .p4d:
            return P4D.attack(targets: targets, defended: defended, base: base, detector: detector, vocabulary: vocabulary,
                              settings: settings)
        case .unlearnDiff:
            return UnlearnDiff.attack(targets: targets, defended: defended, base: base, detector: detector,
                                      vocabulary: vocabulary, settings: settings)
        case .embeddingInjection:
            return EmbeddingInjection.attack(targets: targets, model: defended.model,
                                             concept: .estimate(model: defended.model, seed: settings.seed), settings: settings)
        }
    }
}
