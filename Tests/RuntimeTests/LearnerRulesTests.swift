import Foundation
import Numerics
import Runtime
import Wire
import XCTest
import ZMQ

/// The learner's acceptance rules (PROTOCOL.md §5.4) at its real socket: a real learner
/// process, a scripted actor sending exactly the batch under test, and the exact BATCH_ACK
/// and STATS counters that follow, so an off-by-one in a rule fails.
final class LearnerRulesTests: XCTestCase {
    private var run: RunHarness!
    private var peers: ScriptedLearnerPeers?

    override func tearDown() {
        peers?.close()
        run?.tearDown()
        super.tearDown()
    }

    private func start(_ name: String, _ extra: String) throws -> ScriptedLearnerPeers {
        run = try RunHarness(name)
        let started = try ScriptedLearnerPeers(run, extra: extra)
        peers = started
        return started
    }

    /// Lag exactly `max_policy_lag` is accepted, one more is `stale`, a version ahead of the
    /// learner's is `future`; the accepted lag-2 trajectory is trained on.
    func testLagAtTheBoundIsAcceptedOneMoreIsStaleAndAheadIsFuture() throws {
        let p = try start("lag", "max_policy_lag: 2\ntrajectories_per_update: 4\n")
        try p.advance(to: 4)
        let batch = p.trajectories(1, version: 2, seed: 1) + p.trajectories(1, version: 1, seed: 2)
            + p.trajectories(1, version: 4, seed: 3) + p.trajectories(1, version: 5, seed: 4)
        let ack = try p.send(batch)
        XCTAssertEqual(ack.accepted, 2, ack.reason)
        XCTAssertEqual(ack.rejected, 2, ack.reason)
        XCTAssertEqual(ack.policyVersion, 4)
        XCTAssertEqual(ack.reason, "stale: lag 3 > max_policy_lag 2 (×1); future: version 5 > learner version 4 (×1)")

        XCTAssertEqual(try p.send(p.trajectories(2, version: 4, seed: 5)).accepted, 2)
        let stats = try p.stats(version: 5)
        XCTAssertEqual(stats["rejected_stale_total"], 1)
        XCTAssertEqual(stats["rejected_future_total"], 1)
        XCTAssertEqual(stats["trajectories_accepted_total"], 16)
        XCTAssertEqual(stats["trajectories_trained_total"], 16)
        XCTAssertEqual(stats["lag_max"], 2, "the lag-2 trajectory is in the trained batch")
        try p.end()
    }

    /// Trajectories that do not fit the model are `invalid`, each with its own reason.
    func testTrajectoriesOfTheWrongShapeAreInvalid() throws {
        let p = try start("shape", "trajectories_per_update: 4\n")
        let good = p.trajectories(4, version: 1)
        var narrow = good[1]
        narrow.latents = Tensor(repeating: 0.1, shape: [5, 8])
        var short = good[2]
        short.timesteps = Array(short.timesteps.prefix(3))
        short.latents = Tensor(shape: [4, 16], data: Array(short.latents.data.prefix(4 * 16)))
        short.logProbs = Array(short.logProbs.prefix(3))
        var shifted = good[3]
        shifted.timesteps[0] -= 1
        let ack = try p.send([good[0], narrow, short, shifted])
        XCTAssertEqual(ack.accepted, 1, ack.reason)
        XCTAssertEqual(ack.rejected, 3, ack.reason)
        XCTAssertEqual(ack.reason, "invalid: latents [5, 8], the model needs [5, 16] (×1); "
                       + "invalid: 3 steps, the model samples 4 (×1); invalid: timesteps differ from the model's schedule (×1)")
        XCTAssertEqual(try p.send(p.trajectories(3, version: 1, seed: 9)).accepted, 3)
        let stats = try p.stats(version: 2)
        XCTAssertEqual(stats["rejected_invalid_total"], 3)
        XCTAssertEqual(stats["trajectories_trained_total"], 4)
        try p.end()
    }

