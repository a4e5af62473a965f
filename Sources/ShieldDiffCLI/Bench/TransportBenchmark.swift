import Foundation
import Numerics
import Runtime
import Wire
import ZMQ

/// Carries a non-Sendable object into a thread that becomes its only user.
final class Handoff<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Runs `body` on a new thread; the returned semaphore is signalled when it ends.
func spawnThread(_ name: String, _ body: @escaping @Sendable () -> Void) -> DispatchSemaphore {
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        body()
        done.signal()
    }
    thread.name = name
    thread.stackSize = 16 << 20
    thread.start()
    return done
}

/// Throwaway CURVE keys of one benchmark run: the learner's and one per peer name, written
/// with the allowlist to a temporary folder.
struct BenchKeys {
    let folder: String
    let identities: [String: CurveIdentity]

    init(peers: [String], role: KeyRole = .actor) throws {
        folder = NSTemporaryDirectory() + "shielddiff-bench-keys-\(getpid())-\(UInt32.random(in: .min ... .max))"
        var identities = ["learner": try CurveIdentity.generate(role: .learner, name: "learner")]
        for name in peers { identities[name] = try CurveIdentity.generate(role: role, name: name) }
        for identity in identities.values { try identity.write(to: folder) }
        try Allowlist(peers.map { identities[$0]!.publicEntry }).rendered
            .write(toFile: folder + "/allowlist", atomically: true, encoding: .utf8)
        self.identities = identities
    }

    /// `config` with CURVE on, as the learner (or, with `peer`, as that peer) reads it.
    func applied(to config: RunConfig, peer: String? = nil) -> RunConfig {
        var config = config
        config.security.mode = "curve"
        config.security.key = folder + "/\(peer ?? "learner").key"
        config.security.allowlist = folder + "/allowlist"
        config.security.learnerPublicKey = folder + "/learner.pub"
        return config
    }

    func remove() { try? FileManager.default.removeItem(atPath: folder) }
}

/// "curve" or "plaintext", for figure names.
private func securityLabel(_ keys: BenchKeys?) -> String { keys == nil ? "plaintext" : "curve" }

/// A configuration for an in-process learner on ephemeral loopback tcp ports.
private func benchConfig(steps: Int, latentSize: Int) throws -> RunConfig {
    var config = RunConfig()
    let directory = NSTemporaryDirectory() + "shielddiff-bench-\(getpid())-\(UInt32.random(in: .min ... .max))"
    for override in [
        "endpoints.control=tcp://127.0.0.1:*", "endpoints.weights=tcp://127.0.0.1:*",
        "endpoints.reward_frontend=tcp://127.0.0.1:*", "endpoints.reward_backend=tcp://127.0.0.1:*",
        "run_dir=\(directory)", "updates=0", "stop_unsafe_rate=0", "checkpoint_every=0", "max_policy_lag=1000000000",
        "shutdown_timeout_ms=1000", "hyperparameters.steps=\(steps)", "hyperparameters.latent_size=\(latentSize)",
    ] { try config.apply(override: override) }
    return config
}

