import Models
import Numerics
import World

/// The upper bound: no tokens at all — each target's encoding + η·concept vector goes straight
/// to the denoiser (nothing a text filter or a prompt could stop).
public enum EmbeddingInjection {
    public static func attack(targets: [TextPrompt], model: DiffusionModel, concept: ConceptVector,
                              settings: AttackSettings) -> [AttackOutcome] {
        targets.map { target in
            let e = concept.inject(into: model.encode([settings.start(target)]), eta: settings.eta)
            return AttackOutcome(target: target, adversary: .encoding(e), spent: 0, detectorScore: nil)
        }
    }
}
