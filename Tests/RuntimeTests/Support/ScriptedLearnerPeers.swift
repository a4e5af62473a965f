import Foundation
import Runtime
import Wire
import XCTest
import ZMQ

/// A real learner process with a scripted supervisor and a scripted actor (raw DEALERs
/// speaking the real wire), so a test sends exactly the batch under test and reads the exact
/// BATCH_ACK and the STATS counters the learner reports after each update.
final class ScriptedLearnerPeers {
    let run: RunHarness
    let config: RunConfig
    let learner: Process
    let context: ZMQContext
    let supervisor: RawPeer
    let actor: RawPeer
    private var batchID: UInt64 = 0

    /// Starts the learner with the harness config plus `extra` (long liveness: the scripted
    /// peers send no heartbeats), then welcomes the supervisor and the actor.
    init(_ run: RunHarness, extra: String = "") throws {
        self.run = run
        let path = try run.writeConfig("updates: 0\nliveness: 1000\n" + extra)
        config = try RunConfig.loading(path: path)
        learner = try run.startRole("learner", "learner", config: path)
        context = try ZMQContext()
        supervisor = try RawPeer(context, .dealer, connect: config.endpoints.control)
        actor = try RawPeer(context, .dealer, connect: config.endpoints.control)
        try supervisor.send(.hello(Hello(role: .supervisor, instanceID: "test-supervisor", pid: 1, policyVersion: 0)))
        _ = try supervisor.receive { if case .welcome = $0 { true } else { false } }
        try actor.send(.hello(Hello(role: .actor, instanceID: "test-actor", pid: 1, policyVersion: 0,
                                    configDigest: config.configDigest)))
        _ = try actor.receive { if case .welcome = $0 { true } else { false } }
    }

    /// Valid trajectories of the test policy tagged with `version`.
    func trajectories(_ count: Int, version: UInt64, seed: UInt64 = 1, unsafe: Float? = nil) -> [Trajectory] {
        var made = testTrajectories(config, count: count, version: version, seed: seed)
        if let unsafe { for i in made.indices { made[i].unsafeProbability = unsafe } }
        return made
    }

    /// Sends one TRAJECTORY_BATCH and returns its BATCH_ACK.
    func send(_ trajectories: [Trajectory], file: StaticString = #filePath, line: UInt = #line) throws -> BatchAck {
        batchID += 1
        let id = batchID
        try actor.send(.trajectoryBatch(TrajectoryBatch(actorID: "test-actor", batchID: id, trajectories: trajectories)))
        let answer = try actor.receive(file: file, line: line) {
            if case let .batchAck(ack) = $0 { ack.batchID == id } else { false }
        }
        guard case let .batchAck(ack) = answer.envelope.payload else { throw RuntimeError("not an ack") }
        return ack
    }

    /// The STATS the learner sends once it has published `version`.
    func stats(version: UInt64, file: StaticString = #filePath, line: UInt = #line) throws -> Stats {
        let message = try supervisor.receive(timeout: .seconds(20), file: file, line: line) {
            if case let .stats(s) = $0 { s.policyVersion == version } else { false }
        }
        guard case let .stats(stats) = message.envelope.payload else { throw RuntimeError("not stats") }
        return stats
    }

    /// Sends batches of `trajectories_per_update` fresh trajectories until the learner has
    /// published `version`; returns the last STATS.
    @discardableResult
    func advance(to version: UInt64, from current: UInt64 = 1) throws -> Stats? {
        var last: Stats?
        for v in current..<version {
            let ack = try send(trajectories(config.trajectoriesPerUpdate, version: v, seed: 1000 * v))
            XCTAssertEqual(ack.accepted, UInt32(config.trajectoriesPerUpdate), ack.reason)
            last = try stats(version: v + 1)
        }
        return last
    }

    /// Ends the run as a supervisor does and checks that the learner exits cleanly.
    func end(file: StaticString = #filePath, line: UInt = #line) throws {
        try supervisor.send(.terminate(Terminate(reason: "test over")))
        _ = try actor.receive(file: file, line: line) { if case .terminate = $0 { true } else { false } }
        try actor.send(.terminateAck(TerminateAck()))
        _ = try supervisor.receive(file: file, line: line) { if case .terminateAck = $0 { true } else { false } }
        XCTAssertEqual(run.waitForExit(learner), 0, run.log("learner"), file: file, line: line)
    }

    func close() {
        for peer in [supervisor, actor] { try? peer.socket.close() }
    }
}

extension Stats {
    /// The value of the metric `name` (nil when absent).
    subscript(_ name: String) -> Double? { metrics.first { $0.name == name }?.value }
}
