import Models
import Numerics
import World

/// P4D (Chin et al., 2024), white box: continuous token embeddings optimised so that the
/// defended model's ε̂ on noised unsafe images matches the base model's ε̂ for the unsafe
/// prompt, projected to the nearest tokens every step (the forward pass reads the projected
/// tokens; the gradient updates the continuous ones, PEZ's straight-through step). Every
/// `probeEvery` steps the projected prompt's images (defended sampler) are scored by the
/// detector; the most unsafe prompt is kept.
///
/// The prompt keeps the target's token count; its word slots start at the target's words.
/// The unsafe images are the base model's samples of the target prompt.
public enum P4D {
    /// Noised images per target in each step.
    public static let samplesPerStep = 2
    /// Base-model images of each target to noise.
    public static let targetImages = 2
    public static let probeEvery = 10
    public static let probeImages = 2

    public static func attack(targets: [TextPrompt], defended: Sampler, base: DiffusionModel, detector: UnsafeDetector,
                              vocabulary: AttackVocabulary, settings: AttackSettings) -> [AttackOutcome] {
        let objective = ConditioningObjective(model: defended.model)
        let table = defended.model.textEncoder.tokenTable
        let d = table.shape[1]
        var rng = settings.rng(3)
        let probeSeed = settings.derivedSeed(0x9AD4)
        let tokenized = targets.map { defended.model.tokenizer.encode(settings.start($0)) }
        let lengths = tokenized.map(\.length)
        var ids = tokenized.map(\.ids)
        // Continuous embeddings of the word slots 1 ..< length − 1, flat per target.
        var continuous = ids.indices.map { i in (1..<(lengths[i] - 1)).flatMap { k in rowOf(table, ids[i][k]) } }
        let rms = (table.data.reduce(0) { $0 + $1 * $1 } / Float(table.count)).squareRoot()
        var adams = continuous.map { Adam(count: $0.count, lr: 0.1 * rms) }
        let baseSampler = Sampler(model: base, config: defended.config, workers: defended.workers)
        let x0 = Latents.encode(baseSampler.sample(prompts: targets.flatMap { [String](repeating: $0.text, count: targetImages) },
                                                   seed: probeSeed ^ 0xB45E).images)
        let baseContext = base.encode(targets.flatMap { [String](repeating: $0.text, count: samplesPerStep) })
        var best = [(text: String, score: Float)](repeating: ("", -1), count: targets.count)
        for step in 0..<max(settings.budget, 1) {
            for i in ids.indices {
                for k in 1..<(lengths[i] - 1) {
                    ids[i][k] = nearest(Array(continuous[i][((k - 1) * d)..<(k * d)]), table: table, allowed: vocabulary.ids)
                }
            }
            let picks = targets.indices.flatMap { i in (0..<samplesPerStep).map { _ in i * targetImages + Int(rng.next() % UInt64(targetImages)) } }
            let (xt, _, ts) = objective.noised(picks.map { x0.batchSlice($0..<($0 + 1)) }, rng: &rng)
            let goal = base.unet.forward(xt, timesteps: ts.map(Float.init), context: baseContext.tokens,
                                         mask: baseContext.mask, pooled: baseContext.pooled)
            let rows = targets.indices.flatMap { i in [[Int]](repeating: ids[i], count: samplesPerStep) }
            let (_, g) = objective.matchLoss(embeddings: objective.embed(rows),
                                             lengths: targets.indices.flatMap { [Int](repeating: lengths[$0], count: samplesPerStep) },
                                             xt: xt, timesteps: ts, target: goal)
            let t = ids[0].count
            for i in targets.indices {
                var grad = [Float](repeating: 0, count: continuous[i].count)
                for s in 0..<samplesPerStep {
                    let item = i * samplesPerStep + s
                    for k in 1..<(lengths[i] - 1) {
                        for c in 0..<d { grad[(k - 1) * d + c] += g.data[(item * t + k) * d + c] }
                    }
                }
                adams[i].step(&continuous[i], grad)
            }
            if (step + 1) % probeEvery == 0 || step == settings.budget - 1 {
                let texts = ids.map { text(of: $0, vocabulary: vocabulary) }
                let scores = detectorScores(texts, sampler: defended, detector: detector, seed: probeSeed, imagesEach: probeImages)
                for i in targets.indices where scores[i] > best[i].score { best[i] = (texts[i], scores[i]) }
            }
        }
        return targets.indices.map { i in
            AttackOutcome(target: targets[i], adversary: .text(best[i].text), spent: max(settings.budget, 1),
                          detectorScore: best[i].score)
        }
    }

    static func rowOf(_ table: Tensor, _ id: Int) -> [Float] {
        let d = table.shape[1]
        return Array(table.data[(id * d)..<((id + 1) * d)])
    }

    /// The allowed token id whose table row is nearest `v` (Euclidean).
    static func nearest(_ v: [Float], table: Tensor, allowed: [Int]) -> Int {
        let d = table.shape[1]
        var (bestID, bestDistance) = (allowed[0], Float.infinity)
        for id in allowed {
            var s: Float = 0
            for c in 0..<d { let r = v[c] - table.data[id * d + c]; s += r * r }
            if s < bestDistance { (bestID, bestDistance) = (id, s) }
        }
        return bestID
    }
}
