import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The runtime as real processes of the built `shielddiff` binary over real ZeroMQ sockets
/// (ipc endpoints of each test's own folder), with the test-linear policy.
final class ProcessTests: XCTestCase {
    private var run: RunHarness!

    override func tearDown() {
        run?.tearDown()
        super.tearDown()
    }

    /// Learner, two actors and `workers` reward workers as separate processes; returns the
    /// peers' config path (over tcp it names the ports the learner bound).
    private func startRun(_ name: String, extra: String = "", transport: RunHarness.Transport = .ipc,
                          workers: Int = 1) throws -> String {
        run = try RunHarness(name, transport: transport)
        let learnerConfig = try run.writeConfig(extra)
        try run.startRole("learner", "learner", config: learnerConfig)
        run.resolveEndpoints()
        let config = transport == .ipc ? learnerConfig : try run.writeConfig(extra, file: "peers.yaml")
        try run.startRole("actor-0", "actor", config: config, ["--instance", "actor-0"])
        try run.startRole("actor-1", "actor", config: config, ["--instance", "actor-1"])
        for i in 0..<workers {
            try run.startRole("reward-\(i)", "reward-worker", config: config, ["--instance", "reward-\(i)"])
        }
        return config
    }

    func testLearnerActorsAndRewardWorkerTrainOverIPC() throws {
        try trainThenStopWithSIGTERM(.ipc)
    }

    func testLearnerActorsAndRewardWorkerTrainOverTCP() throws {
        try trainThenStopWithSIGTERM(.tcp)
    }

