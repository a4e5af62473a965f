import Foundation
import Numerics
import Runtime
import Wire
import XCTest
import ZMQ

#if canImport(Glibc)
import Glibc
#endif

/// An actor keeps its unacknowledged batches when the learner dies and resends them after the
/// next WELCOME if that WELCOME is of the same run at a version ≥ theirs (PROTOCOL.md §5.1);
/// otherwise it discards them. The learner here is the test: a ROUTER on the control endpoint
/// that welcomes, never acknowledges, and "dies" by going silent.
final class ActorCarryOverTests: XCTestCase {
    private var run: RunHarness!

    override func tearDown() {
        run?.tearDown()
        super.tearDown()
    }

    func testUnacknowledgedBatchesAreResentToARestartedLearnerOnlyWhileTheirVersionIsValid() throws {
        run = try RunHarness("carry")
        let path = try run.writeConfig("reward_workers: 0\nmax_in_flight_batches: 2\n")
        let config = try RunConfig.loading(path: path)
        let context = try ZMQContext()
        defer { try? context.close() }
        let learner = try RawPeer(context, .router, bind: config.endpoints.control)
        defer { try? learner.socket.close() }
        try run.startRole("actor-0", "actor", config: path, ["--instance", "actor-0"])
        let initial = TestLinearPolicy(config: config).initialParameters(seed: config.seed)
        let weights = { (v: UInt64) in Weights(version: v, tensors: initial.keys.sorted().map { WireTensor(name: $0, tensor: initial[$0]!) }) }

        /// Waits for a HELLO (a new connection), welcomes it as run `runID` at `version`.
        func session(_ runID: String, at version: UInt64) throws -> [UInt8] {
            let (identity, _) = try learner.receive { if case .hello = $0 { return true } else { return false } }
            try learner.send(.welcome(Welcome(runID: runID, policyVersion: version, heartbeatIntervalMilliseconds: 100,
                                              liveness: 3, configDigest: config.configDigest, maxInFlightBatches: 2)),
                             to: identity, sender: "learner")
            try learner.send(.weights(weights(version)), to: identity, sender: "learner")
            return identity
        }
        /// The next two TRAJECTORY_BATCHes, unacknowledged.
        func twoBatches() throws -> [TrajectoryBatch] {
            try (0..<2).map { _ in
                let (_, envelope) = try learner.receive { if case .trajectoryBatch = $0 { return true } else { return false } }
                guard case let .trajectoryBatch(batch) = envelope.payload else { throw RuntimeError("not a batch") }
                return batch
            }
        }
        let seeds = { (batches: [TrajectoryBatch]) in Set(batches.flatMap { $0.trajectories.map(\.seed) }) }

        // Session 1 at v3: two batches fill the in-flight window; no ACK, then silence.
        _ = try session("run-a", at: 3)
        let first = try twoBatches()
        XCTAssertEqual(Set(first.flatMap { $0.trajectories.map(\.policyVersion) }), [3])

        // The actor declares the learner dead and says HELLO again; the same run at v3: the
        // very batches come back first (new batch ids, same trajectories).
        _ = try session("run-a", at: 3)
        let resent = try twoBatches()
        XCTAssertEqual(seeds(resent), seeds(first))
        XCTAssertTrue(Set(resent.map(\.batchID)).isDisjoint(with: first.map(\.batchID)))
        run.waitUntil("the actor says it resent them") { run.log("actor-0").contains("2 batch(es) resent, 0 discarded") }

        // The same run resumed at v2: versions above 2 were lost, so those batches are void;
        // what comes next is freshly sampled at v2.
        _ = try session("run-a", at: 2)
        let fresh = try twoBatches()
        XCTAssertEqual(Set(fresh.flatMap { $0.trajectories.map(\.policyVersion) }), [2])
        XCTAssertTrue(seeds(fresh).isDisjoint(with: seeds(first)))
        run.waitUntil("the actor says it discarded them") { run.log("actor-0").contains("0 batch(es) resent, 2 discarded") }

        // Another run: nothing carries over, even at a higher version.
        _ = try session("run-b", at: 9)
        let other = try twoBatches()
        XCTAssertEqual(Set(other.flatMap { $0.trajectories.map(\.policyVersion) }), [9])
        XCTAssertTrue(seeds(other).isDisjoint(with: seeds(fresh)))
    }
}
