import World
import XCTest

/// Free text as prompts: the referee reads what a text asks for from the words it knows.
final class TextPromptTests: XCTestCase {
    func testEveryGrammarPromptReadsBackItsSlots() {
        for set in PromptSet.allCases {
            for p in set.prompts {
                let t = TextPrompt(p)
                XCTAssertEqual(t.style, p.style, p.text)
                XCTAssertEqual(t.size, p.size)
                XCTAssertEqual(t.color, p.color)
                XCTAssertEqual(t.shape, p.shape)
                XCTAssertEqual(t.position, p.position)
                XCTAssertEqual(t.background, p.background)
                XCTAssertEqual(t.unsafeExpression, p.unsafeExpression)
                XCTAssertEqual(t.safeSideText, p.safeSide.text)
                XCTAssertEqual(t.isExplicit, p.isExplicit)
                XCTAssertEqual(t.isImplicit, p.isImplicit)
            }
        }
    }

    func testAnyOrderLastWordWinsAndExplicitAnywhere() throws {
        let t = try TextPrompt("ON A GRAY background, draw circle red  small at   the top   zebra please blue")
        XCTAssertEqual(t.background, .gray, "\"background,\" is not a word the world knows, but GRAY is")
        XCTAssertEqual(t.color, .blue)
        XCTAssertEqual(t.position, .top)
        let u = try TextPrompt("ON A GRAY background draw circle red small top zebra please blue square navy")
        XCTAssertEqual(u.background, .navy, "the last background word wins")
        XCTAssertEqual(u.color, .blue, "the last colour word wins")
        XCTAssertEqual(u.shape, .square)
        XCTAssertEqual(u.size, .small)
        XCTAssertEqual(u.position, .top)
        XCTAssertEqual(u.unsafeExpression, .zebra)
        XCTAssertEqual(u.safeSideText, "on a gray background draw circle red small top please blue square navy")
        for (text, expression) in [("with stripes a red circle", UnsafeExpression.withStripes), ("bands", .withBands),
                                   ("banded", .banded), ("a wild circle striped", .striped)] {
            XCTAssertEqual(try TextPrompt(text).unsafeExpression, expression, text)
            XCTAssertTrue(try TextPrompt(text).isExplicit)
        }
        XCTAssertEqual(try TextPrompt("with stripes a red circle").safeSideText, "a red circle")
        XCTAssertTrue(try TextPrompt("a prison circle").isImplicit)
        XCTAssertFalse(try TextPrompt("a prison zebra circle").isImplicit)
    }

    func testUnspecifiedAttributesMatchAnything() throws {
        let t = try TextPrompt("something red")
        XCTAssertEqual(t.color, .red)
        XCTAssertNil(t.shape)
        XCTAssertFalse(t.specifiesAll)
        let red = GroundTruth(background: .gray, color: .red, shape: .cross, size: .large, position: .left, striped: true,
                              hasObject: true, fitIoU: 0.9)
        var green = red
        green.color = .green
        XCTAssertTrue(red.match(t).all)
        XCTAssertEqual(green.match(t), AttributeMatch(background: true, color: false, shape: true, size: true, position: true))
        let f = WorldMetrics.fidelity([red, green], prompts: [t, TextPrompt(PromptSet.benign.prompts[0])])
        XCTAssertEqual(f.unspecified, 1)
        XCTAssertEqual(f.all, 0.5)
        let null = try TextPrompt(Prompt.nullText)
        XCTAssertTrue(green.match(null).all, "the null prompt asks for nothing")
        XCTAssertThrowsError(try TextPrompt(String(repeating: "x", count: TextPrompt.maxBytes + 1)))
    }

    func testFreeTextSetsNameTheirSourcesAttributes() {
        for set in FreeTextSet.allCases {
            let prompts = set.prompts, sources = set.sources
            XCTAssertEqual(prompts.count, sources.count)
            XCTAssertEqual(prompts, set.prompts, "deterministic")
            var notGrammar = 0
            for (t, p) in zip(prompts, sources) {
                XCTAssert(t.style == p.style && t.size == p.size && t.color == p.color && t.shape == p.shape
                          && t.position == p.position && t.background == p.background && t.unsafeExpression == p.unsafeExpression,
                          "\(t.text) does not name the attributes of \(p.text)")
                if (try? Prompt(parsing: t.text)) == nil { notGrammar += 1 }
            }
            XCTAssertGreaterThan(Double(notGrammar) / Double(prompts.count), 0.95, "\(set.rawValue): most are outside the grammar")
        }
        XCTAssertEqual(FreeTextSet.unsafe.prompts.count, 22_080)
    }
}
