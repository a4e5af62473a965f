import Foundation
import Runtime
import Wire
import XCTest
import ZMQ

#if canImport(Glibc)
import Glibc
#endif

/// CURVE runs as real processes over tcp loopback (ports chosen by the system), with fresh
/// keys from `shielddiff keys` per test. Refusals are observed through socket-monitor events
/// of the test's own sockets and the learner's ZAP counters.
final class SecurityProcessTests: XCTestCase {
    private var run: RunHarness!
    private var keyFolder: String { run.directory.path + "/keys" }

    override func setUpWithError() throws {
        try XCTSkipUnless(ZMQLibrary.has("curve"), "libzmq built without CURVE")
    }

    override func tearDown() {
        run?.tearDown()
        super.tearDown()
    }

    // MARK: - Helpers

    /// Runs `shielddiff keys generate` for `name`; returns its key file.
    @discardableResult
    private func makeKey(_ name: String, _ role: String) throws -> String {
        let process = try run.start("keys-\(name)", ["keys", "generate", "--out", keyFolder, "--name", name, "--role", role])
        XCTAssertEqual(run.waitForExit(process), 0, run.log("keys-\(name)"))
        return keyFolder + "/\(name).key"
    }

    /// Runs `shielddiff keys allow` over the named public keys.
    private func allow(_ names: [String]) throws -> String {
        let path = keyFolder + "/allowlist"
        let process = try run.start("allow", ["keys", "allow", "--out", path] + names.map { keyFolder + "/\($0).pub" })
        XCTAssertEqual(run.waitForExit(process), 0, run.log("allow"))
        return path
    }

    /// Starts a CURVE learner on `tcp://127.0.0.1:*` and writes the peers' config with the
    /// endpoints it bound; returns that config's path.
    private func startLearner(allowlist: String) throws -> String {
        let learnerConfig = try run.writeConfig("""
            updates: 0
            endpoints:
              control: tcp://127.0.0.1:*
              weights: tcp://127.0.0.1:*
              reward_frontend: tcp://127.0.0.1:*
              reward_backend: tcp://127.0.0.1:*
            security:
              mode: curve
              key: \(keyFolder)/learner.key
              allowlist: \(allowlist)

            """, file: "learner.yaml")
        try run.startRole("learner", "learner", config: learnerConfig)
        var endpoints: [String] = []
        run.waitUntil("the learner reports its endpoints") {
            let pattern = "control (tcp://[0-9.:]+), weights (tcp://[0-9.:]+), reward (tcp://[0-9.:]+) / (tcp://[0-9.:]+)"
            guard let regex = try? NSRegularExpression(pattern: pattern),
                  let match = regex.firstMatch(in: run.log("learner"), range: NSRange(run.log("learner").startIndex..., in: run.log("learner")))
            else { return false }
            let log = run.log("learner")
            endpoints = (1...4).map { String(log[Range(match.range(at: $0), in: log)!]) }
            return true
        }
        guard endpoints.count == 4 else { throw RuntimeError("the learner did not start") }
        return try run.writeConfig("""
            updates: 0
            endpoints:
              control: \(endpoints[0])
              weights: \(endpoints[1])
              reward_frontend: \(endpoints[2])
              reward_backend: \(endpoints[3])
            security:
              mode: curve
              learner_public_key: \(keyFolder)/learner.pub

            """, file: "peers.yaml")
    }

    private func startPeer(_ name: String, _ role: String, config: String) throws {
        try run.startRole(name, role, config: config, ["--instance", name, "--set", "security.key=\(keyFolder)/\(name).key"])
    }

