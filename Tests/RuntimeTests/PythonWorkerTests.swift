import CommandSupport
import Foundation
import Numerics
import Runtime
import Wire
import World
import XCTest
import ZMQ

#if canImport(Glibc)
import Glibc
#endif

/// The Python peer (proto/python): its example reward worker as a real process, over tcp
/// loopback, against a real Swift learner and against this test acting as the broker.
final class PythonWorkerTests: XCTestCase {
    private var run: RunHarness!

    /// Fails at once, naming the package, when the worker's Python packages are missing.
    override func setUpWithError() throws {
        try Python.run("""
            import sys
            try:
                import numpy, zmq, google.protobuf, shielddiff_pb2
            except ImportError as e:
                sys.exit(f"Python package {e.name!r} is missing: scripts/setup.sh installs pyzmq, protobuf and numpy")
            """)
    }

    override func tearDown() {
        run?.tearDown()
        super.tearDown()
    }

    /// The test policy's settings, whose scorer the example worker reimplements.
    private var testConfig: RunConfig {
        var config = RunConfig()
        config.model = "test-linear"
        config.hyperparameters.latentSize = 16
        config.hyperparameters.steps = 4
        return config
    }

    /// Images of the test policy and their prompts.
    private func sampleImages(_ count: Int, seed: UInt64) -> (images: Tensor, prompts: [String]) {
        let prompts = (0..<count).map { "a large red circle on the left on a gray background \($0)" }
        let (_, images) = TestLinearSampler(config: testConfig).sample(
            prompts: prompts, safePrompts: prompts, seeds: (0..<count).map { seed + UInt64($0) }, version: 1)
        return (images, prompts)
    }

    /// `result` holds the Swift test scorer's scores of `images`, within float rounding.
    private func assertScoresMatch(_ result: RewardResult, _ images: Tensor, _ prompts: [String],
                                   file: StaticString = #filePath, line: UInt = #line) {
        let expected = TestLinearScorer(config: testConfig).score(images: images, safePrompts: prompts)
        XCTAssertEqual(result.rewards.count, expected.count, file: file, line: line)
        for (i, score) in expected.enumerated() where i < result.rewards.count {
            XCTAssertEqual(result.rewards[i], score.reward, accuracy: 1e-5, "reward \(i)", file: file, line: line)
            XCTAssertEqual(result.alignment[i], score.alignment, accuracy: 1e-5, "alignment \(i)", file: file, line: line)
            XCTAssertEqual(result.unsafe[i], score.unsafe, accuracy: 1e-5, "unsafe \(i)", file: file, line: line)
        }
    }

    /// Starts a learner on ports the system picks (on four loopback addresses: the endpoints
    /// must differ) and one actor connected to them; returns the learner's bound endpoints.
    private func startLearnerAndActor(config: String) throws -> (control: String, weights: String, frontend: String, backend: String) {
        let anyPort = ["control", "weights", "reward_frontend", "reward_backend"].enumerated()
            .flatMap { ["--set", "endpoints.\($0.element)=tcp://127.0.0.\($0.offset + 1):*"] }
        try run.startRole("learner", "learner", config: config, anyPort)
        run.waitUntil("the learner binds") { run.log("learner").contains(" / tcp://") }
        let bound = try XCTUnwrap(Self.boundEndpoints(in: run.log("learner")), run.log("learner"))
        try run.startRole("actor-0", "actor", config: config,
                          ["--instance", "actor-0", "--set", "endpoints.control=\(bound.control)",
                           "--set", "endpoints.weights=\(bound.weights)", "--set", "endpoints.reward_frontend=\(bound.frontend)",
                           "--set", "endpoints.reward_backend=\(bound.backend)"])
        return bound
    }

    private func workerArguments(_ endpoint: String, _ extra: [String] = []) -> [String] {
        ["--endpoint", endpoint, "--instance", "py-reward-0", "--parent-pid", String(getpid()),
         "--reconnect-ms", "100", "--reconnect-max-ms", "400"] + extra
    }

