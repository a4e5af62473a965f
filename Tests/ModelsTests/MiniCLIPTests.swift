import GradCheckSupport
import Foundation
import Models
import Numerics
import World
import XCTest

final class MiniCLIPTests: XCTestCase {
    static let tiny = MiniCLIP.Config(
        text: .init(vocabulary: Tokenizer().vocabularySize, tokens: TextEncoder.tokens, width: 8, heads: 2, layers: 1, mlpWidth: 16),
        image: .init(side: 32, channels: [2, 3, 3, 3], width: 6),
        embedding: 5)

    /// The whole loss, from token ids and pixels through both towers, the projections, the
    /// normalisation and the logit scale, against finite differences of every parameter.
    /// Through this many Float32 layers each loss carries ~1e-7 of rounding, ~1e-5 in a
    /// quotient at h = 2e-2; h = 4e-2 halves that, and the harness adds the noise it measures.
    func testEndToEndGradientsMatchFiniteDifferences() {
        var rng = RandomGenerator(seed: 31)
        let model = MiniCLIP(config: Self.tiny, rng: &rng)
        model.store.redrawUnitScale(endingIn: ["token.weight", "position.weight", "image.head.bias"], rng: &rng)
        let pairs = (0..<4).map { DataDistribution.pair(seed: 5, index: $0) }
        let images = imageBatch(pairs.map(\.image))
        let texts = pairs.map { Tokenizer().encode($0.prompt) }
        GradCheck.checkParameters("MiniCLIP end to end", store: model.store, samples: 12, step: 4e-2,
                                  lossAndBackward: {
            _ = model.lossAndBackward(images: images, texts: texts)
        }, loss: { Double(model.lossAndBackward(images: images, texts: texts).loss) })
    }

    func testAlignmentIsTheCosineOfTheEmbeddings() {
        var rng = RandomGenerator(seed: 32)
        let model = MiniCLIP(config: Self.tiny, rng: &rng)
        let pairs = (0..<3).map { DataDistribution.pair(seed: 6, index: $0) }
        let images = imageBatch(pairs.map(\.image))
        let texts = pairs.map { Tokenizer().encode($0.prompt) }
        let cosines = model.alignment(images: images, texts: texts)
        let u = model.imageEmbeddings(images), v = model.textEmbeddings(texts)
        for i in 0..<3 {
            let a = Array(u.data[(i * 5)..<(i * 5 + 5)]), b = Array(v.data[(i * 5)..<(i * 5 + 5)])
            XCTAssertEqual(a.map { $0 * $0 }.reduce(0, +), 1, accuracy: 1e-5)
            XCTAssertEqual(cosines[i], zip(a, b).map(*).reduce(0, +), accuracy: 1e-6)
        }
    }

    /// The acceptance measure can fail: an untrained model ranks the true caption first
    /// about as often as chance (1 in 64).
    func testAnUntrainedModelFailsTheRanking() {
        var rng = RandomGenerator(seed: 34)
        let report = CLIPRanking.evaluate(MiniCLIP(config: Self.tiny, rng: &rng), seed: 9, renders: 64)
        print("untrained: \(report)")
        XCTAssertLessThan(report.top1, 0.2)
    }

    func testSaveAndLoadRoundTrip() throws {
        var rng = RandomGenerator(seed: 33)
        let model = MiniCLIP(config: Self.tiny, rng: &rng)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("clip-roundtrip-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try model.save(to: url)
        let loaded = try MiniCLIP.load(from: url)
        XCTAssertEqual(loaded.config, Self.tiny)
        XCTAssertEqual(Array(loaded.store.values), Array(model.store.values))
    }

    func testLoadingAMissingFileNamesIt() {
        let url = URL(fileURLWithPath: "/nonexistent/clip.safetensors")
        XCTAssertThrowsError(try MiniCLIP.load(from: url)) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/clip.safetensors"), "\(error)")
        }
    }

    /// Two tiny runs from one seed give bit-identical weights; another seed does not.
    func testTrainingIsReproducibleFromItsSeed() throws {
        func run(seed: UInt64) throws -> [Float] {
            var config = CLIPTrainingConfig()
            config.steps = 3
            config.batchSize = 8
            config.warmupSteps = 1
            config.seed = seed
            config.model = Self.tiny
            let trainer = CLIPTrainer(config: config)
            var losses: [Float] = []
            try trainer.train { losses.append($0.loss) }
            XCTAssertEqual(losses.count, 3)
            XCTAssertTrue(losses.allSatisfy(\.isFinite))
            return Array(trainer.model.store.values)
        }
        let first = try run(seed: 7)
        XCTAssertEqual(first, try run(seed: 7))
        XCTAssertNotEqual(first, try run(seed: 8))
    }
}