/// (a) Trajectories per second a learner ingests over tcp loopback from `actors` replay
/// actors (threads with real DEALER sockets, each sending one pre-encoded, valid batch of
/// `trajectories` × (steps+1) × latentSize floats again and again, `window` batches in
/// flight, paced by BATCH_ACKs). The learner validates, acks and buffers each batch; its
/// update only returns, so ingest is the limit. Each replay actor has its own ZMQ context (its
/// own I/O thread), as real actors are separate processes.
/// `curve`: every connection CURVE-authenticated and encrypted (throwaway keys).
/// `learnerIOThreads`: the learner's libzmq I/O threads (nil: `Learner.ioThreads(curve:)`).
func ingestBenchmark(actors: Int, trajectories: Int, steps: Int, latentSize: Int, window: Int,
                     seconds: Double, curve: Bool, learnerIOThreads: Int? = nil) throws -> BenchmarkFigure {
    var config = try benchConfig(steps: steps, latentSize: latentSize)
    for override in ["trajectories_per_update=\(trajectories)", "max_buffered_trajectories=\(trajectories * actors * (window + 2))",
                     "max_in_flight_batches=\(window)"] { try config.apply(override: override) }
    let keys = curve ? try BenchKeys(peers: (0..<actors).map { "replay-\($0)" }) : nil
    defer { keys?.remove() }
    if let keys { config = keys.applied(to: config) }
    let learnerKey = keys?.identities["learner"]!.keys.publicKey
    let peerKeys = Handoff(keys?.identities ?? [:])
    let model = BenchLearner(steps: steps, latentSize: latentSize, floats: 1024, updateTime: .zero, clock: nil)
    let timesteps = model.trajectorySpec.timesteps
    let ioThreads = learnerIOThreads ?? Learner.ioThreads(curve: curve)
    let learner = try Learner(config: config, model: model, resume: false, ioThreads: ioThreads)
    let endpoint = learner.boundEndpoints.control
    let learnerBox = Handoff(learner)
    let learnerDone = spawnThread("bench-learner") { try? learnerBox.value.run() }

    var rng = RandomGenerator(seed: 5)
    let batch = TrajectoryBatch(actorID: "replay", batchID: 1, trajectories: (0..<trajectories).map { i in
        Trajectory(prompt: "a large red striped circle on the left on a gray background", safePrompt: "a large red circle",
                   seed: UInt64(i), policyVersion: 1, timesteps: timesteps,
                   latents: Tensor(randomNormal: [steps + 1, latentSize], rng: &rng),
                   logProbs: (0..<steps).map { _ in -1 }, reward: 0.5, alignment: 0.5, unsafeProbability: 0.1)
    })
    let bytes = Handoff(try Envelope(sender: "replay", sequence: 1, payload: .trajectoryBatch(batch)).encoded())
    let digest = config.configDigest
    let counts = Counter()
    let start = ContinuousClock.now, warmup = Duration.milliseconds(500)
    let end = start + warmup + .milliseconds(Int(seconds * 1000))
    let replays = (0..<actors).map { index in
        spawnThread("replay-\(index)") {
            do {
                let context = try ZMQContext()
                defer { try? context.close() }
                let socket = try ZMQSocket(context, type: .dealer)
                try socket.setOption(.linger, .zero)
                if let learnerKey, let identity = peerKeys.value["replay-\(index)"] {
                    try socket.setOption(.curveServerKey, learnerKey)
                    try socket.setOption(.curvePublicKey, identity.keys.publicKey)
                    try socket.setOption(.curveSecretKey, identity.keys.secretKey)
                }
                try socket.connect(endpoint)
                defer { try? socket.close() }
                let hello = Envelope(sender: "replay-\(index)", sequence: 1, payload: .hello(
                    Hello(role: .actor, instanceID: "replay-\(index)", pid: 1, policyVersion: 0, configDigest: digest)))
                try socket.send(try hello.encoded(), timeout: .seconds(5))
                var inFlight = 0
                while ContinuousClock.now < end {
                    if inFlight < window, counts.welcomed(index) {
                        try socket.send(bytes.value, timeout: .seconds(5))
                        inFlight += 1
                        continue
                    }
                    guard let frame = try? socket.receive(timeout: .milliseconds(100)),
                          let envelope = try? Envelope(decoding: frame) else { continue }
                    switch envelope.payload {
                    case .welcome: counts.welcome(index)
                    case let .batchAck(ack):
                        inFlight -= 1
                        if ContinuousClock.now - start > warmup { counts.add(Int(ack.accepted)) }
                    default: break
                    }
                }
            } catch {
                FileHandle.standardError.write(Data("replay actor \(index): \(error)\n".utf8))
            }
        }
    }
    for done in replays { done.wait() }
    learner.stop()
    learnerDone.wait()
    try? FileManager.default.removeItem(atPath: config.runDir)
    let accepted = Double(counts.total)
    return BenchmarkFigure(name: "[\(securityLabel(keys))] ingest: \(actors) replay actors → learner (\(ioThreads) I/O thread\(ioThreads == 1 ? "" : "s")), tcp loopback, batches of \(trajectories)×(\(steps + 1)×\(latentSize))",
                           value: accepted / seconds, unit: "traj/s", seconds: seconds / max(accepted, 1))
}

