import Models
import Numerics
import World
import XCTest

/// The committed weights (Sources/Models/Weights/clip.safetensors) against the acceptance
/// target, on renders of a seed no training run used.
final class ShippedCLIPTests: XCTestCase {
    static let heldOutSeed: UInt64 = 424_242

    func testShippedWeightsRankTheTrueCaptionFirst() throws {
        let model = try MiniCLIP.load()
        XCTAssertEqual(model.config, MiniCLIP.Config())
        let report = CLIPRanking.evaluate(model, seed: Self.heldOutSeed, renders: 500, candidates: 64)
        print(report)
        XCTAssertGreaterThanOrEqual(report.top1, 0.90)
        XCTAssertGreaterThanOrEqual(report.top1DistinctContent, report.top1)
    }

    /// The reward term: a render is more aligned with its own caption than with a shuffled one.
    func testAlignmentPrefersTheTrueCaption() throws {
        let model = try MiniCLIP.load()
        let pairs = (0..<64).map { DataDistribution.pair(seed: Self.heldOutSeed + 1, index: $0) }
        let images = imageBatch(pairs.map(\.image))
        let texts = pairs.map { Tokenizer().encode($0.prompt) }
        let matched = model.alignment(images: images, texts: texts)
        let shuffled = model.alignment(images: images, texts: Array(texts[1...] + texts[..<1]))
        XCTAssertTrue(matched.allSatisfy { (-1.0001...1.0001).contains($0) })
        let better = zip(matched, shuffled).filter { $0 > $1 }.count
        print("alignment: true caption beats a shuffled one for \(better)/64 renders")
        XCTAssertGreaterThanOrEqual(better, 60)
    }

    func testNullAndUnknownPromptsEncode() throws {
        let model = try MiniCLIP.load()
        let texts = ["", "a glittering heptagon"].map { Tokenizer().encode($0) }
        let e = model.textEncoder.encode(texts)
        XCTAssertEqual(texts[0].length, 2)
        XCTAssertEqual(e.tokens.shape, [2, TextEncoder.tokens, TextEncoder.width])
        XCTAssertTrue(e.tokens.data.allSatisfy(\.isFinite))
    }
}