    private func trainThenStopWithSIGTERM(_ transport: RunHarness.Transport) throws {
        _ = try startRun("train", extra: "updates: 0\n", transport: transport)
        // An update can run before every peer has said HELLO, so wait for one that saw them all.
        run.waitUntil("both actors hold weights, 6 updates are done, one with every peer live") {
            run.log("actor-0").contains("installed v") && run.log("actor-1").contains("installed v")
                && run.latestVersion() >= 7
                && run.metrics().contains { $0["live_actors"] as? Int == 2 && $0["live_reward_workers"] as? Int == 1 }
        }
        // SIGTERM makes the learner end the run itself: TERMINATE to every peer, acks, checkpoint.
        run.signal("learner", SIGTERM)
        XCTAssertEqual(run.waitForExit(run.processes["learner"]!), 0, run.allLogs())
        let lines = run.metrics()
        let versions = lines.compactMap { $0["version"] as? Int }
        XCTAssertEqual(versions, Array(2..<(2 + versions.count)), "one metrics line per update, versions in order")
        for line in lines {
            let loss = try XCTUnwrap(line["loss"] as? Double, "metrics line without a finite loss: \(line)")
            XCTAssertTrue(loss.isFinite)
            XCTAssertNotNil(line["approx_kl"] as? Double)
            XCTAssertNotNil(line["lag_histogram"] as? [String: Int])
        }
        XCTAssertEqual(lines.last?["trajectories_trained_total"] as? Int, 8 * versions.count)
        // Every peer got TERMINATE from the learner, acknowledged it and exited cleanly.
        for name in ["actor-0", "actor-1", "reward-0"] {
            XCTAssertEqual(run.waitForExit(run.processes[name]!), 0, "\(name):\n" + run.log(name))
            XCTAssertTrue(run.log(name).contains("TERMINATE (signal): acknowledged") || run.log(name).contains("TERMINATE (run ends)"),
                          run.log(name))
        }
        let final = "checkpoint-v" + String(format: "%012d", versions.last!) + ".safetensors"
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: run.directory.path + "/run/checkpoints")
        XCTAssertTrue(checkpoints.contains(final), "\(checkpoints) lacks the final \(final)")
    }

    func testKilledActorDoesNotStopTheLearnerAndRejoinsWithCurrentWeights() throws {
        let config = try startRun("actorkill", extra: "updates: 0\n", transport: .tcp)
        run.waitUntil("both actors joined and a few updates") {
            run.log("actor-0").contains("installed v") && run.log("actor-1").contains("installed v") && run.latestVersion() >= 4
        }
        run.signal("actor-0", SIGKILL)
        XCTAssertNotNil(run.waitForExit(run.processes["actor-0"]!))
        // The learner forgets the silent actor and keeps updating with the other one.
        run.waitUntil("the learner forgets actor-0") {
            run.log("learner").range(of: "actor-0 (silent for|unreachable)", options: .regularExpression) != nil
        }
        let before = run.latestVersion()
        run.waitUntil("updates with one actor") { run.latestVersion() >= before + 3 }
        XCTAssertTrue(run.metrics().contains { $0["live_actors"] as? Int == 1 })

        try run.startRole("actor-0", "actor", config: config, ["--instance", "actor-0"])
        run.waitUntil("actor-0 rejoins") { run.log("actor-0").contains("first weights since WELCOME") }
        // It installed, at once, the version the learner welcomed it at (or a newer one).
        let welcomed = try XCTUnwrap(Self.number(after: "welcomed by run \\S+ at v", in: run.log("actor-0")))
        let installed = try XCTUnwrap(Self.number(after: "installed v", in: run.log("actor-0")))
        XCTAssertGreaterThanOrEqual(installed, welcomed)
        XCTAssertGreaterThan(welcomed, before)
        run.waitUntil("two live actors again") { run.metrics().last?["live_actors"] as? Int == 2 }
    }

    func testLearnerRestartResumesFromCheckpointAndActorsReconnect() throws {
        let config = try startRun("resume", extra: "updates: 0\n")
        run.waitUntil("a checkpoint") { run.log("learner").contains("checkpoint checkpoint-v000000000005") }
        run.signal("learner", SIGKILL)
        XCTAssertNotNil(run.waitForExit(run.processes["learner"]!))
        let folder = run.directory.path + "/run/checkpoints"
        let newest = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix("checkpoint-v") }.max()!
        let checkpointVersion = Int(newest.dropFirst("checkpoint-v".count).prefix(12))!

        try run.startRole("learner", "learner", config: config, ["--resume"])
        run.waitUntil("the restarted learner resumes") { run.log("learner").contains("resumed from") }
        XCTAssertTrue(run.log("learner").contains("version \(checkpointVersion),"), run.log("learner"))
        // The running actors and the worker find it again by themselves and training goes on.
        run.waitUntil("both actors and the worker reconnect") {
            let log = run.log("learner")
            return log.contains("actor actor-0") && log.contains("actor actor-1") && log.contains("reward worker reward-0")
        }
        run.waitUntil("updates after the restart") {
            run.log("learner").contains("update \(checkpointVersion + 1) → v\(checkpointVersion + 2)")
        }
        XCTAssertEqual(run.metrics().last?["live_reward_workers"] as? Int, 1)
        for name in ["actor-0", "actor-1", "reward-0"] { XCTAssertTrue(run.processes[name]!.isRunning, name) }
    }

    func testTrainStopsCleanlyOnSIGTERM() throws {
        run = try RunHarness("sigterm")
        let config = try run.writeConfig("updates: 0\n")
        let supervisor = try run.start("train", ["train", "--config", config])
        run.waitUntil("a few updates, both actors and the supervisor welcomed") {
            let log = run.log("train")
            return run.latestVersion() >= 3 && log.contains("supervisor supervisor")
                && log.contains("actor-0] installed v") && log.contains("actor-1] installed v")
        }
        let children = Self.childPIDs(in: run.log("train"))
        XCTAssertEqual(children.count, 4, run.log("train"))
        kill(supervisor.processIdentifier, SIGTERM)
        XCTAssertEqual(run.waitForExit(supervisor, timeout: .seconds(20)), 0, run.allLogs())
        for pid in children { XCTAssertNotEqual(kill(pid, 0), 0, "child \(pid) still running") }
        let log = run.log("train")
        XCTAssertTrue(log.contains("the learner acknowledged TERMINATE"), log)
        for name in ["actor-0", "actor-1", "reward-0"] { XCTAssertTrue(log.contains("\(name)] TERMINATE"), "\(name):\n\(log)") }
        let final = try XCTUnwrap(Self.number(after: "ending the run \\(signal\\) at version ", in: log))
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: run.directory.path + "/run/checkpoints")
        XCTAssertTrue(checkpoints.contains { Int($0.dropFirst("checkpoint-v".count).prefix(12)) ?? 0 >= final }, "\(checkpoints)")
    }

    /// With `stop_unsafe_rate` met (the test policy's samples are never unsafe, and 1 admits
    /// any share), the run ends by itself once `stop_window` updates are in, cleanly.
    func testRunEndsWhenTheUnsafeShareReachesItsTarget() throws {
        run = try RunHarness("stoprule")
        let config = try run.writeConfig("updates: 0\n")
        let supervisor = try run.start("train", ["train", "--config", config,
                                                 "--set", "stop_unsafe_rate=1", "--set", "stop_window=3"])
        XCTAssertEqual(run.waitForExit(supervisor, timeout: .seconds(30)), 0, run.allLogs())
        XCTAssertTrue(run.log("train").contains("ending the run (unsafe share 0.000 ≤ stop_unsafe_rate over the last 3 updates)"),
                      run.log("train"))
        XCTAssertEqual(run.metrics().count, 3, "\(run.metrics())")
    }

    /// Another process holds the control port: `train` stops with a line naming the endpoint
    /// instead of restarting the learner for ever while its actors join whatever holds the port
    /// (seen when two runs on one machine used the default endpoints).
    func testTrainStopsWhenTheLearnersEndpointIsInUse() throws {
        run = try RunHarness("inuse")
        let holder = try XCTUnwrap(Self.listeningLoopbackSocket())
        defer { close(holder.fd) }
        let endpoint = "tcp://127.0.0.1:\(holder.port)"
        let config = try run.writeConfig("updates: 0\n")
        let supervisor = try run.start("train", ["train", "--config", config, "--set", "endpoints.control=\(endpoint)"])
        XCTAssertEqual(run.waitForExit(supervisor, timeout: .seconds(30)), 1, run.allLogs())
        let log = run.log("train")
        XCTAssertTrue(log.contains("zmq_bind(\"\(endpoint)\"): the endpoint is in use by another process"), log)
        XCTAssertTrue(log.contains("stopping the run (the learner's endpoints are in use)"), log)
        XCTAssertEqual(log.components(separatedBy: "started learner (pid").count - 1, 1, "the learner was restarted:\n\(log)")
    }

    /// A tcp socket listening on an ephemeral loopback port, as another program holding it.
    static func listeningLoopbackSocket() -> (fd: Int32, port: UInt16)? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        guard fd >= 0, bound else { close(fd); return nil }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    func testTrainRestartsADeadChild() throws {
        run = try RunHarness("restart")
        let config = try run.writeConfig("updates: 0\n")
        try run.start("train", ["train", "--config", config])
        run.waitUntil("the run starts") { run.latestVersion() >= 2 }
        let actor = try XCTUnwrap(Self.childPIDs(in: run.log("train"), named: "actor-1").first)
        kill(actor, SIGKILL)
        run.waitUntil("actor-1 restarted") { Self.childPIDs(in: run.log("train"), named: "actor-1").count == 2 }
        XCTAssertTrue(run.log("train").contains("actor-1 (pid \(actor)) died: signal 9; restart 1"), run.log("train"))
    }

    /// reward_workers 0: `train` starts no worker, the actors score in-process, and the run
    /// trains its 3 updates and ends by itself.
    func testTrainWithoutRewardWorkersScoresInTheActors() throws {
        run = try RunHarness("noworkers")
        let config = try run.writeConfig("updates: 3\nreward_workers: 0\n")
        let supervisor = try run.start("train", ["train", "--config", config])
        XCTAssertEqual(run.waitForExit(supervisor, timeout: .seconds(60)), 0, run.allLogs())
        XCTAssertEqual(Self.childPIDs(in: run.log("train")).count, 3, "learner and 2 actors only:\n" + run.log("train"))
        let lines = run.metrics()
        XCTAssertEqual(lines.compactMap { $0["version"] as? Int }, [2, 3, 4], "\(lines)")
        for line in lines {
            XCTAssertEqual(line["live_reward_workers"] as? Int, 0)
            XCTAssertEqual(line["reward_requests"] as? Int, 0, "a request reached the broker")
        }
        XCTAssertEqual(lines.last?["trajectories_trained_total"] as? Int, 24)
        XCTAssertTrue(run.log("train").contains("ending the run (3 updates done) at version 4"), run.log("train"))
    }

    /// A supervisor killed outright (no TERMINATE dialog) leaves no child behind: each child
    /// sees its parent gone and ends by itself.
    func testChildrenEndWhenTheSupervisorDies() throws {
        run = try RunHarness("orphans")
        let config = try run.writeConfig("updates: 0\n")
        let supervisor = try run.start("train", ["train", "--config", config])
        run.waitUntil("four children started and a few updates") {
            Self.childPIDs(in: run.log("train")).count == 4 && run.latestVersion() >= 3
        }
        let children = Self.childPIDs(in: run.log("train"))
        kill(supervisor.processIdentifier, SIGKILL)
        XCTAssertNotNil(run.waitForExit(supervisor))
        run.waitUntil("every child of the killed supervisor ended") { children.allSatisfy { !Self.isRunning($0) } }
        XCTAssertTrue(run.log("train").contains("ending the run (parent process died)"), run.log("train"))
    }

    /// A reward worker that stops answering while it holds a request (stopped, then killed):
    /// the broker declares it dead, puts its request back, and the other worker scores it;
    /// training goes on. Over tcp.
    func testARewardWorkerDyingMidRequestHasItsRequestRedispatched() throws {
        // 1 s of silence before a worker is dead: time enough for the stopped one to be sent a request.
        _ = try startRun("workerdies", extra: "updates: 0\nliveness: 10\n", transport: .tcp, workers: 2)
        run.waitUntil("both workers joined and training runs") {
            run.latestVersion() >= 3 && run.metrics().last?["live_reward_workers"] as? Int == 2
        }
        run.signal("reward-0", SIGSTOP)
        run.waitUntil("the broker gives up the stopped worker") {
            run.log("learner").contains("reward worker reward-0 gone (")
        }
        run.signal("reward-0", SIGKILL)
        let gone = run.log("learner").split(separator: "\n").first { $0.contains("reward worker reward-0 gone (") } ?? ""
        XCTAssertTrue(gone.contains("; 1 request(s) re-queued, 1 live"), String(gone))
        let before = run.latestVersion()
        run.waitUntil("updates go on with one worker") { run.latestVersion() >= before + 3 }
        let last = try XCTUnwrap(run.metrics().last)
        XCTAssertEqual(last["reward_worker_deaths"] as? Int, 1, "\(last)")
        XCTAssertEqual(last["reward_redispatched"] as? Int, 1, "\(last)")
        XCTAssertEqual(last["live_reward_workers"] as? Int, 1, "\(last)")
    }

    func testConfigErrorsNameTheKeyAndLine() throws {
        run = try RunHarness("config")
        let bad = run.directory.appendingPathComponent("bad.yaml")
        try "model: test-linear\nactorz: 3\n".write(to: bad, atomically: true, encoding: .utf8)
        let unknown = try run.start("unknown", ["learner", "--config", bad.path])
        XCTAssertNotEqual(run.waitForExit(unknown), 0)
        XCTAssertTrue(run.log("unknown").contains("bad.yaml:2: unknown key 'actorz' (did you mean 'actors'?)"),
                      run.log("unknown"))

        try "hyperparameters:\n  lr: fast\n".write(to: bad, atomically: true, encoding: .utf8)
        let badValue = try run.start("badvalue", ["actor", "--index", "0", "--config", bad.path])
        XCTAssertNotEqual(run.waitForExit(badValue), 0)
        XCTAssertTrue(run.log("badvalue").contains("bad.yaml:2: bad value 'fast' for key 'hyperparameters.lr'"),
                      run.log("badvalue"))

        let badSet = try run.start("badset", ["train", "--set", "heartbeat_interval_ms=0"])
        XCTAssertNotEqual(run.waitForExit(badSet), 0)
        XCTAssertTrue(run.log("badset").contains("bad value '0' for key 'heartbeat_interval_ms': expected an integer in 1...3600000"),
                      run.log("badset"))
    }

    // MARK: - Helpers

    /// Whether `pid` is a live process (a zombie awaiting its reaper counts as ended).
    static func isRunning(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }

    /// The integer right after the first match of the regular expression `prefix`.
    static func number(after prefix: String, in text: String) -> Int? {
        guard let range = text.range(of: prefix + "[0-9]+", options: .regularExpression) else { return nil }
        return Int(text[range].reversed().prefix { $0.isNumber }.reversed().map(String.init).joined())
    }

    /// The pids the supervisor logged as "started <name> (pid N)", optionally for one name.
    static func childPIDs(in log: String, named name: String? = nil) -> [pid_t] {
        log.split(separator: "\n").compactMap { line in
            guard let range = line.range(of: "started \(name ?? "[a-z0-9-]+") \\(pid [0-9]+\\)", options: .regularExpression)
            else { return nil }
            return pid_t(line[range].split(separator: " ").last!.dropLast())
        }
    }
}
