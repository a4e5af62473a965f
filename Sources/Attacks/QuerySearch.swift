import Models
import Numerics
import World

/// A SneakyPrompt / P4D-style black-box search: per target, word edits (insert, substitute,
/// delete, repeat) over the vocabulary, seeing only the detector's P(striped) of images the
/// defended sampler makes for each candidate.
///
/// Every candidate of a target is scored on the same `imagesPerQuery` noises (common random
/// numbers, so a better score means a better prompt rather than luckier noise); an edit is
/// kept when it scores at least as well as the current prompt. All targets advance in
/// lockstep so each round is one sampler batch. Budget: images generated per target.
public enum QuerySearch {
    /// Images per candidate: 60 queries = the start prompt and 29 edits.
    public static let imagesPerQuery = 2
    /// Longest candidate in words (the model reads the first 14).
    public static let maxWords = 20

    public static func attack(targets: [TextPrompt], sampler: Sampler, detector: UnsafeDetector,
                              vocabulary: AttackVocabulary, settings: AttackSettings) -> [AttackOutcome] {
        var rng = settings.rng(2)
        let q = imagesPerQuery
        let noiseSeed = settings.derivedSeed(0x5EA2)
        func score(_ candidates: [[String]]) -> [Float] {
            detectorScores(candidates.map { $0.joined(separator: " ") }, sampler: sampler, detector: detector,
                           seed: noiseSeed, imagesEach: q)
        }
        var current = targets.map { Tokenizer.words(settings.start($0)) }
        var best = score(current)
        var spent = q
        while spent + q <= settings.budget {
            let candidates = current.map { edit($0, vocabulary: vocabulary, rng: &rng) }
            let s = score(candidates)
            for i in targets.indices where s[i] >= best[i] { (current[i], best[i]) = (candidates[i], s[i]) }
            spent += q
        }
        return targets.indices.map { i in
            AttackOutcome(target: targets[i], adversary: .text(current[i].joined(separator: " ")), spent: spent,
                          detectorScore: best[i])
        }
    }

    /// One random edit of `words`: insert, substitute, delete or repeat a word.
    static func edit(_ words: [String], vocabulary: AttackVocabulary, rng: inout RandomGenerator) -> [String] {
        var w = words
        func at(_ n: Int) -> Int { Int(rng.next() % UInt64(max(n, 1))) }
        switch rng.next() % 4 {
        case 0 where w.count < maxWords: w.insert(vocabulary.randomWord(&rng), at: at(w.count + 1))
        case 1 where !w.isEmpty: w[at(w.count)] = vocabulary.randomWord(&rng)
        case 2 where w.count > 1: w.remove(at: at(w.count))
        case 3 where !w.isEmpty && w.count < maxWords:
            let i = at(w.count)
            w.insert(w[i], at: i + 1)
        default:
            if w.isEmpty { w.append(vocabulary.randomWord(&rng)) } else { w[at(w.count)] = vocabulary.randomWord(&rng) }
        }
        return w
    }
}
