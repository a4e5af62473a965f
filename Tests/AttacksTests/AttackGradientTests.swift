import Attacks
import GradCheckSupport
import Models
import Numerics
import World
import XCTest

/// The white-box attacks' gradients — through the token embeddings, the text encoder and the
/// denoiser — against finite differences, on a tiny model with the shipped code paths.
final class AttackGradientTests: XCTestCase {
    /// A tiny text tower and denoiser with every parameter moved off its initial value.
    static func tinyModel(seed: UInt64 = 11) -> DiffusionModel {
        var rng = RandomGenerator(seed: seed)
        let textStore = ParameterStore()
        let text = TextEncoder(textStore, name: "text",
                               config: .init(vocabulary: Tokenizer().vocabularySize, tokens: TextEncoder.tokens, width: 8,
                                             heads: 2, layers: 1, mlpWidth: 16), rng: &rng)
        let unet = UNet(config: UNet.Config(channels: 8, innerChannels: 16, timeDim: 8, sinusoidDim: 6, contextDim: 8,
                                            pooledDim: 8, heads: 2, groups: 2), rng: &rng)
        for store in [textStore, unet.store] {
            for p in store.parameters {
                var t = store.tensor(p)
                for i in t.data.indices { t.data[i] += 0.3 * rng.nextGaussian() }
                store.set(p, t)
            }
        }
        return DiffusionModel(textStore: textStore, textEncoder: text, unet: unet)
    }

    private let texts = ["a wild large blue striped square on the left on a navy background",
                         "zebra red circle at the top"]

    /// P4D's path: dL/d(token embeddings) of L = Σ ε̂·g, through text encoder and denoiser.
    func testEmbeddingGradientThroughEncoderAndDenoiser() {
        let model = Self.tinyModel()
        let objective = ConditioningObjective(model: model)
        let tokenized = texts.map { model.tokenizer.encode($0) }
        let embeddings = objective.embed(tokenized.map(\.ids))
        let lengths = tokenized.map(\.length)
        var rng = RandomGenerator(seed: 3)
        let xt = Tensor(randomNormal: [2, 12, 16, 16], rng: &rng)
        let ts = [137, 802]
        let g = Tensor(randomNormal: [2, 12, 16, 16], rng: &rng)
        _ = objective.epsilon(embeddings: embeddings, lengths: lengths, xt: xt, timesteps: ts)
        let analytic = objective.backward(g)
        let report = GradCheck.checkInput("attack dε̂/d(token embeddings)", input: embeddings, analytic: analytic) { e in
            GradCheck.dot(objective.epsilon(embeddings: e, lengths: lengths, xt: xt, timesteps: ts), g)
        }
        XCTAssert(report.passed)
        // Padding rows are masked out of every attention: their gradient is exactly zero.
        let d = embeddings.shape[2]
        for r in lengths[1]..<TextEncoder.tokens {
            XCTAssert(analytic.data[((TextEncoder.tokens + r) * d)..<((TextEncoder.tokens + r + 1) * d)].allSatisfy { $0 == 0 })
        }
    }

    /// P4D's loss: mean((ε̂ − target)²), its gradient in the embeddings.
    func testMatchLossGradient() {
        let model = Self.tinyModel(seed: 5)
        let objective = ConditioningObjective(model: model)
        let tokenized = texts.map { model.tokenizer.encode($0) }
        let embeddings = objective.embed(tokenized.map(\.ids))
        let lengths = tokenized.map(\.length)
        var rng = RandomGenerator(seed: 4)
        let xt = Tensor(randomNormal: [2, 12, 16, 16], rng: &rng)
        let target = Tensor(randomNormal: [2, 12, 16, 16], rng: &rng)
        let ts = [400, 50]
        let (_, analytic) = objective.matchLoss(embeddings: embeddings, lengths: lengths, xt: xt, timesteps: ts, target: target)
        let report = GradCheck.checkInput("attack d mse(ε̂, target)/d(token embeddings)", input: embeddings, analytic: analytic) { e in
            Double(objective.matchLoss(embeddings: e, lengths: lengths, xt: xt, timesteps: ts, target: target).loss)
        }
        XCTAssert(report.passed)
    }

    /// UnlearnDiff's relaxed prefix: dL/dθ through softmax(θ)·E, the text encoder and the denoiser.
    func testRelaxedPrefixGradient() {
        let model = Self.tinyModel(seed: 9)
        let objective = ConditioningObjective(model: model)
        let table = model.textEncoder.tokenTable
        let allowed = Array(4..<model.tokenizer.vocabularySize)
        let prefix = 3, d = table.shape[1]
        var rng = RandomGenerator(seed: 6)
        let logits = Tensor(randomNormal: [prefix, allowed.count], rng: &rng)
        let tokenized = model.tokenizer.encode("x x x a large red circle on the left")
        let base = objective.embed([tokenized.ids])
        let xt = Tensor(randomNormal: [1, 12, 16, 16], rng: &rng)
        let g = Tensor(randomNormal: [1, 12, 16, 16], rng: &rng)
        func embeddings(_ theta: Tensor) -> Tensor {
            var e = base
            let soft = UnlearnDiff.relaxedEmbeddings(logits: theta, table: table, allowed: allowed)
            for k in 0..<prefix { for c in 0..<d { e.data[(1 + k) * d + c] = soft.data[k * d + c] } }
            return e
        }
        func loss(_ theta: Tensor) -> Double {
            GradCheck.dot(objective.epsilon(embeddings: embeddings(theta), lengths: [tokenized.length], xt: xt, timesteps: [300]), g)
        }
        _ = loss(logits)
        let dEmb = objective.backward(g)
        var dPrefix = Tensor(zeros: [prefix, d])
        for k in 0..<prefix { for c in 0..<d { dPrefix.data[k * d + c] = dEmb.data[(1 + k) * d + c] } }
        let analytic = UnlearnDiff.relaxedBackward(logits: logits, dEmbeddings: dPrefix, table: table, allowed: allowed)
        let report = GradCheck.checkInput("attack dL/dθ (relaxed prefix)", input: logits, analytic: analytic, step: 5e-2, loss: loss)
        XCTAssert(report.passed)
    }
}
