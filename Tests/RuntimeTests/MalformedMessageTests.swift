import Foundation
import Numerics
import Runtime
import Wire
import XCTest
import ZMQ

/// Bytes no correct peer sends — random, truncated, a valid envelope of the wrong kind, the
/// wrong frame count, an unknown kind, an unsupported version — sent to every socket of a
/// real learner process and to a real reward worker process: each is counted, none crashes
/// anything, and everything valid around them is still accepted and used.
final class MalformedMessageTests: XCTestCase {
    private var run: RunHarness!

    override func tearDown() {
        run?.tearDown()
        super.tearDown()
    }

    private func metric(_ stats: Stats, _ name: String) -> Int {
        Int(stats.metrics.first { $0.name == name }?.value ?? -1)
    }

    func testLearnerCountsEveryBadMessageAndLosesNothingAccepted() throws {
        run = try RunHarness("badlearner")
        // The test peers send no heartbeats: a long liveness keeps them welcomed.
        let path = try run.writeConfig("updates: 0\ntrajectories_per_update: 4\nliveness: 100\n")
        let config = try RunConfig.loading(path: path)
        let learner = try run.startRole("learner", "learner", config: path)
        let context = try ZMQContext()
        let supervisor = try RawPeer(context, .dealer, connect: config.endpoints.control)
        let actor = try RawPeer(context, .dealer, connect: config.endpoints.control)
        let frontend = try RawPeer(context, .dealer, connect: config.endpoints.rewardFrontend)
        let backend = try RawPeer(context, .dealer, connect: config.endpoints.rewardBackend)
        defer { for peer in [supervisor, actor, frontend, backend] { try? peer.socket.close() } }

        try supervisor.send(.hello(Hello(role: .supervisor, instanceID: "test-supervisor", pid: 1, policyVersion: 0)))
        _ = try supervisor.receive { if case .welcome = $0 { true } else { false } }
        try actor.send(.hello(Hello(role: .actor, instanceID: "test-actor", pid: 1, policyVersion: 0,
                                    configDigest: config.configDigest)))
        _ = try actor.receive { if case .welcome = $0 { true } else { false } }
        let weights = try actor.receive { if case .weights = $0 { true } else { false } }
        guard case let .weights(initial) = weights.envelope.payload else { return }
        XCTAssertEqual(initial.version, 1)
        XCTAssertEqual(initial.tensors.map(\.name), ["linear.scale", "linear.shift"])

        let hello = Envelope.Payload.hello(Hello(role: .actor, instanceID: "x", pid: 1, policyVersion: 0))
        let ack = Envelope.Payload.batchAck(BatchAck(batchID: 1, accepted: 1, policyVersion: 1))
        // control: 3 malformed, 1 wrong frame count, 1 unknown kind, 1 unsupported version, 1 unexpected kind.
        try actor.sendFrames([BadBytes.random(100, seed: 1)])
        try actor.sendFrames([BadBytes.random(3, seed: 2)])
        try actor.sendFrames([BadBytes.truncated(hello)])
        try actor.sendFrames([[1, 2], [3]])
        try actor.sendFrames([BadBytes.unknownKind])
        try actor.sendFrames([BadBytes.versionTwo(hello)])
        try actor.send(ack)
        // frontend: 2 malformed, 1 wrong frame count, 1 unexpected kind.
        try frontend.sendFrames([BadBytes.random(1000, seed: 3)])
        try frontend.sendFrames([BadBytes.truncated(ack)])
        try frontend.sendFrames([[], [], []])
        try frontend.send(hello)
        // backend: 1 malformed, 1 wrong frame count, 1 unknown kind, 1 from a worker never welcomed.
        try backend.sendFrames([BadBytes.random(64, seed: 4)])
        try backend.sendFrames([[9], [9]])
        try backend.sendFrames([BadBytes.unknownKind])
        try backend.send(ack)
        func error(_ peer: RawPeer, _ code: ErrorReport.Code) throws {
            _ = try peer.receive { if case let .error(report) = $0 { report.code == code } else { false } }
        }
        // Each socket is read in order, so the answer to its last message means all were handled.
        try error(actor, .malformed)
        try error(actor, .unexpected)
        try error(frontend, .unexpected)
        try error(backend, .notWelcomed)

        // Valid batches after all that: every trajectory is acknowledged, buffered and trained on.
        for batch in 1...3 {
            let trajectories = testTrajectories(config, count: 4, version: 1, seed: UInt64(batch) * 100)
            try actor.send(.trajectoryBatch(TrajectoryBatch(actorID: "test-actor", batchID: UInt64(batch),
                                                            trajectories: trajectories)))
            let answer = try actor.receive { if case .batchAck = $0 { true } else { false } }
            guard case let .batchAck(batchAck) = answer.envelope.payload else { return }
            XCTAssertEqual(batchAck.batchID, UInt64(batch))
            XCTAssertEqual(batchAck.accepted, 4, batchAck.reason)
        }
        let statsMessage = try supervisor.receive { if case let .stats(s) = $0 { s.policyVersion == 4 } else { false } }
        guard case let .stats(stats) = statsMessage.envelope.payload else { return }
        XCTAssertEqual(metric(stats, "trajectories_accepted_total"), 12)
        XCTAssertEqual(metric(stats, "trajectories_trained_total"), 12)
        XCTAssertEqual(metric(stats, "rejected_malformed"), 3 + 2 + 1)
        XCTAssertEqual(metric(stats, "rejected_wrong_frames"), 3)
        XCTAssertEqual(metric(stats, "rejected_unknown_kind"), 2)
        XCTAssertEqual(metric(stats, "rejected_unsupported_version"), 1)
        XCTAssertEqual(metric(stats, "rejected_unexpected"), 2)
        XCTAssertEqual(metric(stats, "rejected_not_welcomed"), 1)
        XCTAssertTrue(stats.metrics.contains { $0.name == "loss" && $0.value.isFinite })

        // The learner still ends the run normally: TERMINATE → peers → acknowledgement.
        try supervisor.send(.terminate(Terminate(reason: "test over")))
        _ = try actor.receive { if case .terminate = $0 { true } else { false } }
        try actor.send(.terminateAck(TerminateAck()))
        _ = try supervisor.receive { if case .terminateAck = $0 { true } else { false } }
        XCTAssertEqual(run.waitForExit(learner), 0, run.log("learner"))
    }