/// (b) Time from a new version's weights being ready at the learner (the end of its update)
/// until all `actors` real actor loops (in-process threads, real SUB/DEALER sockets) have
/// installed it; `floats` trainable floats per version, a new version every `interval`.
/// `curve`: every connection CURVE-authenticated and encrypted (throwaway keys).
/// `relays` > 0: that many `WeightsRelay`s (threads with their own ZeroMQ context, as separate
/// processes have) subscribe to the learner, and actor i takes WEIGHTS from relay i mod `relays`
/// over ipc, as the actors of one node do from their node's relay.
func broadcastBenchmark(actors: Int, floats: Int, versions: Int, interval: Duration, curve: Bool,
                        relays: Int = 0) throws -> [BenchmarkFigure] {
    var config = try benchConfig(steps: 1, latentSize: 4)
    for override in ["reward_workers=0", "trajectories_per_batch=1", "trajectories_per_update=\(actors)",
                     "max_buffered_trajectories=\(actors * 8)"] { try config.apply(override: override) }
    let relayNames = (0..<relays).map { "bench-relay-\($0)" }
    let keys = curve ? try BenchKeys(peers: (0..<actors).map { "bench-actor-\($0)" } + relayNames) : nil
    defer { keys?.remove() }
    if let keys { config = keys.applied(to: config) }
    let clock = VersionClock()
    let model = BenchLearner(steps: 1, latentSize: 4, floats: floats, updateTime: interval, clock: clock)
    let spec = model.trajectorySpec
    let learner = try Learner(config: config, model: model, resume: false)
    var actorConfig = config
    actorConfig.endpoints = learner.boundEndpoints
    let learnerBox = Handoff(learner)
    let learnerDone = spawnThread("bench-learner") { try? learnerBox.value.run() }
    let relayEndpoints = relayNames.map { "ipc://\(config.runDir)/relays/\($0).sock" }
    let relayObjects = try zip(relayNames, relayEndpoints).map { name, endpoint in
        var relayConfig = keys?.applied(to: actorConfig, peer: name) ?? actorConfig
        relayConfig.endpoints.weightsRelay = endpoint
        return try WeightsRelay(config: relayConfig, instanceID: name)
    }
    let relayDone = relayObjects.map { relay in
        let box = Handoff(relay)
        return spawnThread("bench-relay") { box.value.run() }
    }
    let actorDone = try (0..<actors).map { index in
        var peerConfig = keys?.applied(to: actorConfig, peer: "bench-actor-\(index)") ?? actorConfig
        if relays > 0 { peerConfig.endpoints.weightsRelay = relayEndpoints[index % relays] }
        let actor = Handoff(try Actor(config: peerConfig, instanceID: "bench-actor-\(index)", index: index,
                                      sampler: ReplaySampler(clock: clock, spec: spec, sampleTime: 0.002),
                                      scorer: ConstantScorer()))
        return spawnThread("bench-actor-\(index)") { _ = try? actor.value.run() }
    }
    let deadline = ContinuousClock.now + interval * (versions * 3) + .seconds(10)
    while clock.latencies(actors: actors).count < versions + 1 && ContinuousClock.now < deadline {
        Thread.sleep(forTimeInterval: 0.05)
    }
    learner.stop()
    for done in actorDone { done.wait() }
    for relay in relayObjects { relay.stop() }
    for done in relayDone { done.wait() }
    learnerDone.wait()
    try? FileManager.default.removeItem(atPath: config.runDir)
    // The first version is installed while actors are still joining; it is left out.
    let latencies = clock.latencies(actors: actors).dropFirst().sorted()
    guard !latencies.isEmpty else { throw RuntimeError("no version reached all \(actors) actors") }
    func figure(_ label: String, _ latency: Duration) -> BenchmarkFigure {
        let seconds = Double(latency.components.seconds) + Double(latency.components.attoseconds) / 1e18
        let via = relays == 0 ? "" : " via \(relays) relay\(relays == 1 ? "" : "s")"
        return BenchmarkFigure(name: "[\(securityLabel(keys))] broadcast \(floats) floats to \(actors) actors\(via), \(label) of \(latencies.count) versions",
                               value: seconds * 1000, unit: "ms", seconds: seconds)
    }
    return [figure("median", latencies[latencies.count / 2]),
            figure("p90", latencies[min(latencies.count - 1, latencies.count * 9 / 10)]),
            figure("max", latencies.last!)]
}

/// Accepted trajectories and welcomed replay actors, counted across threads.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var accepted = 0
    private var welcomedActors: Set<Int> = []

    func add(_ count: Int) { lock.lock(); accepted += count; lock.unlock() }
    var total: Int { lock.lock(); defer { lock.unlock() }; return accepted }
    func welcome(_ index: Int) { lock.lock(); welcomedActors.insert(index); lock.unlock() }
    func welcomed(_ index: Int) -> Bool { lock.lock(); defer { lock.unlock() }; return welcomedActors.contains(index) }
}
