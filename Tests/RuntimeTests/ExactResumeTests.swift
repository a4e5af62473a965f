import Checkpoint
import Foundation
import Numerics
import Runtime
import Wire
import XCTest
import ZMQ

#if canImport(Glibc)
import Glibc
#endif

/// A resumed run is the run that would have happened: a learner process fed six scripted
/// batches straight, and one stopped after three and resumed from its final checkpoint, then
/// fed the other three, end with bit-identical checkpoints (parameters, optimizer moments and
/// step, RNG streams, per-prompt statistics, the stop rule's window, the trained count).
final class ExactResumeTests: XCTestCase {
    private var runs: [RunHarness] = []

    override func tearDown() {
        for run in runs { run.tearDown() }
        super.tearDown()
    }

    /// Batch `k` (1-based) of the script: 8 trajectories of fixed seeds, tagged `version`, with
    /// rewards that differ per prompt and an unsafe share that differs per batch.
    private static func batch(_ k: Int, version: UInt64, config: RunConfig) -> [Trajectory] {
        let prompts = (0..<8).map { "prompt \($0 % 3)" }
        let seeds = (0..<8).map { UInt64(1000 * k + $0) }
        var trajectories = TestLinearSampler(config: config)
            .sample(prompts: prompts, safePrompts: prompts, seeds: seeds, version: version).trajectories
        for i in trajectories.indices {
            trajectories[i].reward = Float((i * 7 + k * 3) % 11) / 10 - 0.5
            trajectories[i].alignment = 0.5
            trajectories[i].unsafeProbability = i < k % 4 ? 0.9 : 0.1
        }
        return trajectories
    }

    /// Plays a scripted actor against the learner at `config`: HELLO, then for each of
    /// `batches` one TRAJECTORY_BATCH at the learner's current version, waiting for the next
    /// version before the next batch; answers TERMINATE. Heartbeats every 50 ms.
    private func script(_ run: RunHarness, configPath: String, batches: ClosedRange<Int>) throws {
        let config = try RunConfig.loading(path: configPath)
        let context = try ZMQContext()
        defer { try? context.close() }
        let peer = try RawPeer(context, .dealer, connect: config.endpoints.control)
        defer { try? peer.socket.close() }
        try peer.send(.hello(Hello(role: .actor, instanceID: "script", pid: UInt32(getpid()), policyVersion: 0,
                                   configDigest: config.configDigest)), sender: "script")
        var version: UInt64 = 0
        var lastBeat = ContinuousClock.now
        /// Receives until `done`, heartbeating; tracks the learner's version.
        func serve(_ what: String, until done: () -> Bool) throws {
            let deadline = ContinuousClock.now + .seconds(20)
            while !done() {
                guard ContinuousClock.now < deadline else { throw RuntimeError("scripted actor: timed out waiting for \(what)\n\(run.allLogs())") }
                if ContinuousClock.now - lastBeat >= .milliseconds(50) {
                    try peer.send(.heartbeat(Heartbeat(policyVersion: 0)), sender: "script")
                    lastBeat = .now
                }
                guard let frames = try? peer.socket.receiveMultipart(timeout: .milliseconds(20)) else { continue }
                let envelope = try Envelope(decoding: frames.last!)
                switch envelope.payload {
                case let .welcome(w): version = max(version, w.policyVersion)
                case let .weights(w): version = max(version, w.version)
                case let .heartbeat(h): version = max(version, h.policyVersion)
                case let .batchAck(ack):
                    XCTAssertEqual(ack.accepted, 8, "batch refused: \(ack.reason)")
                case .terminate:
                    try peer.send(.terminateAck(TerminateAck()), sender: "script")
                    version = .max
                default: break
                }
            }
        }
        try serve("WELCOME") { version > 0 }
        for k in batches {
            let at = version
            try peer.send(.trajectoryBatch(TrajectoryBatch(actorID: "script", batchID: UInt64(k),
                                                           trajectories: Self.batch(k, version: at, config: config))),
                          sender: "script")
            try serve("version \(at + 1)") { version > at }
        }
        try serve("TERMINATE") { version == .max }
    }

