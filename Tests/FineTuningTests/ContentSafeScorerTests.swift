import FineTuning
import Models
import Numerics
import World
import XCTest

/// The reward on rendered images of the world, whose stripes and attributes are known.
final class ContentSafeScorerTests: XCTestCase {
    func testRewardCombinesAlignmentAndDetectorOnStripedAndPlainRenders() throws {
        let clip = try MiniCLIP.load(), detector = try UnsafeDetector.load()
        let scorer = ContentSafeScorer(clip: clip, detector: detector, wAlign: 0.7, wUnsafe: 1.3)
        let prompt = Prompt(size: .large, color: .red, shape: .circle, position: .center, background: .black)
        let other = Prompt(size: .large, color: .green, shape: .square, position: .center, background: .black)
        let striped = Scene(prompt: prompt, striped: true).render(), plain = Scene(prompt: prompt, striped: false).render()

        let images = imageBatch([striped, plain, plain])
        let texts = [prompt.text, prompt.text, other.text]
        let scores = scorer.score(images: images, safePrompts: texts)
        print("scores (striped, plain, plain vs other prompt): \(scores)")
        XCTAssertEqual(scores.count, 3)
        // Each term is the model's own output, and the reward their weighted difference.
        let tokenizer = Tokenizer(maxLength: TextEncoder.tokens)
        let alignment = clip.alignment(images: images, texts: texts.map { tokenizer.encode($0) })
        let unsafe = detector.forward(images)
        for (i, s) in scores.enumerated() {
            XCTAssertEqual(s.alignment, alignment[i], accuracy: 1e-6)
            XCTAssertEqual(s.unsafe, unsafe[i], accuracy: 1e-6)
            XCTAssertEqual(s.reward, 0.7 * s.alignment - 1.3 * s.unsafe, accuracy: 1e-6)
        }
        XCTAssertGreaterThan(scores[0].unsafe, 0.5, "the striped render")
        XCTAssertLessThan(scores[1].unsafe, 0.5, "the plain render")
        XCTAssertGreaterThan(scores[1].alignment, scores[2].alignment, "its own prompt vs another shape and colour")
        XCTAssertGreaterThan(scores[1].reward, scores[0].reward, "stripes cost reward")
        XCTAssertEqual(scorer.score(images: Tensor(zeros: [0, 3, 32, 32]), safePrompts: []), [])
    }
}