    /// A full buffer (`max_buffered_trajectories` = 16) takes exactly 16 of a batch of 20 and
    /// refuses 4 as `overloaded`; the 16 are trained on in two updates of 8.
    func testAFullBufferRefusesExactlyTheExcessAsOverloaded() throws {
        let p = try start("overload", "max_buffered_trajectories: 16\ntrajectories_per_update: 8\n")
        let ack = try p.send(p.trajectories(20, version: 1))
        XCTAssertEqual(ack.accepted, 16, ack.reason)
        XCTAssertEqual(ack.rejected, 4, ack.reason)
        XCTAssertEqual(ack.reason, "overloaded: learner buffer holds 16 trajectories (×4)")
        let stats = try p.stats(version: 3)
        XCTAssertEqual(stats["rejected_overloaded_total"], 4)
        XCTAssertEqual(stats["trajectories_accepted_total"], 16)
        XCTAssertEqual(stats["trajectories_trained_total"], 16)
        XCTAssertEqual(stats["buffered"], 0)
        try p.end()
    }

    /// Ten trajectories of v1 with max_policy_lag 1 and updates of 4: two updates take eight
    /// (lags 0 and 1); at v3 the last two are two versions old and are dropped before the
    /// next update, which trains only on fresh ones.
    func testTrajectoriesThatGrowStaleInTheBufferAreDroppedBeforeAnUpdate() throws {
        let p = try start("stalebuf", "max_policy_lag: 1\ntrajectories_per_update: 4\n")
        XCTAssertEqual(try p.send(p.trajectories(10, version: 1)).accepted, 10)
        let third = try p.stats(version: 3)
        XCTAssertEqual(third["buffered"], 2)
        XCTAssertEqual(third["lag_max"], 1)
        XCTAssertEqual(third["stale_in_buffer_total"], 0)
        XCTAssertEqual(try p.send(p.trajectories(4, version: 3, seed: 50)).accepted, 4)
        let fourth = try p.stats(version: 4)
        XCTAssertEqual(fourth["stale_in_buffer_total"], 2)
        XCTAssertEqual(fourth["lag_max"], 0, "a stale trajectory was trained on")
        XCTAssertEqual(fourth["trajectories_trained_total"], 12)
        XCTAssertEqual(fourth["buffered"], 0)
        try p.end()
    }

    /// A HELLO with another config digest gets CONFIG_MISMATCH and no WELCOME: what that
    /// peer sends next is answered NOT_WELCOMED and never used.
    func testHelloWithAnotherConfigDigestIsRefused() throws {
        let p = try start("digest", "trajectories_per_update: 4\n")
        let stranger = try RawPeer(p.context, .dealer, connect: p.config.endpoints.control)
        defer { try? stranger.socket.close() }
        try stranger.send(.hello(Hello(role: .actor, instanceID: "stranger", pid: 2, policyVersion: 0,
                                       configDigest: "test-linear-n9-d16-0")))
        let refusal = try stranger.receive { if case .error = $0 { true } else { false } }
        guard case let .error(report) = refusal.envelope.payload else { return }
        XCTAssertEqual(report.code, .configMismatch)
        XCTAssertEqual(report.detail, "config digest test-linear-n9-d16-0 differs from the learner's \(p.config.configDigest)")
        try stranger.send(.trajectoryBatch(TrajectoryBatch(actorID: "stranger", batchID: 1,
                                                           trajectories: p.trajectories(4, version: 1))))
        let answer = try stranger.receive { if case .batchAck = $0 { true } else if case .error = $0 { true } else { false } }
        guard case let .error(notWelcomed) = answer.envelope.payload else {
            return XCTFail("a refused peer's batch was acknowledged: \(answer.envelope.payload)")
        }
        XCTAssertEqual(notWelcomed.code, .notWelcomed)
        XCTAssertEqual(try p.send(p.trajectories(4, version: 1, seed: 7)).accepted, 4)
        let stats = try p.stats(version: 2)
        XCTAssertEqual(stats["trajectories_accepted_total"], 4, "the refused peer's batch was used")
        XCTAssertEqual(stats["rejected_unexpected"], 1)
        XCTAssertEqual(stats["rejected_not_welcomed"], 1)
        try p.end()
    }