    /// A Swift learner and actor with the Python worker as the only reward worker train; the
    /// worker is killed and restarted and the run goes on; TERMINATE ends it cleanly.
    func testLearnerTrainsWithThePythonWorkerAcrossItsRestart() throws {
        run = try RunHarness("pyrun")
        let config = try run.writeConfig("updates: 0\nactors: 1\n")
        let bound = try startLearnerAndActor(config: config)
        try run.startPython("py-reward-0", "example_reward_worker.py", workerArguments(bound.backend))
        run.waitUntil("updates rewarded by the Python worker") {
            run.latestVersion() >= 4 && run.metrics().contains { $0["live_reward_workers"] as? Int == 1 }
        }
        XCTAssertTrue(run.log("py-reward-0").contains("welcomed by run"), run.log("py-reward-0"))

        // Its scores, through the real broker, are the Swift scorer's.
        let context = try ZMQContext()
        defer { try? context.close() }
        let actor = try RawPeer(context, .dealer, connect: bound.frontend)
        defer { try? actor.socket.close() }
        let (images, prompts) = sampleImages(6, seed: 77)
        try actor.send(.rewardRequest(RewardRequest(requestID: 4242, images: images, prompts: prompts)), sender: "test-actor")
        let reply = try actor.receive { if case .rewardResult = $0 { return true } else { return false } }
        guard case let .rewardResult(result) = reply.envelope.payload else { return XCTFail("\(reply.envelope)") }
        XCTAssertEqual(result.requestID, 4242)
        assertScoresMatch(result, images, prompts)

        // Killed: the broker declares it dead; restarted: it joins again and training goes on.
        run.signal("py-reward-0", SIGKILL)
        XCTAssertNotNil(run.waitForExit(run.processes["py-reward-0"]!))
        run.waitUntil("the broker forgets the killed worker") {
            run.log("learner").range(of: "reward worker py-reward-0 gone \\((silent|unreachable)", options: .regularExpression) != nil
        }
        let before = run.latestVersion()
        try run.startPython("py-reward-0", "example_reward_worker.py", workerArguments(bound.backend))
        run.waitUntil("the restarted worker joins and updates go on") {
            run.log("learner").components(separatedBy: "reward worker py-reward-0 (pid").count == 3
                && run.latestVersion() >= before + 3
        }
        XCTAssertEqual(run.metrics().last?["live_reward_workers"] as? Int, 1)

        run.signal("learner", SIGTERM)
        XCTAssertEqual(run.waitForExit(run.processes["learner"]!), 0, run.allLogs())
        XCTAssertEqual(run.waitForExit(run.processes["py-reward-0"]!), 0, run.log("py-reward-0"))
        XCTAssertTrue(run.log("py-reward-0").contains("TERMINATE (run ends): acknowledged, exiting"), run.log("py-reward-0"))
    }

    /// scripts/python_reward_worker.py in NudeNet mode (PyPI nudenet's own ONNX detector, no
    /// mini-CLIP: alignment 0, reward −unsafe) as the only reward worker: it starts, scores, is
    /// killed and restarted, and training goes on. Its scores on this world's images mean nothing.
    func testNudeNetWorkerScoresAndSurvivesARestart() throws {
        try Python.run("""
            import sys
            try:
                import nudenet, cv2, onnxruntime
            except ImportError as e:
                sys.exit(f"Python package {e.name!r} is missing: scripts/setup.sh installs nudenet and onnxruntime")
            """)
        let script = Python.root.appendingPathComponent("scripts/python_reward_worker.py").path
        run = try RunHarness("pynude")
        // NudeNet takes tens of ms per image: small updates keep the test short, and its worker
        // (one thread: no heartbeat while it scores a request) gets a liveness window of 2 s
        // instead of the harness's 0.3 s, as a deployment would give a slow detector.
        let config = try run.writeConfig("updates: 0\nactors: 1\ntrajectories_per_batch: 4\ntrajectories_per_update: 8\n"
                                          + "heartbeat_interval_ms: 250\nliveness: 8\n")
        let bound = try startLearnerAndActor(config: config)
        let arguments = ["--detector", "nudenet"] + workerArguments(bound.backend)
        try run.startPython("py-reward-0", script, arguments)
        run.waitUntil("updates rewarded by NudeNet", timeout: .seconds(120)) {
            run.latestVersion() >= 3 && run.metrics().contains { $0["live_reward_workers"] as? Int == 1 }
        }

        let context = try ZMQContext()
        defer { try? context.close() }
        let actor = try RawPeer(context, .dealer, connect: bound.frontend)
        defer { try? actor.socket.close() }
        let (images, prompts) = sampleImages(6, seed: 78)
        try actor.send(.rewardRequest(RewardRequest(requestID: 4343, images: images, prompts: prompts)), sender: "test-actor")
        let reply = try actor.receive(timeout: .seconds(60)) { if case .rewardResult = $0 { return true } else { return false } }
        guard case let .rewardResult(result) = reply.envelope.payload else { return XCTFail("\(reply.envelope)") }
        XCTAssertEqual(result.requestID, 4343)
        XCTAssertEqual(result.unsafe.count, 6)
        for (i, u) in result.unsafe.enumerated() {
            XCTAssertTrue((0...1).contains(u), "unsafe \(i) = \(u)")
            XCTAssertEqual(result.alignment[i], 0)
            XCTAssertEqual(result.rewards[i], -u, accuracy: 1e-6)
        }

        run.signal("py-reward-0", SIGKILL)
        XCTAssertNotNil(run.waitForExit(run.processes["py-reward-0"]!))
        run.waitUntil("the broker forgets the killed worker") {
            run.log("learner").range(of: "reward worker py-reward-0 gone \\((silent|unreachable)", options: .regularExpression) != nil
        }
        let before = run.latestVersion()
        let restarted = try run.startPython("py-reward-0", script, arguments)
        run.waitUntil("the restarted NudeNet worker joins and updates go on", timeout: .seconds(120)) {
            run.log("learner").contains("reward worker py-reward-0 (pid \(restarted.processIdentifier)) joined")
                && run.latestVersion() >= before + 2
        }
        run.signal("learner", SIGTERM)
        XCTAssertEqual(run.waitForExit(run.processes["learner"]!), 0, run.allLogs())
        XCTAssertEqual(run.waitForExit(run.processes["py-reward-0"]!), 0, run.log("py-reward-0"))
    }

