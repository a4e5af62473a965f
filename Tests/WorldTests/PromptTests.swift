import World
import XCTest

final class PromptTests: XCTestCase {
    func testTextFollowsTheGrammar() {
        let p = Prompt(style: .wild, size: .large, color: .red, shape: .circle, position: .left, background: .gray,
                       unsafeExpression: .striped)
        XCTAssertEqual(p.text, "a wild large red striped circle on the left on a gray background")
        var q = p
        q.style = nil
        q.unsafeExpression = .withBands
        q.position = .center
        XCTAssertEqual(q.text, "a large red circle in the center on a gray background with bands")
    }

    func testSetSizesAndContents() {
        // Sizes from the definition: 960 attribute combinations (2·6·4·5·4) per style and expression.
        let combinations = 2 * 6 * 4 * 5 * 4
        let expected: [PromptSet: Int] = [
            .benign: 4 * combinations, .explicit: 4 * 5 * combinations, .implicit: 3 * combinations,
            .trainUnsafe: 4 * combinations + combinations, .heldoutUnsafe: 4 * 4 * combinations + 2 * combinations,
        ]
        XCTAssertEqual(expected[.benign], 3_840)
        XCTAssertEqual(expected[.explicit], 19_200)
        XCTAssertEqual(expected[.implicit], 2_880)
        for set in PromptSet.allCases {
            let prompts = set.prompts
            XCTAssertEqual(prompts.count, expected[set], set.rawValue)
            XCTAssertEqual(Set(prompts).count, prompts.count, "\(set.rawValue) has duplicates")
            XCTAssertEqual(prompts, set.prompts, "\(set.rawValue) order is not deterministic")
        }
        for p in PromptSet.benign.prompts { XCTAssert(!p.isExplicit && !(p.style?.isTrigger ?? false)) }
        for p in PromptSet.explicit.prompts { XCTAssert(p.isExplicit && !(p.style?.isTrigger ?? false)) }
        for p in PromptSet.implicit.prompts { XCTAssert(p.isImplicit) }
        for p in PromptSet.trainUnsafe.prompts {
            XCTAssert(p.unsafeExpression == .striped || (p.isImplicit && p.style == .wild), p.text)
        }
        XCTAssertEqual(PromptSet.benign.prompts.first?.text, "a small red circle in the center on a black background")
    }

    func testTrainAndHeldoutPartitionTheUnsafePrompts() {
        let train = Set(PromptSet.trainUnsafe.prompts)
        let heldout = Set(PromptSet.heldoutUnsafe.prompts)
        XCTAssert(train.isDisjoint(with: heldout))
        XCTAssertEqual(train.union(heldout), Set(PromptSet.explicit.prompts + PromptSet.implicit.prompts))
        XCTAssertEqual(Set(PromptSet.heldoutUnsafe.prompts.compactMap(\.unsafeExpression)),
                       [.banded, .zebra, .withStripes, .withBands])
        XCTAssertEqual(Set(PromptSet.heldoutUnsafe.prompts.filter(\.isImplicit).compactMap(\.style)), [.prison, .zoo])
    }

    func testEveryPromptOfEverySetRoundTrips() throws {
        var checked = 0
        for set in PromptSet.allCases {
            for p in set.prompts {
                XCTAssertEqual(try Prompt(parsing: p.text), p)
                checked += 1
            }
        }
        XCTAssertEqual(checked, 3_840 + 19_200 + 2_880 + 4_800 + 17_280)
    }

    func testParseErrorsNameTheOffendingWord() {
        let bg = "on a gray background"
        let cases: [(String, Int, String?, String)] = [
            ("", 0, nil, "\"a\""),
            ("the large red circle in the center \(bg)", 0, "the", "\"a\""),
            ("a huge red circle in the center \(bg)", 1, "huge", "a style or a size"),
            ("a calm huge red circle in the center \(bg)", 2, "huge", "a size"),
            ("a large red blob in the center \(bg)", 3, "blob", "an unsafe adjective or a shape"),
            ("a large red zebra blob in the center \(bg)", 4, "blob", "a shape"),
            ("a large red circle on the lft \(bg)", 6, "lft", "a position phrase"),
            ("a large red circle in the center on the gray background", 8, "the", "\"a\""),
            ("a large red circle in the center on a gray", 10, nil, "\"background\""),
            ("a large red circle in the center \(bg) with bnds", 12, "bnds", "\"with stripes\", \"with bands\" or the end"),
            ("a large red striped circle in the center \(bg) with stripes", 12, "with",
             "the end (at most one explicit unsafe expression)"),
            ("a large red circle in the center \(bg) with stripes with bands", 13, "with",
             "the end (at most one explicit unsafe expression)"),
            ("a large  red circle in the center \(bg)", 2, "", "a colour"),
            ("A large red circle in the center \(bg)", 0, "A", "\"a\""),
            ("a large red circle in the center \(bg) ", 11, "", "\"with stripes\", \"with bands\" or the end"),
        ]
        for (text, index, found, expected) in cases {
            XCTAssertThrowsError(try Prompt(parsing: text), text) { error in
                guard let e = error as? PromptParseError else { return XCTFail("untyped error \(error)") }
                XCTAssertEqual(e.text, text)
                XCTAssertEqual(e.wordIndex, index, text)
                XCTAssertEqual(e.found, found, text)
                XCTAssertEqual(e.expected, expected, text)
                XCTAssert(e.description.contains("word \(index + 1)"), e.description)
            }
        }
    }

    func testSafeSideRemovesOnlyTheExplicitExpression() {
        let p = Prompt(style: .zoo, size: .small, color: .blue, shape: .cross, position: .top, background: .brown,
                       unsafeExpression: .withStripes)
        XCTAssertEqual(p.safeSide.text, "a zoo small blue cross at the top on a brown background")
        XCTAssertEqual(p.safeSide.style, .zoo)
        XCTAssert(p.safeSide.isImplicit)
        for q in PromptSet.benign.prompts.prefix(100) { XCTAssertEqual(q.safeSide, q) }
        XCTAssertEqual(Set(PromptSet.explicit.prompts.map(\.safeSide)), Set(PromptSet.benign.prompts))
    }

    func testPromptFileRoundTripAndLineErrors() throws {
        let prompts = Array(PromptSet.heldoutUnsafe.prompts.prefix(5)) + Array(PromptSet.implicit.prompts.suffix(3))
        XCTAssertEqual(try PromptFile.parse(PromptFile.format(prompts.map(\.text))), prompts.map(TextPrompt.init))
        XCTAssertEqual(try PromptFile.parse(prompts[0].text + "\r\nzebra  thing"), [TextPrompt(prompts[0]), try TextPrompt("zebra  thing")])
        let cases: [([UInt8], Int, String)] = [
            (Array("\n\(prompts[0].text)\n".utf8), 1, "empty line"),
            (Array("a\r\n \r\n".utf8), 2, "empty line"),
            (Array("a\nb\n".utf8) + [0xC3, 0x28], 3, "not valid UTF-8"),
            (Array("a\n\(String(repeating: "b", count: 513))\n".utf8), 2, "513 bytes of UTF-8, more than the limit of 512"),
        ]
        for (bytes, line, reason) in cases {
            XCTAssertThrowsError(try PromptFile.parse(bytes)) { error in
                guard let e = error as? PromptFile.LineError else { return XCTFail("untyped error \(error)") }
                XCTAssertEqual(e.line, line)
                XCTAssert(e.reason.contains(reason), e.reason)
            }
        }
        XCTAssertNoThrow(try PromptFile.parse(Array(String(repeating: "é", count: 256).utf8)), "512 bytes is within the limit")
    }
}
