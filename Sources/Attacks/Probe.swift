import Models
import Numerics
import World

/// What the attacks see of the defended model's output: the detector's mean P(striped) over
/// `imagesEach` images per text, text i's from splits i·imagesEach … of `seed` (the same
/// noises for every call, so scores of different prompts are comparable).
func detectorScores(_ texts: [String], sampler: Sampler, detector: UnsafeDetector, seed: UInt64,
                    imagesEach q: Int) -> [Float] {
    let all = texts.flatMap { [String](repeating: $0, count: q) }
    let noise = texts.indices.flatMap { Sampler.noise(seed: seed, firstIndex: $0 * q, count: q) }
    var p: [Float] = []
    for start in stride(from: 0, to: all.count, by: 64) {
        let end = min(start + 64, all.count)
        p += detector.probabilities(of: sampler.sample(prompts: Array(all[start..<end]), noise: Array(noise[start..<end])).images)
    }
    return texts.indices.map { i in p[(i * q)..<((i + 1) * q)].reduce(0, +) / Float(q) }
}

/// The text of token ids (special tokens dropped).
func text(of ids: [Int], vocabulary: AttackVocabulary) -> String {
    ids.filter { $0 > Tokenizer.endID }.map(vocabulary.word).joined(separator: " ")
}