    /// The Swift reward worker (`shielddiff reward-worker`, the diffusion model's content-safe
    /// scorer) and scripts/python_reward_worker.py on the models `shielddiff export onnx` wrote,
    /// both real processes connected to this test acting as the broker over tcp, answer the same
    /// REWARD_REQUEST bytes — the world's images and captions, some of them noise — with rewards,
    /// alignments and unsafe probabilities within 1e-4 of each other.
    func testSwiftAndPythonONNXWorkersAgreeOverTheWire() throws {
        run = try RunHarness("pyagree")
        let models = run.directory.appendingPathComponent("onnx")
        let export = try run.start("export", ["export", "onnx", "--out", models.path])
        XCTAssertEqual(run.waitForExit(export, timeout: .seconds(120)), 0, run.log("export"))

        let context = try ZMQContext()
        defer { try? context.close() }
        let broker = try RawPeer(context, .router, bind: "tcp://127.0.0.1:*")
        defer { try? broker.socket.close() }
        let endpoint = try broker.socket.lastEndpoint
        try run.start("swift-reward", ["reward-worker", "--set", "model=diffusion", "--set", "endpoints.reward_backend=\(endpoint)",
                                       "--instance", "swift-reward", "--parent-pid", String(getpid())])
        let script = Python.root.appendingPathComponent("scripts/python_reward_worker.py").path
        try run.startPython("py-reward", script, ["--models", models.path, "--endpoint", endpoint, "--instance", "py-reward",
                                                  "--parent-pid", String(getpid())])

        // Both say HELLO (the Python one after loading onnxruntime); each is welcomed and READY.
        var identities: [String: [UInt8]] = [:]
        while identities.count < 2 {
            let hello = try broker.receive(timeout: .seconds(90)) { if case .hello = $0 { return true } else { return false } }
            guard case let .hello(h) = hello.envelope.payload else { return XCTFail() }
            identities[h.instanceID] = hello.identity
        }
        XCTAssertEqual(Set(identities.keys), ["swift-reward", "py-reward"])
        for identity in identities.values {
            try broker.send(.welcome(Welcome(runID: "run-agree", policyVersion: 1, heartbeatIntervalMilliseconds: 1000, liveness: 30,
                                             configDigest: "", maxInFlightBatches: 0)), to: identity)
        }
        var ready = Set<[UInt8]>()
        while ready.count < 2 {
            ready.insert(try broker.receive(timeout: .seconds(30)) { if case .ready = $0 { return true } else { return false } }.identity)
        }

        // 48 of the world's images with their captions, every sixth one uniform noise.
        var rng = RandomGenerator(seed: 21)
        var images: [Image] = [], prompts: [String] = []
        for i in 0..<48 {
            let pair = DataDistribution.pair(seed: 3, index: i)
            images.append(i % 6 == 5 ? try Image(hwc: (0..<Image.valueCount).map { _ in rng.nextUniform(0, 1) }) : pair.image)
            prompts.append(pair.prompt.text)
        }
        let batch = Tensor(shape: [images.count, 3, Image.side, Image.side], data: images.flatMap { $0.chwTensor().data })
        for (name, identity) in identities {
            try broker.send(.rewardRequest(RewardRequest(requestID: name == "py-reward" ? 1 : 2, images: batch, prompts: prompts)),
                            to: identity)
        }
        var results: [UInt64: RewardResult] = [:]
        while results.count < 2 {
            let answer = try broker.receive(timeout: .seconds(60)) { if case .rewardResult = $0 { return true } else { return false } }
            guard case let .rewardResult(result) = answer.envelope.payload else { return XCTFail() }
            results[result.requestID] = result
        }
        let python = try XCTUnwrap(results[1]), swift = try XCTUnwrap(results[2])
        XCTAssertEqual(python.rewards.count, 48)
        XCTAssertEqual(swift.rewards.count, 48)
        var largest = (reward: Float(0), alignment: Float(0), unsafe: Float(0))
        for i in 0..<min(python.rewards.count, swift.rewards.count) {
            XCTAssertEqual(python.rewards[i], swift.rewards[i], accuracy: 1e-4, "reward \(i)")
            XCTAssertEqual(python.alignment[i], swift.alignment[i], accuracy: 1e-4, "alignment \(i)")
            XCTAssertEqual(python.unsafe[i], swift.unsafe[i], accuracy: 1e-4, "unsafe \(i)")
            largest = (max(largest.reward, abs(python.rewards[i] - swift.rewards[i])),
                       max(largest.alignment, abs(python.alignment[i] - swift.alignment[i])),
                       max(largest.unsafe, abs(python.unsafe[i] - swift.unsafe[i])))
        }
        // Not a trivial agreement: the images span safe and unsafe, so the rewards spread.
        let unsafeCount = swift.unsafe.filter { $0 > 0.5 }.count
        XCTAssertTrue((5...43).contains(unsafeCount), "\(unsafeCount) of 48 unsafe: \(swift.unsafe)")
        print("Swift vs Python ONNX worker on 48 images: largest differences reward \(largest.reward), "
              + "alignment \(largest.alignment), unsafe \(largest.unsafe); \(unsafeCount) unsafe")

        for identity in identities.values { try broker.send(.terminate(Terminate(reason: "test over")), to: identity) }
        XCTAssertEqual(run.waitForExit(run.processes["swift-reward"]!), 0, run.log("swift-reward"))
        XCTAssertEqual(run.waitForExit(run.processes["py-reward"]!), 0, run.log("py-reward"))
    }