    func testRewardWorkerCountsEveryBadMessageAndStillScores() throws {
        run = try RunHarness("badworker")
        let path = try run.writeConfig()
        let config = try RunConfig.loading(path: path)
        let context = try ZMQContext()
        // The test plays the broker: a ROUTER on the backend endpoint.
        let broker = try RawPeer(context, .router, bind: config.endpoints.rewardBackend)
        defer { try? broker.socket.close() }
        let worker = try run.startRole("reward-0", "reward-worker", config: path, ["--instance", "reward-0"])

        let hello = try broker.receive { if case .hello = $0 { true } else { false } }
        let id = hello.identity
        try broker.send(.welcome(Welcome(runID: "test", policyVersion: 1, heartbeatIntervalMilliseconds: 100,
                                         liveness: 100)), to: id)
        _ = try broker.receive { if case .ready = $0 { true } else { false } }

        let request = RewardRequest(requestID: 7, images: Tensor(repeating: 0.5, shape: [2, 3, 32, 32]),
                                    prompts: ["a red circle", "a blue square"])
        try broker.sendFrames([BadBytes.random(50, seed: 5)], to: id)
        try broker.sendFrames([BadBytes.random(5000, seed: 6)], to: id)
        try broker.sendFrames([BadBytes.truncated(.rewardRequest(request))], to: id)
        try broker.sendFrames([[1], [2]], to: id)
        try broker.sendFrames([BadBytes.unknownKind], to: id)
        try broker.sendFrames([BadBytes.versionTwo(.rewardRequest(request))], to: id)
        try broker.send(.batchAck(BatchAck(batchID: 1, accepted: 1, policyVersion: 1)), to: id)
        try broker.send(.rewardRequest(request), to: id)

        let answer = try broker.receive { if case .rewardResult = $0 { true } else { false } }
        guard case let .rewardResult(result) = answer.envelope.payload else { return }
        let expected = TestLinearScorer(config: config).score(images: request.images, safePrompts: request.prompts)
        XCTAssertEqual(result.requestID, 7)
        XCTAssertEqual(result.rewards, expected.map(\.reward))
        XCTAssertEqual(result.unsafe, expected.map(\.unsafe))

        let beat = try broker.receive {
            if case let .heartbeat(h) = $0 { h.counters.contains { $0.name == "requests_scored" && $0.value == 1 } } else { false }
        }
        guard case let .heartbeat(heartbeat) = beat.envelope.payload else { return }
        func counter(_ name: String) -> Int { Int(heartbeat.counters.first { $0.name == name }?.value ?? -1) }
        XCTAssertEqual(counter("rejected_malformed"), 3)
        XCTAssertEqual(counter("rejected_wrong_frames"), 1)
        XCTAssertEqual(counter("rejected_unknown_kind"), 1)
        XCTAssertEqual(counter("rejected_unsupported_version"), 1)
        XCTAssertEqual(counter("rejected_unexpected"), 1)

        try broker.send(.terminate(Terminate(reason: "test over")), to: id)
        _ = try broker.receive { if case .terminateAck = $0 { true } else { false } }
        XCTAssertEqual(run.waitForExit(worker), 0, run.log("reward-0"))
    }
}
