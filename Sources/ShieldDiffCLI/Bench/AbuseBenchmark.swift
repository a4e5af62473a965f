import ArgumentParser
import Foundation
import Runtime
import Wire
import ZMQ

/// `shielddiff bench abuse`: a CURVE run's update rate and the learner's memory while rogue
/// processes flood its control socket: half of them hold a listed actor key and send malformed
/// bytes, half connect with unknown keys (each connection one message that never arrives).
struct BenchAbuse: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abuse",
        abstract: "Update rate and learner memory of a CURVE run, quiet and while rogue processes flood its control socket.")

    @Option(help: "Rogue processes (half malformed-with-key, half unauthenticated).") var rogues = 4
    @Option(help: "Messages per second of all rogues together.") var rate = 10_000
    @Option(help: "Seconds of each phase (quiet, flood, quiet again).") var seconds = 5.0

    @Option(help: .hidden) var rogue: String?
    @Option(help: .hidden) var endpoint: String?
    @Option(help: .hidden) var learnerKey: String?
    @Option(help: .hidden) var keyFile: String?

    func validate() throws {
        guard rogues >= 1, rate >= 1, seconds > 0 else { throw ValidationError("--rogues and --rate must be ≥ 1, --seconds > 0") }
        if let rogue, !["malformed", "unauthenticated"].contains(rogue) { throw ValidationError("--rogue: malformed or unauthenticated") }
    }

    func run() throws {
        if let rogue { return try flood(mode: rogue) }
        try measure()
    }

    /// The learner with two paced actors; three phases; the rogues run during the second.
    private func measure() throws {
        let actors = 2
        var config = RunConfig()
        let directory = NSTemporaryDirectory() + "shielddiff-abuse-\(getpid())"
        for override in ["endpoints.control=tcp://127.0.0.1:*", "endpoints.weights=tcp://127.0.0.1:*",
                         "endpoints.reward_frontend=tcp://127.0.0.1:*", "endpoints.reward_backend=tcp://127.0.0.1:*",
                         "run_dir=\(directory)", "updates=0", "stop_unsafe_rate=0", "checkpoint_every=0",
                         "reward_workers=0", "trajectories_per_batch=2", "trajectories_per_update=4",
                         "max_buffered_trajectories=32", "max_policy_lag=1000000", "hyperparameters.steps=2",
                         "hyperparameters.latent_size=8", "shutdown_timeout_ms=1000"] { try config.apply(override: override) }
        let insiders = (0..<(rogues + 1) / 2).map { "insider-\($0)" }
        let keys = try BenchKeys(peers: (0..<actors).map { "bench-actor-\($0)" } + insiders)
        defer { keys.remove(); try? FileManager.default.removeItem(atPath: directory) }
        config = keys.applied(to: config)
        let model = BenchLearner(steps: 2, latentSize: 8, floats: 1024, updateTime: .milliseconds(40), clock: nil)
        let learner = try Learner(config: config, model: model, resume: false)
        var peerConfig = config
        peerConfig.endpoints = learner.boundEndpoints
        let learnerBox = Handoff(learner)
        let learnerDone = spawnThread("abuse-learner") { try? learnerBox.value.run() }
        let clock = VersionClock()
        let actorDone = try (0..<actors).map { index in
            let actor = Handoff(try Actor(config: keys.applied(to: peerConfig, peer: "bench-actor-\(index)"),
                                               instanceID: "bench-actor-\(index)", index: index,
                                               sampler: ReplaySampler(clock: clock, spec: model.trajectorySpec, sampleTime: 0.005),
                                               scorer: ConstantScorer()))
            return spawnThread("abuse-actor-\(index)") { _ = try? actor.value.run() }
        }
        let metrics = config.resolvedMetricsFile
        func updates() -> Int { ((try? String(contentsOf: metrics, encoding: .utf8)) ?? "").split(separator: "\n").count }
        func phase(_ label: String) -> (rate: Double, rss: [Int]) {
            let start = updates()
            var rss: [Int] = []
            let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
            while ContinuousClock.now < end {
                rss.append(residentKiB())
                Thread.sleep(forTimeInterval: 0.25)
            }
            let rate = Double(updates() - start) / seconds
            say(String(format: "%@: %.1f updates/s, learner process RSS %d → %d KiB (max %d)", label, rate,
                       rss.first ?? 0, rss.last ?? 0, rss.max() ?? 0))
            return (rate, rss)
        }
        Thread.sleep(forTimeInterval: 1)  // both actors join
        let quiet = phase("quiet")
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let perRogue = max(rate / rogues, 1)
        let children = try (0..<rogues).map { index -> Process in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            var arguments = ["bench", "abuse", "--endpoint", learner.boundEndpoints.control, "--learner-key", keys.folder + "/learner.pub",
                             "--rate", String(perRogue), "--seconds", String(seconds + 1.5)]
            arguments += index % 2 == 0 ? ["--rogue", "malformed", "--key-file", keys.folder + "/\(insiders[index / 2]).key"]
                                        : ["--rogue", "unauthenticated"]
            process.arguments = arguments
            try process.run()
            return process
        }
        Thread.sleep(forTimeInterval: 0.5)  // the rogues connect
        let flooded = phase("flood (\(rogues) rogues, \(perRogue * rogues) messages/s)")
        for child in children { child.waitUntilExit() }
        let after = phase("quiet again")
        learner.stop()
        for done in actorDone { done.wait() }
        learnerDone.wait()
        let last = ((try? String(contentsOf: metrics, encoding: .utf8)) ?? "").split(separator: "\n").last
            .flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] } ?? [:]
        let counted = ["rejected_malformed", "zap_refused_unknown_key", "handshake_failed_no_detail", "rejected_not_welcomed"]
            .map { "\($0) \(last[$0] as? Int ?? 0)" }.joined(separator: ", ")
        say(String(format: "update rate under flood: %+.1f%% of quiet; RSS growth during the flood %d KiB; after: %.1f updates/s",
                   100 * (flooded.rate / max(quiet.rate, 1e-9) - 1), (flooded.rss.last ?? 0) - (flooded.rss.first ?? 0), after.rate))
        say("learner counted: \(counted)")
    }

    /// One rogue process: `rate` messages per second for `seconds`, in bursts every 10 ms.
    private func flood(mode: String) throws {
        guard let endpoint, let learnerKey else { throw ValidationError("--endpoint and --learner-key are required with --rogue") }
        let serverKey = try PublicKeyEntry.load(path: learnerKey).publicKey
        let context = try ZMQContext()
        let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        let burst = max(rate / 100, 1)
        var sent = 0
        func socket(_ keys: ZMQCurveKeyPair) throws -> ZMQSocket {
            let socket = try ZMQSocket(context, type: .dealer)
            try socket.setOption(.curveServerKey, serverKey)
            try socket.setOption(.curvePublicKey, keys.publicKey)
            try socket.setOption(.curveSecretKey, keys.secretKey)
            try socket.connect(endpoint)
            return socket
        }
        var rng = SystemRandomNumberGenerator()
        if mode == "malformed" {
            guard let keyFile else { throw ValidationError("--key-file is required with --rogue malformed") }
            let dealer = try socket(try CurveIdentity.load(path: keyFile).keys)
            while ContinuousClock.now < end {
                for _ in 0..<burst {
                    let junk = [0x0F] + (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
                    if (try? dealer.send(junk, timeout: .zero)) != nil { sent += 1 }
                }
                Thread.sleep(forTimeInterval: 0.01)
            }
        } else {
            var open: [ZMQSocket] = []
            while ContinuousClock.now < end {
                for _ in 0..<burst {
                    let dealer = try socket(try ZMQCurveKeyPair.generate())
                    if (try? dealer.send([1, 2, 3], timeout: .zero)) != nil { sent += 1 }
                    open.append(dealer)
                }
                // Each connection lives about 100 ms: long enough for its handshake to be refused.
                if open.count > burst * 10 { for dealer in open.prefix(burst) { try? dealer.close() }; open.removeFirst(burst) }
                Thread.sleep(forTimeInterval: 0.01)
            }
            for dealer in open { try? dealer.close() }
        }
        FileHandle.standardError.write(Data("rogue (\(mode)): \(sent) messages\n".utf8))
    }
}

/// The process's resident set in KiB (`VmRSS` of /proc/self/status).
private func residentKiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
}
