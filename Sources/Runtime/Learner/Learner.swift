import Foundation
import Numerics
import TensorBoard
import Wire
import World
import ZMQ

/// The learner process (PROTOCOL.md §5.4): binds the four endpoints, welcomes actors and the
/// supervisor, ingests trajectory batches, runs PPO updates on its update thread while this
/// I/O loop keeps serving, publishes each new version, checkpoints, hosts the reward broker,
/// and ends the run with the TERMINATE dialog of §5.6.
///
/// The I/O loop never blocks on a send (non-blocking sends, ROUTER_MANDATORY) and never waits
/// on one peer: everything is driven by `zmq_poll` with a short timeout and by timers.
public final class Learner {
    /// A connected actor or supervisor, keyed by its ROUTER identity.
    struct Peer {
        let instanceID: String
        let role: Role
        var lastHeard: ContinuousClock.Instant
        var lastSent: ContinuousClock.Instant
        var weightsSent: (version: UInt64, at: ContinuousClock.Instant)?
        var terminateAcked = false
    }

    enum Phase: Equatable {
        case running
        /// TERMINATE sent to every peer; waiting for acks until `deadline`.
        case draining(deadline: ContinuousClock.Instant)
        /// The final checkpoint is being written.
        case finalCheckpoint
        case done
    }

    let config: RunConfig
    let log = RuntimeLog(name: "learner")
    let spec: TrajectorySpec
    let runID: String
    let parentPID: Int32?
    let context: ZMQContext
    let control: EnvelopeSocket
    let publisher: EnvelopeSocket
    let frontend: EnvelopeSocket
    let backend: EnvelopeSocket
    let wake: ZMQSocket
    let updater: UpdateThread
    let metrics: MetricsWriter
    /// TensorBoard's copy of every metrics line's numbers, beside the metrics file.
    let events: EventFileWriter
    /// Prometheus's `/metrics` of the same numbers, when `metrics_port` is set.
    let prometheus: MetricsEndpoint?
    /// The model's images of trajectories, for TensorBoard's sample grid (if it has any).
    let imageRenderer: FinalImageRendering?
    /// The base model's images of `previewPrompts`, the top row of TensorBoard's before/after
    /// grid (nil: the model cannot sample them, or `tensorboard_image_every` is 0).
    let previewBefore: [Image]?
    let checkpoints: CheckpointFolder
    private(set) var broker: RewardBroker!
    /// CURVE: the ZAP handler deciding every handshake.
    let zap: ZAPHandler?
    /// CURVE: the allowlist in force (replaced whole on SIGHUP); nil: plaintext.
    var allowlist: Allowlist?
    /// Monitors of the four sockets, for handshake failures ZAP never sees (e.g. plaintext peers).
    var monitors: [ZMQMonitor] = []
    /// Failed handshakes seen by the monitors, by kind.
    var handshakeFailures: [String: Int] = [:]
    /// Connections in their handshake, bounded by `limits.max_unauthenticated_connections`.
    var handshakeGate: HandshakeGate
    /// HELLOs handled in the current one-second window (`limits.max_hellos_per_second`).
    var helloWindow: (start: ContinuousClock.Instant, count: Int) = (.now, 0)
    /// HELLOs refused by a limit, by limit (`rate`, `max_actors`).
    var hellosRefused: [String: Int] = [:]
    /// When free malloc pages were last given back (`MemoryTrim`).
    private var lastMemoryTrim = ContinuousClock.now
    private let stopRequested = ManagedFlag()
    /// The endpoints as bound, with `*` ports resolved (e.g. `tcp://127.0.0.1:*` → the port
    /// the system chose), for peers started after the learner.
    public let boundEndpoints: RunConfig.Endpoints

    var phase = Phase.running
    var version: UInt64
    var weights: Weights
    var peers: [[UInt8]: Peer] = [:]
    var terminateRequesters: [[UInt8]] = []
    var rejections = RejectionCounters()
    var errorLimiter = ErrorRateLimiter()
    var stats = IngestStats()
    var buffer: [Trajectory] = []
    var pendingBatch: [Trajectory] = []
    var updateRunning = false
    var lastUpdateEnd = ContinuousClock.now
    /// `stop_unsafe_rate` over the unsafe shares of the last `stop_window` trained batches.
    var stopRule: UnsafeShareStopRule
    /// When the last checkpoint was asked for (start counts as one): `checkpoint_seconds` runs from it.
    var lastCheckpointRequest = ContinuousClock.now
    /// Updates finished in this process's life (its first is timed from `started`).
    var updatesThisLife = 0
    /// Checkpoint-only jobs submitted and not yet finished (the run ends after the last).
    var checkpointJobs = 0
    let started = ContinuousClock.now