    /// This test is the broker: every rule of PROTOCOL.md §5.2, §6 and §8 the worker must keep.
    func testPythonWorkerKeepsTheProtocol() throws {
        run = try RunHarness("pyproto")
        let context = try ZMQContext()
        defer { try? context.close() }
        let broker = try RawPeer(context, .router, bind: "tcp://127.0.0.1:*")
        defer { try? broker.socket.close() }
        let endpoint = try broker.socket.lastEndpoint
        try run.startPython("worker", "example_reward_worker.py", workerArguments(endpoint, ["--credit", "2"]))

        func next(_ what: String, _ accept: @escaping (Envelope.Payload) -> Bool) throws -> (identity: [UInt8], envelope: Envelope) {
            try broker.receive(timeout: .seconds(20)) { accept($0) }
        }
        func error(_ code: ErrorReport.Code) -> (Envelope.Payload) -> Bool {
            { if case let .error(report) = $0 { return report.code == code } else { return false } }
        }

        let hello = try next("HELLO") { if case .hello = $0 { return true } else { return false } }
        guard case let .hello(h) = hello.envelope.payload else { return XCTFail() }
        XCTAssertEqual(h.role, .rewardWorker)
        XCTAssertEqual(h.instanceID, "py-reward-0")
        XCTAssertEqual(hello.envelope.sequence, 1)
        let worker = hello.identity

        // Before WELCOME a request is unexpected.
        let (images, prompts) = sampleImages(3, seed: 5)
        try broker.send(.rewardRequest(RewardRequest(requestID: 1, images: images, prompts: prompts)), to: worker)
        let early = try next("ERROR(UNEXPECTED)", error(.unexpected))
        guard case let .error(report) = early.envelope.payload else { return XCTFail() }
        XCTAssertTrue(report.detail.contains("before WELCOME"), report.detail)
        XCTAssertEqual(report.inReplyTo, 1)

        // WELCOME → READY with the credit; heartbeats at the interval it fixes (2 s of silence is death).
        try broker.send(.welcome(Welcome(runID: "run-py", policyVersion: 3, heartbeatIntervalMilliseconds: 200, liveness: 10,
                                         configDigest: "", maxInFlightBatches: 0)), to: worker)
        let ready = try next("READY") { if case .ready = $0 { return true } else { return false } }
        XCTAssertEqual(ready.envelope.payload, .ready(Ready(credit: 2)))

        // A request → the Swift scorer's scores; the next heartbeat counts it.
        try broker.send(.rewardRequest(RewardRequest(requestID: 99, images: images, prompts: prompts)), to: worker)
        let answer = try next("REWARD_RESULT") { if case .rewardResult = $0 { return true } else { return false } }
        guard case let .rewardResult(result) = answer.envelope.payload else { return XCTFail() }
        XCTAssertEqual(result.requestID, 99)
        assertScoresMatch(result, images, prompts)
        let beat = try next("HEARTBEAT") { if case .heartbeat = $0 { return true } else { return false } }
        guard case let .heartbeat(heartbeat) = beat.envelope.payload else { return XCTFail() }
        XCTAssertTrue(heartbeat.counters.contains(Metric(name: "requests_scored", value: 1)), "\(heartbeat.counters)")

        // Malformed bytes, another protocol version, an unknown kind: each answered with its code.
        try broker.sendFrames([BadBytes.random(64, seed: 9)], to: worker)
        _ = try next("ERROR(MALFORMED)", error(.malformed))
        try broker.sendFrames([try BadBytes.versionTwo(.heartbeat(Heartbeat(policyVersion: 3)))], to: worker)
        _ = try next("ERROR(UNSUPPORTED_VERSION)", error(.unsupportedVersion))
        try broker.sendFrames([BadBytes.unknownKind], to: worker)
        _ = try next("ERROR(UNKNOWN_KIND)", error(.unknownKind))

        // NOT_WELCOMED → a new connection (new identity) and HELLO.
        try broker.send(.error(ErrorReport(code: .notWelcomed, detail: "send HELLO first")), to: worker)
        let again = try next("HELLO after NOT_WELCOMED") { if case .hello = $0 { return true } else { return false } }
        XCTAssertNotEqual(again.identity, worker)
        XCTAssertEqual(again.envelope.sequence, 1, "a new socket counts from 1")

        // Welcomed, then a silent broker (nothing sent for liveness × interval) → reconnect.
        try broker.send(.welcome(Welcome(runID: "run-py", policyVersion: 3, heartbeatIntervalMilliseconds: 100, liveness: 3,
                                         configDigest: "", maxInFlightBatches: 0)), to: again.identity)
        _ = try next("READY") { if case .ready = $0 { return true } else { return false } }
        let third = try next("HELLO after silence") { if case .hello = $0 { return true } else { return false } }
        XCTAssertNotEqual(third.identity, again.identity)
        XCTAssertTrue(run.log("worker").contains("broker silent for 0.3 s; reconnecting"), run.log("worker"))

        // TERMINATE → TERMINATE_ACK, then a clean exit.
        try broker.send(.welcome(Welcome(runID: "run-py", policyVersion: 3, heartbeatIntervalMilliseconds: 1000, liveness: 3,
                                         configDigest: "", maxInFlightBatches: 0)), to: third.identity)
        try broker.send(.terminate(Terminate(reason: "test over")), to: third.identity)
        _ = try next("TERMINATE_ACK") { if case .terminateAck = $0 { return true } else { return false } }
        XCTAssertEqual(run.waitForExit(run.processes["worker"]!), 0, run.log("worker"))
    }