    /// The final checkpoint of `run`, and the losses of its metrics lines.
    private func result(_ run: RunHarness) throws -> (checkpoint: LearnerCheckpoint, losses: [Double]) {
        let folder = CheckpointFolder(directory: run.directory.appendingPathComponent("run/checkpoints"))
        let checkpoint = try XCTUnwrap(try folder.latest()).checkpoint
        return (checkpoint, run.metrics().compactMap { $0["loss"] as? Double })
    }

    /// A run folder with its config for `updates` (same seed and settings otherwise).
    private func harness(_ name: String) throws -> RunHarness {
        let run = try RunHarness(name)
        runs.append(run)
        return run
    }

    private func config(_ run: RunHarness, updates: Int) throws -> String {
        try run.writeConfig("updates: \(updates)\nreward_workers: 0\nseed: 5\nshutdown_timeout_ms: 500\n", file: "config-\(updates).yaml")
    }

    func testStoppedAndResumedRunEndsBitIdenticalToTheStraightRun() throws {
        let straight = try harness("straight")
        let six = try config(straight, updates: 6)
        let a = try straight.startRole("learner", "learner", config: six)
        try script(straight, configPath: six, batches: 1...6)
        XCTAssertEqual(straight.waitForExit(a), 0, straight.allLogs())

        let resumed = try harness("resumed")
        let three = try config(resumed, updates: 3)
        let firstLife = try resumed.startRole("learner", "learner", config: three)
        try script(resumed, configPath: three, batches: 1...3)
        XCTAssertEqual(resumed.waitForExit(firstLife), 0, resumed.allLogs())
        let sixResumed = try config(resumed, updates: 6)
        let secondLife = try resumed.startRole("learner", "learner", config: sixResumed, ["--resume"])
        try script(resumed, configPath: sixResumed, batches: 4...6)
        XCTAssertEqual(resumed.waitForExit(secondLife), 0, resumed.allLogs())
        XCTAssertTrue(resumed.log("learner").contains("version 4,"), resumed.log("learner"))

        let (x, y) = (try result(straight), try result(resumed))
        XCTAssertEqual(x.checkpoint.version, 7)
        XCTAssertEqual(y.checkpoint.version, 7)
        XCTAssertEqual(x.losses.count, 6)
        XCTAssertEqual(x.losses.map(\.bitPattern), y.losses.map(\.bitPattern), "losses \(x.losses) vs \(y.losses)")
        XCTAssertEqual(Set(x.checkpoint.tensors.keys), Set(y.checkpoint.tensors.keys))
        for (name, tensor) in x.checkpoint.tensors {
            XCTAssertEqual(tensor.shape, y.checkpoint.tensors[name]?.shape, name)
            XCTAssertEqual(tensor.data.map(\.bitPattern), y.checkpoint.tensors[name]?.data.map(\.bitPattern), "\(name) differs")
        }
        // Model state (optimizer step, RNG, prompt statistics), JSON compared as values (key order is free).
        XCTAssertEqual(Set(x.checkpoint.metadata.keys), Set(y.checkpoint.metadata.keys))
        func value(_ text: String?) -> NSObject? {
            guard let text else { return nil }
            return (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)) as? NSObject ?? text as NSString
        }
        for (key, text) in x.checkpoint.metadata {
            XCTAssertEqual(value(text), value(y.checkpoint.metadata[key]), "model state \(key) differs")
        }
        XCTAssertEqual(x.checkpoint.recentUnsafeFractions.count, 5)
        XCTAssertEqual(x.checkpoint.recentUnsafeFractions, y.checkpoint.recentUnsafeFractions, "the stop rule's window")
        XCTAssertEqual(x.checkpoint.trajectoriesTrained, 48)
        XCTAssertEqual(y.checkpoint.trajectoriesTrained, 48)
        // The trained parameters moved: identical because the runs agree, not because nothing trained.
        let initial = TestLinearPolicy(config: try RunConfig.loading(path: six)).initialParameters(seed: 5)
        let trained = try XCTUnwrap(x.checkpoint.tensors.first { $0.key.hasSuffix(TestLinearPolicy.scaleName) }?.value)
        XCTAssertNotEqual(initial[TestLinearPolicy.scaleName]?.data, trained.data)
    }
}
