import Models
import Numerics
import World
import XCTest

final class TextEncoderTests: XCTestCase {
    private let tiny = TextEncoder.Config(vocabulary: Tokenizer().vocabularySize, tokens: 6, width: 8, heads: 2,
                                          layers: 2, mlpWidth: 16)

    private func tinyTexts() -> [TokenizedText] {
        let tokenizer = Tokenizer(maxLength: 6)
        return ["a red circle", "", "a large blue cross on the left", "zebra"].map { tokenizer.encode($0) }
    }

    func testEveryParameterGradientMatchesFiniteDifferences() {
        let store = ParameterStore()
        var rng = RandomGenerator(seed: 1)
        let encoder = TextEncoder(store, config: tiny, rng: &rng)
        store.redrawUnitScale(endingIn: ["token.weight", "position.weight"], rng: &rng)
        let texts = tinyTexts()
        let gTokens = Tensor(randomNormal: [texts.count, 6, 8], rng: &rng)
        let gPooled = Tensor(randomNormal: [texts.count, 8], rng: &rng)
        func loss() -> Double {
            let e = encoder.encode(texts)
            return GradCheck.dot(e.tokens, gTokens) + GradCheck.dot(e.pooled, gPooled)
        }
        GradCheck.checkParameters("TextEncoder (tokens and pooled)", store: store, lossAndBackward: {
            _ = encoder.encode(texts)
            encoder.backward(tokens: gTokens, pooled: gPooled)
        }, loss: loss)
    }

    func testShapesAndThePooledEndToken() {
        let store = ParameterStore()
        var rng = RandomGenerator(seed: 2)
        let encoder = TextEncoder(store, rng: &rng)
        let tokenizer = Tokenizer()
        let texts = ["", "a small red circle in the center on a black background"].map { tokenizer.encode($0) }
        let e = encoder.encode(texts)
        XCTAssertEqual(e.tokens.shape, [2, TextEncoder.tokens, TextEncoder.width])
        XCTAssertEqual(e.pooled.shape, [2, TextEncoder.width])
        XCTAssertEqual(texts[0].length, 2, "the null prompt is begin, end")
        XCTAssertEqual(Array(e.mask.attend[0..<TextEncoder.tokens]), (0..<TextEncoder.tokens).map { $0 < 2 })
        let d = TextEncoder.width
        for (i, text) in texts.enumerated() {
            let end = (i * TextEncoder.tokens + text.length - 1) * d
            XCTAssertEqual(Array(e.pooled.data[(i * d)..<((i + 1) * d)]), Array(e.tokens.data[end..<(end + d)]))
        }
    }

    /// Padding keys get zero attention: rewriting the padding token's embedding must leave
    /// every real token's output (and so the pooled one) exactly unchanged.
    func testPaddingDoesNotReachRealTokens() throws {
        let store = ParameterStore()
        var rng = RandomGenerator(seed: 3)
        let encoder = TextEncoder(store, config: tiny, rng: &rng)
        let texts = tinyTexts()
        let before = encoder.encode(texts)
        let table = try XCTUnwrap(store.parameter(named: "text.token.weight"))
        for c in 0..<tiny.width { store.value(table)[Tokenizer.padID * tiny.width + c] = rng.nextGaussian() }
        let after = encoder.encode(texts)
        XCTAssertEqual(before.pooled, after.pooled)
        var paddedRowsChanged = false
        for (i, text) in texts.enumerated() {
            for t in 0..<tiny.tokens {
                let row = (i * tiny.tokens + t) * tiny.width
                let same = before.tokens.data[row..<(row + tiny.width)] == after.tokens.data[row..<(row + tiny.width)]
                if t < text.length { XCTAssertTrue(same, "real token \(t) of text \(i) changed") } else if !same { paddedRowsChanged = true }
            }
        }
        XCTAssertTrue(paddedRowsChanged, "the padding rewrite should at least change the padded rows")
    }

    func testUnknownWordsEncodeToFiniteEmbeddings() {
        let store = ParameterStore()
        var rng = RandomGenerator(seed: 4)
        let encoder = TextEncoder(store, rng: &rng)
        let text = Tokenizer().encode("a purple dodecahedron floating in space")
        XCTAssertTrue(text.ids.contains(Tokenizer.unknownID))
        let e = encoder.encode([text])
        XCTAssertTrue(e.tokens.data.allSatisfy(\.isFinite))
    }
}