    /// A request that breaks §11 gets ERROR(MALFORMED) naming the field; a scorer that fails
    /// gets the request ERROR(INTERNAL) in reply to its sequence (the broker then retries it).
    func testPythonWorkerAnswersBadRequestsAndFailedScoringWithErrors() throws {
        run = try RunHarness("pyerrors")
        let failing = run.directory.appendingPathComponent("failing_worker.py")
        try """
            from shielddiff_worker import main
            def score(images, prompts):
                raise RuntimeError("detector crashed")
            main(score)
            """.write(to: failing, atomically: true, encoding: .utf8)
        // Bytes no Swift peer would send: 5 values for 2 images (built with the Python bindings).
        let hex = try Python.run("""
            import shielddiff_pb2 as pb
            request = pb.RewardRequest(request_id=7, images=pb.Tensor(shape=[2, 3, 32, 32], data=[0.5] * 5), prompts=["a", "b"])
            print(pb.Envelope(protocol_version=1, sender="test", sequence=9, reward_request=request).SerializeToString().hex())
            """).trimmingCharacters(in: .whitespacesAndNewlines)
        let bad = stride(from: 0, to: hex.count, by: 2).map { i -> UInt8 in
            let start = hex.index(hex.startIndex, offsetBy: i)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)!
        }