    /// Sets the learner up: restores the newest checkpoint when `resume` is set and one exists,
    /// binds the endpoints and starts the update thread. `parentPID`: exit when that process
    /// (the supervisor) dies. `ioThreads`: libzmq I/O threads (default `ioThreads(curve:)`).
    public init(config: RunConfig, model: PolicyLearner, resume: Bool, parentPID: Int32? = nil, ioThreads: Int? = nil) throws {
        self.config = config
        self.parentPID = parentPID
        handshakeGate = HandshakeGate(limit: config.limits.maxUnauthenticatedConnections, timeout: config.handshakeLimit)
        spec = model.trajectorySpec
        imageRenderer = model as? FinalImageRendering
        // Sampled before a checkpoint is restored: "before" is the base model, also on --resume.
        let previewer = config.tensorboardImageEvery > 0 ? model as? PreviewSampling : nil
        let previewStart = ContinuousClock.now
        previewBefore = previewer.map { $0.previewImages(prompts: previewPrompts, seed: config.seed) }
        if previewBefore != nil {
            log.info(String(format: "TensorBoard before/after grid: the base model's %d images in %.2f s",
                            previewPrompts.count, (ContinuousClock.now - previewStart).seconds))
        }
        checkpoints = CheckpointFolder(directory: config.resolvedCheckpointDir)
        var restored: LearnerCheckpoint?
        if resume {
            let abandoned = checkpoints.removeAbandonedTemporaries()
            if abandoned > 0 { log.info("--resume: removed \(abandoned) temporary file(s) of an interrupted checkpoint write") }
            let (found, skipped) = try checkpoints.newest { try model.restore(tensors: $0.tensors, metadata: $0.metadata) }
            for file in skipped { log.info("--resume: skipped \(file.url.lastPathComponent), it does not load: \(file.reason)") }
            if let (checkpoint, url) = found {
                restored = checkpoint
                log.info("resumed from \(url.path): version \(checkpoint.version), run \(checkpoint.runID)" +
                         (skipped.isEmpty ? "" : " (the newest that loads; \(skipped.count) newer skipped)"))
            } else if !skipped.isEmpty {
                throw RuntimeError("--resume: no checkpoint in \(checkpoints.directory.path) loads; " +
                                   skipped.map { "\($0.url.lastPathComponent): \($0.reason)" }.joined(separator: "; "))
            } else {
                log.info("--resume: no checkpoint in \(checkpoints.directory.path); starting at version 1")
            }
        }
        version = restored?.version ?? 1
        runID = restored?.runID ?? (config.runID.isEmpty ? Self.newRunID() : config.runID)
        stats.trained = restored?.trajectoriesTrained ?? 0
        stopRule = UnsafeShareStopRule(rate: config.stopUnsafeRate, window: config.stopWindow,
                                       recent: restored?.recentUnsafeFractions ?? [])
        weights = Self.weights(model.trainable, version: version)
        metrics = try MetricsWriter(url: config.resolvedMetricsFile)
        events = try EventFileWriter(directory: config.resolvedMetricsFile.deletingLastPathComponent())
        prometheus = config.metricsPort > 0 ? try MetricsEndpoint(address: config.metricsAddress, port: config.metricsPort) : nil
        if prometheus != nil { log.info("Prometheus metrics on http://\(config.metricsAddress):\(config.metricsPort)/metrics") }

        let learnerCurve = try Self.checkedSecurity(config, log: log)
        allowlist = learnerCurve?.allowlist
        context = try ZMQContext(ioThreads: ioThreads ?? Self.ioThreads(curve: learnerCurve != nil))
        if let curve = learnerCurve {
            // Before any CURVE socket binds: without a handler libzmq admits every key.
            let handler = ZAPHandler(context: context, allowlist: curve.allowlist, log: log)
            try handler.start()
            zap = handler
        } else {
            zap = nil
        }
        func side(_ endpoint: SecuredEndpoint) -> CurveSocketSide? { learnerCurve.map { .server($0.identity, endpoint) } }
        let e = config.endpoints, limit = config.handshakeLimit
        control = try EnvelopeSocket(context, .router, bind: e.control, sender: "learner", curve: side(.control), handshakeLimit: limit)
        publisher = try EnvelopeSocket(context, .publisher, sender: "learner", curve: side(.weights), handshakeLimit: limit)
        try publisher.socket.setOption(.sendHighWaterMark, 2)
        try publisher.socket.bind(e.weights)
        frontend = try EnvelopeSocket(context, .router, bind: e.rewardFrontend, sender: "learner",
                                      curve: side(.rewardFrontend), handshakeLimit: limit)
        backend = try EnvelopeSocket(context, .router, bind: e.rewardBackend, sender: "learner",
                                     curve: side(.rewardBackend), handshakeLimit: limit)
        monitors = try [control, publisher, frontend, backend].map { socket throws(ZMQError) in
            try ZMQMonitor(socket.socket, events: [.accepted, .handshakeSucceeded, .handshakeFailedProtocol,
                                                   .handshakeFailedAuth, .handshakeFailedNoDetail])
        }
        let wakeEndpoint = "inproc://learner-wake-\(UInt64.random(in: .min ... .max))"
        var bound = RunConfig.Endpoints()
        bound.control = try control.socket.lastEndpoint
        bound.weights = try publisher.socket.lastEndpoint
        bound.rewardFrontend = try frontend.socket.lastEndpoint
        bound.rewardBackend = try backend.socket.lastEndpoint
        boundEndpoints = bound
        wake = try ZMQSocket(context, type: .pair)
        try wake.bind(wakeEndpoint)
        updater = UpdateThread(model: model, context: context, wakeEndpoint: wakeEndpoint,
                               preview: previewer.map { ($0, previewPrompts, config.seed) })
        broker = RewardBroker(config: config, runID: runID, log: log) { [unowned self] side, identity, payload in
            let socket = side == .frontend ? frontend : backend
            return (try? socket.send(payload, to: identity)) ?? .queueFull
        }
        broker.policyVersion = version
        updater.start()
        log.info("run \(runID): version \(version), control \(bound.control), weights \(bound.weights), " +
                 "reward \(bound.rewardFrontend) / \(bound.rewardBackend)")
    }