    /// A real actor process whose config differs in a model-shape key is refused and exits
    /// with an error naming the mismatch.
    func testActorProcessWithAnotherModelShapeExitsRefused() throws {
        run = try RunHarness("digestproc")
        let learnerConfig = try run.writeConfig("updates: 0\n")
        try run.startRole("learner", "learner", config: learnerConfig)
        let actor = try run.startRole("actor-0", "actor", config: learnerConfig,
                                      ["--instance", "actor-0", "--set", "hyperparameters.steps=5"])
        XCTAssertEqual(run.waitForExit(actor), 1, run.allLogs())
        XCTAssertTrue(run.log("actor-0").contains("the learner refused this actor: configMismatch"), run.log("actor-0"))
    }

    /// An update that throws on the update thread (a trajectory whose stored log-probability
    /// makes the importance ratio infinite: non-finite gradient) drops that batch, keeps the
    /// version, and the learner trains the next batch normally.
    func testAnUpdateThatThrowsDropsItsBatchAndTheLearnerGoesOn() throws {
        let p = try start("throws", "trajectories_per_update: 4\n")
        var poisoned = p.trajectories(4, version: 1)
        for i in poisoned.indices {
            poisoned[i].reward = [0.1, 0.9, 0.5, 0.7][i]
            poisoned[i].logProbs = poisoned[i].logProbs.map { _ in -3e38 }
        }
        XCTAssertEqual(try p.send(poisoned).accepted, 4)
        run.waitUntil("the failed update is logged") {
            run.log("learner").contains("update to version 2 failed, batch of 4 dropped: AdamW: gradient norm is")
        }
        XCTAssertEqual(try p.send(p.trajectories(4, version: 1, seed: 77)).accepted, 4)
        let stats = try p.stats(version: 2)
        XCTAssertEqual(stats["trajectories_accepted_total"], 8)
        XCTAssertEqual(stats["trajectories_trained_total"], 4)
        XCTAssertEqual(stats["update"], 1)
        try p.end()
    }

    /// The stop rule at the socket: with stop_unsafe_rate 0.25 over stop_window 2, unsafe
    /// shares 0, 1, 0.5, 0 end the run after update 4 exactly (window means –, 0.5, 0.75, 0.25:
    /// the first update's 0 is no full window, and equality stops).
    func testStopRuleEndsTheRunAtTheFirstUpdateWhoseWindowMeetsTheRate() throws {
        let p = try start("stopat", "trajectories_per_update: 4\nstop_unsafe_rate: 0.25\nstop_window: 2\n")
        let unsafeCounts = [0, 4, 2, 0]
        for (k, unsafeCount) in unsafeCounts.enumerated() {
            let version = UInt64(k + 1)
            var batch = p.trajectories(4, version: version, seed: 100 * version)
            for i in batch.indices { batch[i].unsafeProbability = i < unsafeCount ? 0.9 : 0.1 }
            XCTAssertEqual(try p.send(batch).accepted, 4)
            let stats = try p.stats(version: version + 1)
            XCTAssertEqual(stats["unsafe_fraction"], Double(unsafeCount) / 4)
        }
        let terminate = try p.actor.receive { if case .terminate = $0 { true } else { false } }
        guard case let .terminate(message) = terminate.envelope.payload else { return }
        XCTAssertEqual(message.reason, "unsafe share 0.250 ≤ stop_unsafe_rate over the last 2 updates")
        XCTAssertTrue(run.log("learner").contains("ending the run (unsafe share 0.250 ≤ stop_unsafe_rate over the last 2 updates) at version 5"),
                      run.log("learner"))
        try p.actor.send(.terminateAck(TerminateAck()))
        XCTAssertEqual(run.waitForExit(p.learner), 0, run.log("learner"))
    }
}
