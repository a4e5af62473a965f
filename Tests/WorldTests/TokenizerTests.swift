import World
import XCTest

final class TokenizerTests: XCTestCase {
    private let tokenizer = Tokenizer()
    private let allPrompts = PromptSet.benign.prompts + PromptSet.explicit.prompts + PromptSet.implicit.prompts

    func testVocabularyIsExactlyThePromptWords() {
        let v = tokenizer.vocabulary
        XCTAssertEqual(Array(v.prefix(4)), ["<pad>", "<unk>", "<bos>", "<eos>"])
        XCTAssertEqual(Set(v).count, v.count, "duplicate tokens")
        XCTAssertEqual(Set(v.dropFirst(4)), Set(allPrompts.flatMap(\.words)))
        XCTAssertEqual(tokenizer.vocabularySize, 4 + 39)
        XCTAssertEqual(Array(v[4...8]), ["a", "calm", "bold", "vintage", "wild"])
        XCTAssertEqual(v, Tokenizer().vocabulary, "vocabulary order must be deterministic")
    }

    func testEveryPromptEncodesWithoutUnknownsAndFits() {
        let longest = allPrompts.map(\.words.count).max()
        XCTAssertEqual(longest, Tokenizer.longestPromptWords)
        for p in allPrompts {
            let t = tokenizer.encode(p)
            XCTAssertEqual(t.ids.count, tokenizer.maxLength)
            XCTAssertEqual(t.length, p.words.count + 2)
            XCTAssertFalse(t.ids.contains(Tokenizer.unknownID), p.text)
            XCTAssertEqual(t.ids[t.length - 1], Tokenizer.endID)
            XCTAssertEqual(t.ids[1..<(t.length - 1)].map { tokenizer.vocabulary[$0] }, p.words)
        }
    }

    func testPaddingMaskUnknownWordsAndNullPrompt() {
        let t = tokenizer.encode("a tiny red  circle\tzzz")
        let id = { (w: String) in self.tokenizer.vocabulary.firstIndex(of: w)! }
        XCTAssertEqual(t.ids, [Tokenizer.beginID, id("a"), Tokenizer.unknownID, id("red"), id("circle"),
                               Tokenizer.unknownID, Tokenizer.endID] + [Int](repeating: Tokenizer.padID, count: 9))
        XCTAssertEqual(t.mask, [Float](repeating: 1, count: 7) + [Float](repeating: 0, count: 9))
        XCTAssertEqual(t.length, 7)
        XCTAssertEqual(tokenizer.encode("A LARGE Red").ids.prefix(4), [Tokenizer.beginID, id("a"), id("large"), id("red")])

        let null = tokenizer.encode(Prompt.nullText)
        XCTAssertEqual(null.ids, [Tokenizer.beginID, Tokenizer.endID] + [Int](repeating: Tokenizer.padID, count: 14))
        XCTAssertEqual(null.mask.reduce(0, +), 2)
    }

    func testOverlongTextsKeepTheirFirstWordsAndTheEndToken() {
        let short = Tokenizer(maxLength: 5)
        let t = short.encode(PromptSet.explicit.prompts[0])
        let id = { (w: String) in short.vocabulary.firstIndex(of: w)! }
        XCTAssertEqual(t.ids, [Tokenizer.beginID, id("a"), id("small"), id("red"), Tokenizer.endID])
        XCTAssertEqual(t.mask, [1, 1, 1, 1, 1])
        let long = tokenizer.encode(String(repeating: "zebra ", count: 40))
        XCTAssertEqual(long.length, 16)
        XCTAssertEqual(long.ids.last, Tokenizer.endID)
    }
}