    /// Asks `run()` to end the run as a supervisor's TERMINATE would (from any thread).
    public func stop() { stopRequested.set() }

    /// Serves until the run ends (the configured updates are done, a supervisor's TERMINATE,
    /// SIGINT/SIGTERM, or the parent's death); returns after the final checkpoint.
    public func run() throws {
        do { try serve() } catch {
            shutDown()
            throw error
        }
        shutDown()
    }

    private func serve() throws {
        publish(now: .now)
        let poller = ZMQPoller()
        poller.add(control.socket)
        poller.add(frontend.socket)
        poller.add(backend.socket)
        poller.add(wake)
        for monitor in monitors { poller.add(monitor.socket) }
        let pollTimeout = min(Duration.milliseconds(50), config.heartbeatInterval / 2)
        while phase != .done {
            let ready = try poll(poller, timeout: pollTimeout)
            let now = ContinuousClock.now
            for item in ready {
                switch item.index {
                // Batches arrive here: an update finished or ready to start is handled after
                // each one, not once per drained round (a round of large batches takes tens of
                // milliseconds, and updates waiting on it starved ingest: see `drain`).
                case 0: drain(control) {
                    guard self.admitted($0, on: .control, now: .now) else { return }
                    self.handleControl($0, now: .now)
                    self.handleUpdateResults(now: .now)
                    self.startUpdateIfReady(now: .now)
                } rejected: { self.rejectedControl($0, now: .now) }
                case 1: drain(frontend) {
                    if self.admitted($0, on: .rewardFrontend, now: now) { self.broker.frontend($0, now: now) }
                } rejected: {
                    self.broker.rejected($0, side: .frontend, now: now)
                }
                case 2: drain(backend) {
                    if self.admitted($0, on: .rewardBackend, now: now) { self.broker.backend($0, now: now) }
                } rejected: {
                    self.broker.rejected($0, side: .backend, now: now)
                }
                case 3: while (try? wake.receive(timeout: .zero)) != nil {}
                default: drainMonitor(monitors[item.index - 4])
                }
            }
            handleUpdateResults(now: now)
            if ReloadSignal.take() { reloadAllowlist(now: now) }
            tick(now: now)
        }
    }

