import Foundation
import Runtime
import Wire
import XCTest
import ZMQ

/// A scripted learner (a ROUTER on control speaking the real wire) and one real actor process:
/// the actor is welcomed at version 1 with the test policy's weights, so a test reads the
/// actor's exact batches and answers each as it likes.
final class ScriptedLearner {
    let config: RunConfig
    let actor: Process
    private let run: RunHarness
    private let context: ZMQContext
    private let socket: RawPeer
    private let actorIdentity: [UInt8]

    /// Starts `actor-0` with the harness config plus `extra`. reward_workers 0 in `extra` lets
    /// the actor score in-process, so the test plays only the learner.
    init(_ run: RunHarness, extra: String) throws {
        self.run = run
        let path = try run.writeConfig(extra)
        config = try RunConfig.loading(path: path)
        context = try ZMQContext()
        socket = try RawPeer(context, .router, bind: config.endpoints.control)
        actor = try run.startRole("actor-0", "actor", config: path, ["--instance", "actor-0"])
        actorIdentity = try socket.receive { if case .hello = $0 { true } else { false } }.identity
        try send(.welcome(Welcome(runID: "test", policyVersion: 1, heartbeatIntervalMilliseconds: 100, liveness: 1000,
                                  configDigest: config.configDigest, maxInFlightBatches: 1)))
        let trainable = TestLinearLearner(config: config).trainable
        try send(.weights(Weights(version: 1, tensors: trainable.keys.sorted().map {
            WireTensor(name: $0, tensor: trainable[$0]!)
        })))
    }

    /// Sends `payload` to the actor.
    func send(_ payload: Envelope.Payload) throws {
        try socket.send(payload, to: actorIdentity)
    }

    /// The actor's next TRAJECTORY_BATCH.
    func nextBatch() throws -> TrajectoryBatch {
        let message = try socket.receive { if case .trajectoryBatch = $0 { true } else { false } }
        guard case let .trajectoryBatch(batch) = message.envelope.payload else { throw RuntimeError("not a batch") }
        return batch
    }

    /// The actor's next message that `matches`.
    func receive(_ matches: (Envelope.Payload) -> Bool) throws -> Envelope.Payload {
        try socket.receive(where: matches).envelope.payload
    }

    /// Ends the run as a learner does and checks that the actor exits cleanly.
    func end(file: StaticString = #filePath, line: UInt = #line) throws {
        try send(.terminate(Terminate(reason: "test over")))
        _ = try socket.receive { if case .terminateAck = $0 { true } else { false } }
        XCTAssertEqual(run.waitForExit(actor), 0, run.log("actor-0"), file: file, line: line)
        try? socket.socket.close()
    }
}
