import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A peer that stops answering without exiting (SIGSTOP, later SIGCONT): the learner declares
/// it dead within `heartbeat_interval × liveness` (+ one interval), hands its reward requests
/// to another worker, never waits on it, and takes it back when it continues.
final class HungPeerTests: XCTestCase {
    private var run: RunHarness!

    override func tearDown() {
        for name in ["actor-0", "reward-0"] { run?.signal(name, SIGCONT) }
        run?.tearDown()
        super.tearDown()
    }

    /// The silences (seconds) the learner logged when it declared `name` dead.
    private func declaredSilences(_ name: String) -> [Double] {
        run.log("learner").split(separator: "\n").compactMap { line in
            guard let range = line.range(of: "\(name) (gone \\()?silent for [0-9.]+ s", options: .regularExpression) else { return nil }
            return Double(line[range].split(separator: " ").dropLast().last!)
        }
    }

    private func count(_ text: String, in log: String) -> Int { log.components(separatedBy: text).count - 1 }

    func testStoppedRewardWorkerAndActorAreDeclaredDeadRedispatchedAndRejoin() throws {
        run = try RunHarness("hung")
        // 100 ms heartbeats, liveness 3: dead after 0.3 s of silence, at most 0.4 s after the stop.
        let config = try run.writeConfig("updates: 0\nreward_workers: 2\nreward_timeout_ms: 60000\n")
        try run.startRole("learner", "learner", config: config)
        for i in 0..<2 {
            try run.startRole("actor-\(i)", "actor", config: config, ["--instance", "actor-\(i)"])
            try run.startRole("reward-\(i)", "reward-worker", config: config, ["--instance", "reward-\(i)"])
        }
        run.waitUntil("both workers and both actors joined, a few updates") {
            let log = run.log("learner")
            return log.contains("reward worker reward-0") && log.contains("reward worker reward-1")
                && log.contains("actor actor-0") && log.contains("actor actor-1") && run.latestVersion() >= 4
        }
        let limit = 0.3, interval = 0.1

        // A hung reward worker: dead in time, its requests re-queued, training goes on.
        run.signal("reward-0", SIGSTOP)
        run.waitUntil("the stopped worker is declared dead") { !declaredSilences("reward-0").isEmpty }
        let workerSilence = try XCTUnwrap(declaredSilences("reward-0").first)
        XCTAssertLessThanOrEqual(workerSilence, limit + interval, run.log("learner"))
        let stoppedAt = run.latestVersion()
        run.waitUntil("updates go on while reward-0 is stopped") { run.latestVersion() >= stoppedAt + 3 }
        XCTAssertTrue(run.processes["reward-0"]!.isRunning)
        run.signal("reward-0", SIGCONT)
        run.waitUntil("reward-0 rejoins") { count("reward worker reward-0 (pid", in: run.log("learner")) >= 2 }
        run.waitUntil("two live workers again") { run.metrics().last?["live_reward_workers"] as? Int == 2 }

        // A hung actor: forgotten in time, the other one alone keeps the learner updating
        // (so it got every reward it asked for, the re-queued ones included), it rejoins.
        for (name, other) in [("actor-0", "actor-1"), ("actor-1", "actor-0")] {
            run.signal(name, SIGSTOP)
            run.waitUntil("\(name) is declared dead") { !declaredSilences(name).isEmpty }
            XCTAssertLessThanOrEqual(try XCTUnwrap(declaredSilences(name).first), limit + interval, run.log("learner"))
            let at = run.latestVersion()
            run.waitUntil("updates go on with \(other) alone") { run.latestVersion() >= at + 3 }
            run.signal(name, SIGCONT)
            run.waitUntil("\(name) rejoins") { count("actor \(name) (pid", in: run.log("learner")) >= 2 }
            run.waitUntil("two live actors again") { run.metrics().last?["live_actors"] as? Int == 2 }
        }

        // Every request reward-0 held when it stopped went back to the queue.
        let last = try XCTUnwrap(run.metrics().last)
        XCTAssertGreaterThanOrEqual(last["reward_worker_deaths"] as? Int ?? 0, 1)
        let requeued = run.log("learner").split(separator: "\n").first { $0.contains("reward worker reward-0 gone (silent") }
        let requeuedCount = try XCTUnwrap(requeued.flatMap { ProcessTests.number(after: "\\); ", in: String($0)) })
        XCTAssertLessThanOrEqual(requeuedCount, last["reward_redispatched"] as? Int ?? 0)
        for name in ["actor-0", "actor-1", "reward-0", "reward-1"] { XCTAssertTrue(run.processes[name]!.isRunning, name) }
    }
}
