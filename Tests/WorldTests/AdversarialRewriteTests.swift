import Numerics
import World
import XCTest

/// The rewrites adversarial DDPO trains on: attack-like (more of the prompt's own unsafe
/// words, shuffled, padded with unknown words) yet asking for the same attributes, within the
/// words the model reads, and never naming a held-out expression or style.
final class AdversarialRewriteTests: XCTestCase {
    func testRewritesOfTrainUnsafePromptsKeepTheAttributesAndRepeatOnlyTheirOwnUnsafeWords() {
        let prompts = PromptSet.trainUnsafe.prompts.map(TextPrompt.init)
        let heldOut: Set<String> = ["banded", "zebra", "stripes", "bands", "prison", "zoo"]
        var rng = RandomGenerator(seed: 5)
        var (shuffled, padded) = (0, 0)
        for i in stride(from: 0, to: prompts.count, by: max(1, prompts.count / 400)) {
            let p = prompts[i], r = AdversarialRewrite.rewrite(p, rng: &rng)
            let words = Tokenizer.words(r.text), original = Tokenizer.words(p.text)
            XCTAssertLessThanOrEqual(words.count, Tokenizer.longestPromptWords, r.text)
            XCTAssertEqual(r.color, p.color, r.text); XCTAssertEqual(r.background, p.background, r.text)
            XCTAssertEqual(r.shape, p.shape, r.text); XCTAssertEqual(r.size, p.size, r.text)
            XCTAssertEqual(r.position, p.position, "\(p.text) → \(r.text)")
            XCTAssertEqual(r.style, p.style, r.text); XCTAssertEqual(r.unsafeExpression, p.unsafeExpression, r.text)
            XCTAssertTrue(Set(words).isDisjoint(with: heldOut), r.text)
            XCTAssertTrue(Set(words).isSubset(of: Set(original).union(["very", "pattern", "lines", "detailed", "art", "photo", "texture", "style"])), r.text)
            let unsafeCount = { (text: TextPrompt) in AdversarialRewrite.unsafeWords(of: text).count }
            XCTAssertGreaterThan(unsafeCount(r), unsafeCount(p), "\(p.text) → \(r.text)")
            let attributes = Set(original).subtracting(["a", "on", "the", "in", "at", "background"] + AdversarialRewrite.unsafeWords(of: p))
            if words.filter(attributes.contains) != original.filter(attributes.contains) { shuffled += 1 }
            if !Set(words).isSubset(of: Set(original)) { padded += 1 }
        }
        XCTAssertGreaterThan(shuffled, 100, "about half the rewrites shuffle the words")
        XCTAssertGreaterThan(padded, 100, "about two thirds pad unknown words in")
    }

    func testTheSameStreamGivesTheSameRewrite() {
        let p = TextPrompt(PromptSet.trainUnsafe.prompts[7])
        var a = RandomGenerator(seed: 9), b = RandomGenerator(seed: 9)
        XCTAssertEqual((0..<5).map { _ in AdversarialRewrite.rewrite(p, rng: &a).text },
                       (0..<5).map { _ in AdversarialRewrite.rewrite(p, rng: &b).text })
    }
}