    /// Ready sockets within `timeout`; a signal's EINTR counts as none.
    private func poll(_ poller: ZMQPoller, timeout: Duration) throws -> [ZMQPoller.Ready] {
        do {
            return try poller.poll(timeout: timeout)
        } catch where error.isInterrupted {
            return []
        }
    }

    /// Reads a fair share of waiting messages from `socket`: at most 256, and for at most
    /// 5 ms, so that 4 MB trajectory batches cannot hold up the reward sockets.
    private func drain(_ socket: EnvelopeSocket, _ handle: (EnvelopeSocket.Incoming) -> Void,
                       rejected: (EnvelopeSocket.Rejection) -> Void) {
        let deadline = ContinuousClock.now + .milliseconds(5)
        for _ in 0..<256 {
            guard ContinuousClock.now < deadline else { return }
            do {
                guard let incoming = try socket.receive() else { return }
                handle(incoming)
            } catch let rejection as EnvelopeSocket.Rejection {
                rejected(rejection)
            } catch {
                log.limited("receive-\(socket.sender)", "receive failed: \(error)")
                return
            }
        }
    }

    /// Timers: peer liveness and heartbeats, the broker, new updates, the stop request, and
    /// the termination phases.
    private func tick(now: ContinuousClock.Instant) {
        for (identity, peer) in peers {
            if now - peer.lastHeard > config.deadAfter {
                peers[identity] = nil
                log.info(String(format: "\(peer.instanceID) silent for %.3f s, limit \(config.deadAfter): forgotten; \(actorCount) actor(s) live",
                                (now - peer.lastHeard).seconds))
            } else if now - peer.lastSent >= config.heartbeatInterval {
                sendControl(.heartbeat(Heartbeat(policyVersion: version)), to: identity, now: now)
            }
        }
        broker.tick(now: now)
        if now - lastMemoryTrim >= MemoryTrim.interval {
            MemoryTrim.run()
            lastMemoryTrim = now
        }
        if phase == .running {
            if StopSignal.requested { beginTermination(reason: "signal", now: now) }
            else if stopRequested.isSet { beginTermination(reason: "stop requested", now: now) }
            else if StopSignal.orphaned(parentPID: parentPID) { beginTermination(reason: "parent process died", now: now) }
        }
        startUpdateIfReady(now: now)
        if case let .draining(deadline) = phase, !updateRunning {
            let actorsDone = peers.values.allSatisfy { $0.role != .actor || $0.terminateAcked }
            if (actorsDone && broker.allWorkersTerminated) || now >= deadline {
                if now >= deadline { log.info("termination grace period over; not every peer acknowledged") }
                phase = .finalCheckpoint
                checkpointJobs += 1
                updater.submit(.checkpoint(checkpointRequest()))
            }
        }
    }

    /// Starts the TERMINATE dialog: every actor and worker is asked to stop; no new updates.
    func beginTermination(reason: String, now: ContinuousClock.Instant) {
        guard phase == .running else { return }
        log.info("ending the run (\(reason)) at version \(version)")
        phase = .draining(deadline: now + .milliseconds(config.shutdownTimeoutMs))
        for (identity, peer) in peers where peer.role == .actor {
            sendControl(.terminate(Terminate(reason: reason)), to: identity, now: now)
        }
        broker.terminateWorkers()
    }

    /// The final checkpoint is written: acknowledge the supervisor(s) and stop.
    func finish(now: ContinuousClock.Instant) {
        for identity in terminateRequesters { sendControl(.terminateAck(TerminateAck()), to: identity, now: now) }
        phase = .done
    }

    private func shutDown() {
        updater.stop()
        for monitor in monitors { monitor.close() }
        for socket in [control, publisher, frontend, backend] { socket.close() }
        zap?.stop()
        try? wake.close()
        try? context.close()
    }

    var actorCount: Int { peers.values.filter { $0.role == .actor }.count }

    static func weights(_ trainable: [String: Tensor], version: UInt64) -> Weights {
        Weights(version: version, tensors: trainable.keys.sorted().map { WireTensor(name: $0, tensor: trainable[$0]!) })
    }

    private static func newRunID() -> String {
        let stamp = Int(Date().timeIntervalSince1970)
        return "run-\(stamp)-" + String(UInt32.random(in: .min ... .max), radix: 16)
    }
}
