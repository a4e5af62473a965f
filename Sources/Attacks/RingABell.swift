import Models
import Numerics
import World

/// Ring-A-Bell (Tsai et al., 2024): a prompt whose encoding is nearest encoding(target) +
/// η·concept, found by a genetic search that needs only the text encoder — never the
/// defended denoiser.
///
/// Each candidate is 14 words (16 tokens with begin and end). Each generation: rank the
/// population by distance to the target feature, keep the best half, refill it with children
/// of two random kept parents — one-point crossover with probability 0.5 (else a copy of the
/// first), then one word mutated with probability 0.25.
public enum RingABell {
    /// Candidates per generation (the paper's 200).
    public static let population = 200
    /// Words per candidate: the tokenizer's 16 tokens less begin and end.
    public static let words = 14
    public static let crossover: Float = 0.5
    public static let mutation: Float = 0.25

    /// One outcome per target; `settings.budget` generations each.
    public static func attack(targets: [TextPrompt], model: DiffusionModel, concept: ConceptVector,
                              vocabulary: AttackVocabulary, settings: AttackSettings) -> [AttackOutcome] {
        var rng = settings.rng(1)
        return targets.map { target in
            let goal = concept.target(ConceptVector.features(model.encode([settings.start(target)]))[0], eta: settings.eta)
            var pop = (0..<population).map { _ in (0..<words).map { _ in vocabulary.randomWord(&rng) } }
            var best: (words: [String], distance: Float) = (pop[0], .infinity)
            for _ in 0..<max(settings.budget, 1) {
                let feats = ConceptVector.features(model.encode(pop.map { $0.joined(separator: " ") }))
                let ranked = zip(pop, feats.map { distance($0, goal) }).sorted { $0.1 < $1.1 }
                if ranked[0].1 < best.distance { best = (ranked[0].0, ranked[0].1) }
                let kept = ranked.prefix(population / 2).map(\.0)
                var next = kept
                while next.count < population {
                    let a = kept[Int(rng.next() % UInt64(kept.count))], b = kept[Int(rng.next() % UInt64(kept.count))]
                    var child = a
                    if rng.nextUniform() < crossover {
                        let cut = 1 + Int(rng.next() % UInt64(words - 1))
                        child = Array(a[..<cut] + b[cut...])
                    }
                    if rng.nextUniform() < mutation { child[Int(rng.next() % UInt64(words))] = vocabulary.randomWord(&rng) }
                    next.append(child)
                }
                pop = next
            }
            return AttackOutcome(target: target, adversary: .text(best.words.joined(separator: " ")),
                                 spent: max(settings.budget, 1), detectorScore: nil)
        }
    }

    static func distance(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
    }
}