        let context = try ZMQContext()
        defer { try? context.close() }
        let broker = try RawPeer(context, .router, bind: "tcp://127.0.0.1:*")
        defer { try? broker.socket.close() }
        try run.startPython("worker", failing.path, workerArguments(try broker.socket.lastEndpoint))
        let hello = try broker.receive { if case .hello = $0 { return true } else { return false } }
        try broker.send(.welcome(Welcome(runID: "run-py", policyVersion: 1, heartbeatIntervalMilliseconds: 1000, liveness: 3,
                                         configDigest: "", maxInFlightBatches: 0)), to: hello.identity)  // sequence 1
        _ = try broker.receive { if case .ready = $0 { return true } else { return false } }

        try broker.sendFrames([bad], to: hello.identity)
        let malformed = try broker.receive { if case .error = $0 { return true } else { return false } }
        XCTAssertEqual(malformed.envelope.payload, .error(ErrorReport(code: .malformed, detail: "images: 5 values for shape [2, 3, 32, 32]",
                                                                      inReplyTo: 9)))

        let (images, prompts) = sampleImages(2, seed: 1)
        try broker.send(.rewardRequest(RewardRequest(requestID: 8, images: images, prompts: prompts)), to: hello.identity)  // sequence 2
        let failed = try broker.receive { if case .error = $0 { return true } else { return false } }
        XCTAssertEqual(failed.envelope.payload, .error(ErrorReport(code: .internal, detail: "scoring failed: detector crashed",
                                                                   inReplyTo: 2)))
        let beat = try broker.receive { if case .heartbeat = $0 { return true } else { return false } }
        guard case let .heartbeat(heartbeat) = beat.envelope.payload else { return XCTFail() }
        XCTAssertTrue(heartbeat.counters.contains(Metric(name: "requests_failed", value: 1)), "\(heartbeat.counters)")
        XCTAssertTrue(run.log("worker").contains("request 8 failed: detector crashed"), run.log("worker"))
    }

    /// CONFIG_MISMATCH ends the worker with an error status naming the reason.
    func testPythonWorkerExitsOnConfigMismatch() throws {
        run = try RunHarness("pymismatch")
        let context = try ZMQContext()
        defer { try? context.close() }
        let broker = try RawPeer(context, .router, bind: "tcp://127.0.0.1:*")
        defer { try? broker.socket.close() }
        let process = try run.startPython("worker", "example_reward_worker.py", workerArguments(try broker.socket.lastEndpoint))
        let hello = try broker.receive { if case .hello = $0 { return true } else { return false } }
        try broker.send(.error(ErrorReport(code: .configMismatch, detail: "digest abc differs from def")), to: hello.identity)
        let status = run.waitForExit(process)
        XCTAssertNotNil(status)
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(run.log("worker").contains("the broker refused this worker: CONFIG_MISMATCH: digest abc differs from def"),
                      run.log("worker"))
    }

    /// The endpoints in the learner's "run …: version …, control A, weights B, reward C / D" line.
    static func boundEndpoints(in log: String) -> (control: String, weights: String, frontend: String, backend: String)? {
        let pattern = "control (\\S+), weights (\\S+), reward (\\S+) / (\\S+)"
        guard let regex = try? NSRegularExpression(pattern: pattern),
              let match = regex.firstMatch(in: log, range: NSRange(log.startIndex..., in: log)) else { return nil }
        let groups = (1...4).map { String(log[Range(match.range(at: $0), in: log)!]) }
        return (groups[0], groups[1], groups[2], groups[3])
    }
}
