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

    private func nextBatch(_ learner: RawPeer) throws -> TrajectoryBatch {
        let message = try learner.receive { if case .trajectoryBatch = $0 { true } else { false } }
        guard case let .trajectoryBatch(batch) = message.envelope.payload else { throw RuntimeError("not a batch") }
        return batch
    }

    /// Refused whole as overloaded: the same trajectories come back under a new batch id.
    /// Refused in part: the batch is not resent (its accepted half would be trained twice);
    /// the next batch holds new trajectories. The actor's counters add up exactly.
    func testOverloadedBatchIsResentWholeAndAPartlyRefusedOneIsNot() throws {
        run = try RunHarness("resend")
        // reward_workers 0: the actor scores in-process, so the test plays only the learner.
        let path = try run.writeConfig("reward_workers: 0\ntrajectories_per_batch: 4\n")
        let config = try RunConfig.loading(path: path)
        let context = try ZMQContext()
        let learner = try RawPeer(context, .router, bind: config.endpoints.control)
        defer { try? learner.socket.close() }
        let actor = try run.startRole("actor-0", "actor", config: path, ["--instance", "actor-0"])

        let hello = try learner.receive { if case .hello = $0 { true } else { false } }
        let id = hello.identity
        try learner.send(.welcome(Welcome(runID: "test", policyVersion: 1, heartbeatIntervalMilliseconds: 100, liveness: 1000,
                                          configDigest: config.configDigest, maxInFlightBatches: 1)), to: id)
        let trainable = TestLinearLearner(config: config).trainable
        try learner.send(.weights(Weights(version: 1, tensors: trainable.keys.sorted().map {
            WireTensor(name: $0, tensor: trainable[$0]!)
        })), to: id)

        let first = try nextBatch(learner)
        XCTAssertEqual(first.trajectories.count, 4)
        try learner.send(.batchAck(BatchAck(batchID: first.batchID, accepted: 0, rejected: 4,
                                            reason: "overloaded: learner buffer holds 16 trajectories (×4)", policyVersion: 1)), to: id)
        let resent = try nextBatch(learner)
        XCTAssertNotEqual(resent.batchID, first.batchID)
        XCTAssertEqual(resent.trajectories, first.trajectories, "a batch refused whole is resent as it was")

        try learner.send(.batchAck(BatchAck(batchID: resent.batchID, accepted: 2, rejected: 2,
                                            reason: "overloaded: learner buffer holds 16 trajectories (×2)", policyVersion: 1)), to: id)
        let next = try nextBatch(learner)
        XCTAssertNotEqual(next.batchID, resent.batchID)
        XCTAssertTrue(Set(next.trajectories.map(\.seed)).isDisjoint(with: first.trajectories.map(\.seed)),
                      "a partly accepted batch was resent: seeds \(next.trajectories.map(\.seed))")
        try learner.send(.batchAck(BatchAck(batchID: next.batchID, accepted: 4, policyVersion: 1)), to: id)

        let beat = try learner.receive {
            if case let .heartbeat(h) = $0 { h.counters.contains { $0.name == "trajectories_accepted" && $0.value == 6 } }
            else { false }
        }
        guard case let .heartbeat(heartbeat) = beat.envelope.payload else { return }
        func counter(_ name: String) -> Double? { heartbeat.counters.first { $0.name == name }?.value }
        XCTAssertEqual(counter("trajectories_rejected"), 6)
        XCTAssertEqual(counter("acks_timed_out"), 0)

        try learner.send(.terminate(Terminate(reason: "test over")), to: id)
        _ = try learner.receive { if case .terminateAck = $0 { true } else { false } }
        XCTAssertEqual(run.waitForExit(actor), 0, run.log("actor-0"))
    }
}