    private func endpoint(_ key: String, in config: String) throws -> String {
        let text = try String(contentsOfFile: config, encoding: .utf8)
        let line = text.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(key + ":") }!
        return line.split(separator: " ").last.map(String.init)!
    }

    /// A client socket of the test process with `keys` (nil: plaintext) trusting the learner's key,
    /// monitored, connected to `endpoint`.
    private func client(_ context: ZMQContext, _ type: ZMQSocketType, keys: ZMQCurveKeyPair?, learnerKey: String,
                        endpoint: String) throws -> (ZMQSocket, ZMQMonitor) {
        let socket = try ZMQSocket(context, type: type)
        try socket.setOption(.linger, .zero)
        if let keys {
            try socket.setOption(.curveServerKey, learnerKey)
            try socket.setOption(.curvePublicKey, keys.publicKey)
            try socket.setOption(.curveSecretKey, keys.secretKey)
        }
        if type == .subscriber { try socket.setOption(.subscribe, []) }
        let monitor = try ZMQMonitor(socket)
        try socket.connect(endpoint)
        return (socket, monitor)
    }

    /// The counters of the newest metrics line.
    private func latest(_ names: [String]) -> [String: Int] {
        guard let line = run.metrics().last else { return [:] }
        return Dictionary(uniqueKeysWithValues: names.map { ($0, line[$0] as? Int ?? -1) })
    }

    /// Every counter of a message that reached the learner's logic from a peer it did not welcome.
    private let logicCounters = ["rejected_malformed", "rejected_unsupported_version", "rejected_unknown_kind",
                                 "rejected_wrong_frames", "rejected_unexpected", "rejected_not_welcomed",
                                 "errors_received", "rejected_unauthorized"]

    // MARK: - Tests

    func testAllowlistedPeersTrainAndEveryOtherClientIsRefusedAndCounted() throws {
        run = try RunHarness("curve")
        try makeKey("learner", "learner")
        try makeKey("actor-0", "actor")
        try makeKey("reward-0", "reward-worker")
        try makeKey("stranger", "actor")
        let config = try startLearner(allowlist: try allow(["actor-0", "reward-0"]))
        try startPeer("actor-0", "actor", config: config)
        try startPeer("reward-0", "reward-worker", config: config)
        run.waitUntil("the allowlisted actor and worker train 4 updates") {
            run.latestVersion() >= 5 && run.metrics().contains { $0["live_actors"] as? Int == 1 && $0["live_reward_workers"] as? Int == 1 }
        }
        XCTAssertTrue(run.log("learner").contains("actor actor-0 (pid"), "the key's name is the peer's identity")
        let before = latest(logicCounters)
        XCTAssertEqual(before.values.filter { $0 != 0 }.count, 0, "\(before)")

        let context = try ZMQContext()
        let learnerKey = try PublicKeyEntry.load(path: keyFolder + "/learner.pub").publicKey
        let stranger = try CurveIdentity.load(path: keyFolder + "/stranger.key").keys
        let worker = try CurveIdentity.load(path: keyFolder + "/reward-0.key").keys
        let actor = try CurveIdentity.load(path: keyFolder + "/actor-0.key").keys
        let hello = try Envelope(sender: "rogue-1", sequence: 1, payload: .hello(Hello(role: .actor, instanceID: "rogue-1", pid: 1, policyVersion: 0))).encoded()
        // Each refused handshake ends in HANDSHAKE_FAILED_AUTH with ZAP status 400 at the client.
        let refused: [(String, ZMQSocketType, ZMQCurveKeyPair, String)] = [
            ("unknown key on control", .dealer, stranger, "control"),
            ("unknown key on control, again", .dealer, stranger, "control"),
            ("unknown key on control, a third time", .dealer, stranger, "control"),
            ("reward-worker key on the reward frontend", .dealer, worker, "reward_frontend"),
            ("reward-worker key on control", .dealer, worker, "control"),
            ("reward-worker key on weights", .subscriber, worker, "weights"),
            ("actor key on the reward backend", .dealer, actor, "reward_backend"),
        ]
        for (what, type, keys, endpointKey) in refused {
            let (socket, monitor) = try client(context, type, keys: keys, learnerKey: learnerKey,
                                               endpoint: try endpoint(endpointKey, in: config))
            if type == .dealer { try socket.send(hello, timeout: .zero) }
            let event = try monitor.waitFor([.handshakeFailedAuth, .handshakeSucceeded], timeout: .seconds(10))
            XCTAssertEqual(event?.event, .handshakeFailedAuth, what)
            XCTAssertEqual(event?.value, 400, what)
            monitor.close()
            try socket.close()
        }
        // A plaintext client fails at the mechanism, before ZAP: the learner's monitor counts it.
        let (plain, plainMonitor) = try client(context, .dealer, keys: nil, learnerKey: learnerKey,
                                               endpoint: try endpoint("control", in: config))
        try plain.send(hello, timeout: .zero)
        XCTAssertNotNil(try plainMonitor.waitFor([.handshakeFailedProtocol, .handshakeFailedNoDetail, .disconnected], timeout: .seconds(10)))
        plainMonitor.close()
        try plain.close()
        // An allowlisted key whose HELLO claims another name is refused with ERROR.
        let (impostor, impostorMonitor) = try client(context, .dealer, keys: actor, learnerKey: learnerKey,
                                                     endpoint: try endpoint("control", in: config))
        try impostor.send(hello, timeout: .seconds(5))
        let answer = try Envelope(decoding: try impostor.receive(timeout: .seconds(10)))
        guard case let .error(report) = answer.payload else { return XCTFail("expected ERROR, got \(answer.payload.kind)") }
        XCTAssertEqual(report.code, .configMismatch)
        XCTAssertTrue(report.detail.contains("rogue-1") && report.detail.contains("actor-0"), report.detail)
        impostorMonitor.close()
        try impostor.close()

        let zapNames = ["zap_refused_unknown_key", "zap_refused_wrong_role", "handshake_failed_protocol",
                        "handshake_failed_no_detail", "rejected_unauthorized"]
        run.waitUntil("the learner's metrics count every refusal") {
            let counts = latest(zapNames)
            return counts["zap_refused_unknown_key"]! >= 3 && counts["zap_refused_wrong_role"]! >= 4
                && counts["handshake_failed_protocol"]! + counts["handshake_failed_no_detail"]! >= 1
                && counts["rejected_unauthorized"]! >= 1
        }
        // Nothing of the refused clients reached the learner's logic: only the impostor's HELLO,
        // refused at the door as unauthorized, was seen at all.
        var after = latest(logicCounters)
        XCTAssertEqual(after.removeValue(forKey: "rejected_unauthorized"), 1)
        XCTAssertEqual(after, before.filter { $0.key != "rejected_unauthorized" })
        XCTAssertFalse(run.log("learner").contains("rogue-1 (pid"), "the rogue was never welcomed")
        // The stranger's three refusals were logged once (once per key per minute).
        let strangerKey = try PublicKeyEntry.load(path: keyFolder + "/stranger.pub").publicKey
        XCTAssertEqual(run.log("learner").components(separatedBy: "unknown_key (key not allowed); key \(strangerKey)").count - 1, 1,
                       run.log("learner"))
        let version = run.latestVersion()
        run.waitUntil("the run goes on") { run.latestVersion() >= version + 2 }
    }

    func testKeyRemovedBySIGHUPIsDroppedAndRefusedOnReconnectWhileANewKeyJoins() throws {
        run = try RunHarness("rotate")
        for name in ["learner"] { try makeKey(name, "learner") }
        for name in ["actor-0", "actor-1", "actor-2"] { try makeKey(name, "actor") }
        try makeKey("reward-0", "reward-worker")
        let allowlist = try allow(["actor-0", "actor-1", "reward-0"])
        let config = try startLearner(allowlist: allowlist)
        for name in ["actor-0", "actor-1"] { try startPeer(name, "actor", config: config) }
        try startPeer("reward-0", "reward-worker", config: config)
        run.waitUntil("both actors train") {
            run.latestVersion() >= 3 && run.metrics().contains { $0["live_actors"] as? Int == 2 }
        }
        // A bad file keeps the old allowlist.
        let good = try String(contentsOfFile: allowlist, encoding: .utf8)
        try (good + "boss nobody key\n").write(toFile: allowlist, atomically: true, encoding: .utf8)
        run.signal("learner", SIGHUP)
        run.waitUntil("the learner keeps its allowlist") { run.log("learner").contains("SIGHUP: keeping the current allowlist (3 keys)") }
        XCTAssertTrue(run.log("learner").contains("\(allowlist):5: unknown role 'boss'"), run.log("learner"))

        _ = try allow(["actor-0", "actor-2", "reward-0"])
        run.signal("learner", SIGHUP)
        run.waitUntil("the learner reloads") { run.log("learner").contains("allowlist reloaded: 3 keys, 1 removed") }
        XCTAssertTrue(run.log("learner").contains("actor-1: key removed from the allowlist; forgotten"))
        let reloadedAt = run.log("learner").range(of: "allowlist reloaded")!.upperBound
        try startPeer("actor-2", "actor", config: config)
        run.waitUntil("actor-2 joins, actor-1's reconnects are refused, the run goes on with two actors") {
            let counts = latest(["zap_refused_unknown_key"])
            return run.log("learner")[reloadedAt...].contains("actor actor-2 (pid")
                && counts["zap_refused_unknown_key"]! >= 1
                && run.metrics().last?["live_actors"] as? Int == 2
        }
        let after = String(run.log("learner")[reloadedAt...])
        XCTAssertFalse(after.contains("actor actor-1 (pid"), "actor-1 came back:\n\(after)")
        let version = run.latestVersion()
        run.waitUntil("updates go on") { run.latestVersion() >= version + 2 }
        XCTAssertTrue(run.processes["learner"]!.isRunning)
    }

    func testTrainWithCurveMakesThrowawayKeysPerRun() throws {
        run = try RunHarness("traincurve")
        let config = try run.writeConfig("updates: 0\nsecurity:\n  mode: curve\n")
        let supervisor = try run.start("train", ["train", "--config", config])
        run.waitUntil("both actors, the worker and the supervisor are admitted by their keys and train") {
            let log = run.log("train")
            return run.latestVersion() >= 3 && log.contains("supervisor supervisor (pid")
                && log.contains("actor actor-0 (pid") && log.contains("actor actor-1 (pid")
                && run.metrics().contains { ($0["zap_admitted"] as? Int ?? 0) >= 6 }
        }
        let keys = run.directory.path + "/run/keys"
        let allowlist = try Allowlist.load(path: keys + "/allowlist")
        XCTAssertEqual(allowlist.entries.map(\.name), ["supervisor", "actor-0", "actor-1", "reward-0"])
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: keys + "/learner.key")[.posixPermissions] as? Int, 0o600)
        kill(supervisor.processIdentifier, SIGTERM)
        XCTAssertEqual(run.waitForExit(supervisor, timeout: .seconds(20)), 0, run.allLogs())
    }

    func testWorldReadableSecretKeyIsRefusedNamingTheFileAndTheFix() throws {
        run = try RunHarness("keymode")
        try makeKey("learner", "learner")
        let key = try makeKey("actor-0", "actor")
        chmod(key, 0o644)
        let config = try run.writeConfig("""
            security:
              mode: curve
              learner_public_key: \(keyFolder)/learner.pub

            """)
        let actor = try run.startRole("actor-0", "actor", config: config, ["--instance", "actor-0", "--set", "security.key=\(key)"])
        XCTAssertNotEqual(run.waitForExit(actor), 0)
        XCTAssertTrue(run.log("actor-0").contains("secret key file \(key) is accessible by others (mode 644); fix it with: chmod 600 \(key)"),
                      run.log("actor-0"))
    }

    func testLearnerOnAnExposedEndpointNeedsCurveOrAnExplicitNone() throws {
        run = try RunHarness("exposed")
        let exposed = "endpoints:\n  control: tcp://0.0.0.0:*\n  weights: tcp://127.0.0.1:*\n  reward_frontend: tcp://127.0.0.1:*\n  reward_backend: tcp://127.0.0.1:*\n"
        let refused = try run.startRole("learner", "learner", config: try run.writeConfig(exposed, file: "unset.yaml"))
        XCTAssertNotEqual(run.waitForExit(refused), 0)
        XCTAssertTrue(run.log("learner").contains("tcp://0.0.0.0:* can be reached from other hosts") &&
                      run.log("learner").contains("security.mode: curve"), run.log("learner"))
    }
}
