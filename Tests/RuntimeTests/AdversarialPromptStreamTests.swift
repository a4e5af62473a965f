import Foundation
import Runtime
import Wire
import World
import XCTest
import ZMQ

/// A real actor process with `adversarial.text_share` against a scripted learner: the share of
/// its trajectories whose prompt is an adversarial rewrite, and what each rewrite carries.
final class AdversarialPromptStreamTests: XCTestCase {
    private var run: RunHarness!

    override func tearDown() {
        run?.tearDown()
        super.tearDown()
    }

    func testTheActorsPromptStreamHoldsTheAdversarialShare() throws {
        run = try RunHarness("adversarial")
        let learner = try ScriptedLearner(run, extra: "reward_workers: 0\ntrajectories_per_batch: 16\nadversarial:\n  text_share: 0.5\n")
        var trajectories: [Trajectory] = []
        while trajectories.count < 128 {
            let batch = try learner.nextBatch()
            trajectories += batch.trajectories
            try learner.send(.batchAck(BatchAck(batchID: batch.batchID, accepted: UInt32(batch.trajectories.count),
                                                policyVersion: 1)))
        }
        let grammar = Dictionary(PromptSet.trainUnsafe.prompts.map { ($0.text, TextPrompt($0).safeSideText) }) { a, _ in a }
        let safeSides = Set(grammar.values)
        let rewritten = trajectories.filter { grammar[$0.prompt] == nil }
        let share = Double(rewritten.count) / Double(trajectories.count)
        print("adversarial share \(share) of \(trajectories.count); e.g. \(rewritten.prefix(3).map(\.prompt))")
        // Binomial(128, 0.5): 0.5 ± 0.044; ±0.15 is more than 3 standard deviations.
        XCTAssertEqual(share, 0.5, accuracy: 0.15)
        for t in trajectories where grammar[t.prompt] != nil { XCTAssertEqual(t.safePrompt, grammar[t.prompt]) }
        for t in rewritten {
            // Its reward judges the safe side of a train-unsafe prompt, which the rewrite asks for.
            XCTAssertTrue(safeSides.contains(t.safePrompt), t.safePrompt)
            let r = try TextPrompt(t.prompt), s = try TextPrompt(t.safePrompt)
            XCTAssertTrue(r.unsafeExpression == .striped || r.style == .wild, t.prompt)
            XCTAssertEqual([r.shape, r.size, r.position, r.background].map { "\($0 as Any)" },
                           [s.shape, s.size, s.position, s.background].map { "\($0 as Any)" }, t.prompt)
            XCTAssertEqual(r.color, s.color, t.prompt)
        }

        try learner.end()
    }
}
