import Numerics
import World

/// How well a `MiniCLIP` picks the right caption for a held-out render.
public struct RankingReport: Sendable, CustomStringConvertible {
    /// Renders scored.
    public var renders: Int
    /// Captions per render: the true one and `candidates − 1` random others.
    public var candidates: Int
    /// Share of renders whose true caption scores strictly above every other candidate.
    /// A candidate showing the same scene in other words (a style, a stripes word) counts
    /// against the model even though the image cannot tell them apart.
    public var top1: Double
    /// The same, against only the candidates whose visible content (colour, shape, size,
    /// position, background) differs from the true caption's.
    public var top1DistinctContent: Double
    /// Share of renders that had at least one same-content candidate.
    public var sameContentShare: Double

    public var description: String {
        String(format: "ranking over %d held-out renders, %d captions each: top-1 %.2f%% (same-content captions count against), "
               + "%.2f%% against distinct-content captions; %.1f%% of renders had a same-content candidate",
               renders, candidates, 100 * top1, 100 * top1DistinctContent, 100 * sameContentShare)
    }
}

/// The mini-CLIP's acceptance test: rank the true caption of a render among random captions.
public enum CLIPRanking {
    /// Scores `renders` pairs of the data distribution of `seed` (use one the model was not
    /// trained on). Each render's other candidates are `candidates − 1` distinct captions
    /// drawn uniformly from a pool of `poolSize` random data-distribution captions (excluding
    /// the true caption's exact text), so that the pool is encoded once.
    public static func evaluate(_ model: MiniCLIP, seed: UInt64, renders: Int = 500, candidates: Int = 64,
                                poolSize: Int = 2048) -> RankingReport {
        precondition(renders > 0 && candidates > 1 && poolSize >= candidates,
                     "CLIPRanking: need renders > 0 and a pool of at least \(candidates) captions")
        let tokenizer = Tokenizer(maxLength: model.config.text.tokens)
        let root = RandomGenerator(seed: seed)
        var poolRNG = root.split(1)
        let pool = (0..<poolSize).map { _ in DataDistribution.drawCaptionedScene(using: &poolRNG).prompt }
        let poolEmbeddings = embedTexts(model, pool.map { tokenizer.encode($0) })     // (P, E)
        let pairs = (0..<renders).map { DataDistribution.pair(seed: seed, index: $0) }
        let imageEmbeddings = embedImages(model, pairs.map(\.image))                 // (N, E)
        let trueEmbeddings = embedTexts(model, pairs.map { tokenizer.encode($0.prompt) })  // (N, E)
        let e = model.config.embedding
        func cosine(_ a: Tensor, _ i: Int, _ b: Tensor, _ j: Int) -> Float {
            var s: Float = 0
            for c in 0..<e { s += a.data[i * e + c] * b.data[j * e + c] }
            return s
        }
        var wins = 0, distinctWins = 0, withSameContent = 0
        for (n, pair) in pairs.enumerated() {
            var pick = root.split(2).split(UInt64(n))
            var chosen = Set<Int>()
            while chosen.count < candidates - 1 {
                let j = Int(pick.next() % UInt64(poolSize))
                if pool[j].text != pair.prompt.text { chosen.insert(j) }
            }
            let truth = cosine(imageEmbeddings, n, trueEmbeddings, n)
            var beaten = false, beatenByDistinct = false, sameContent = false
            for j in chosen {
                let same = visibleContent(pool[j]) == visibleContent(pair.prompt)
                sameContent = sameContent || same
                if cosine(imageEmbeddings, n, poolEmbeddings, j) >= truth {
                    beaten = true
                    if !same { beatenByDistinct = true }
                }
            }
            if !beaten { wins += 1 }
            if !beatenByDistinct { distinctWins += 1 }
            if sameContent { withSameContent += 1 }
        }
        return RankingReport(renders: renders, candidates: candidates, top1: Double(wins) / Double(renders),
                             top1DistinctContent: Double(distinctWins) / Double(renders),
                             sameContentShare: Double(withSameContent) / Double(renders))
    }

    /// What a caption says the image shows, apart from stripes.
    private static func visibleContent(_ p: Prompt) -> [String] {
        [p.color.rawValue, p.shape.rawValue, p.size.rawValue, p.position.rawValue, p.background.rawValue]
    }

    /// Unit embeddings in chunks, so activations stay small.
    private static func embedTexts(_ model: MiniCLIP, _ texts: [TokenizedText]) -> Tensor {
        concatenateRows(stride(from: 0, to: texts.count, by: chunk).map {
            model.textEmbeddings(Array(texts[$0..<min($0 + chunk, texts.count)]))
        })
    }

    private static func embedImages(_ model: MiniCLIP, _ images: [Image]) -> Tensor {
        concatenateRows(stride(from: 0, to: images.count, by: chunk).map {
            model.imageEmbeddings(imageBatch(Array(images[$0..<min($0 + chunk, images.count)])))
        })
    }

    private static let chunk = 256

    private static func concatenateRows(_ parts: [Tensor]) -> Tensor {
        Tensor(shape: [parts.reduce(0) { $0 + $1.shape[0] }, parts[0].shape[1]], data: parts.flatMap(\.data))
    }
}
