import Foundation
import Runtime
import Wire
import XCTest
import ZMQ

/// A real actor process against a scripted learner (a ROUTER on control speaking the real
/// wire): what it does with a batch refused whole as overloaded, and with one refused in part.
final class ActorBatchResendTests: XCTestCase {
    private var run: RunHarness!

    override func tearDown() {
        run?.tearDown()
        super.tearDown()
    }

    /// Refused whole as overloaded: the same trajectories come back under a new batch id.
    /// Refused in part: the batch is not resent (its accepted half would be trained twice);
    /// the next batch holds new trajectories. The actor's counters add up exactly.
    func testOverloadedBatchIsResentWholeAndAPartlyRefusedOneIsNot() throws {
        run = try RunHarness("resend")
        let learner = try ScriptedLearner(run, extra: "reward_workers: 0\ntrajectories_per_batch: 4\n")
        let first = try learner.nextBatch()
        XCTAssertEqual(first.trajectories.count, 4)
        try learner.send(.batchAck(BatchAck(batchID: first.batchID, accepted: 0, rejected: 4,
                                            reason: "overloaded: learner buffer holds 16 trajectories (×4)", policyVersion: 1)))
        let resent = try learner.nextBatch()
        XCTAssertNotEqual(resent.batchID, first.batchID)
        XCTAssertEqual(resent.trajectories, first.trajectories, "a batch refused whole is resent as it was")

        try learner.send(.batchAck(BatchAck(batchID: resent.batchID, accepted: 2, rejected: 2,
                                            reason: "overloaded: learner buffer holds 16 trajectories (×2)", policyVersion: 1)))
        let next = try learner.nextBatch()
        XCTAssertNotEqual(next.batchID, resent.batchID)
        XCTAssertTrue(Set(next.trajectories.map(\.seed)).isDisjoint(with: first.trajectories.map(\.seed)),
                      "a partly accepted batch was resent: seeds \(next.trajectories.map(\.seed))")
        try learner.send(.batchAck(BatchAck(batchID: next.batchID, accepted: 4, policyVersion: 1)))

        let beat = try learner.receive {
            if case let .heartbeat(h) = $0 { h.counters.contains { $0.name == "trajectories_accepted" && $0.value == 6 } }
            else { false }
        }
        guard case let .heartbeat(heartbeat) = beat else { return XCTFail("not a heartbeat: \(beat)") }
        func counter(_ name: String) -> Double? { heartbeat.counters.first { $0.name == name }?.value }
        XCTAssertEqual(counter("trajectories_rejected"), 6)
        XCTAssertEqual(counter("acks_timed_out"), 0)

        try learner.end()
    }
}
