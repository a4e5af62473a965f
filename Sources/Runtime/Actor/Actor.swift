import Foundation
import Numerics
import Wire
import ZMQ

/// An actor process (PROTOCOL.md §5.1). This I/O loop owns the sockets: HELLO/WELCOME,
/// WEIGHTS from PUB and control, heartbeats, batch sending with ACK-based backpressure,
/// reward requests to the broker with resends, and reconnecting when the learner goes
/// silent. The sampling runs on its own thread (`ActorSamplingLoop`), so heartbeats keep
/// flowing while a batch is sampled.
public final class Actor {
    /// Why `run()` returned.
    public enum Exit: Equatable, Sendable {
        /// The learner sent TERMINATE (acknowledged).
        case terminated
        /// SIGINT/SIGTERM, the parent died, or `stop()` was called.
        case stopped
        /// The learner refused the configuration (CONFIG_MISMATCH, UNSUPPORTED_VERSION).
        case misconfigured(String)
    }

    private let config: RunConfig
    private let instanceID: String
    private let parentPID: Int32?
    private let log: RuntimeLog
    private let context: ZMQContext
    private let mailbox = ActorMailbox()
    private let sampling: ActorSamplingLoop
    private let waker: Waker
    private let wakeReceiver: ZMQSocket
    private let subscriber: EnvelopeSocket
    /// CURVE: this actor's key and the learner's public key (nil: plaintext).
    private let curve: PeerCurve?
    private var control: EnvelopeSocket?
    private var frontend: EnvelopeSocket?
    private let stopRequested = ManagedFlag()
    private var socketsChanged = false

    // Session state.
    private var welcomed = false
    /// Whether a WEIGHTS has come on the broadcast socket yet (logged once, with its source).
    private var heardBroadcast = false
    private var expectWeightsAfterWelcome = false
    private var heartbeatInterval: Duration
    private var deadAfter: Duration
    private var lastHeard = ContinuousClock.now
    private var lastSent = ContinuousClock.now
    private var reconnectDelay: Duration
    private var reconnectAt: ContinuousClock.Instant?
    private var nextBatchID: UInt64 = 0
    /// A batch and the session (WELCOME count) whose weights sampled it.
    private struct Batch {
        let epoch: Int
        let trajectories: [Trajectory]
    }
    /// Unacknowledged batches: when each was sent, and the batch (resent if refused as
    /// overloaded, or to a restarted learner).
    private var inFlight: [UInt64: (sentAt: ContinuousClock.Instant, batch: Batch)] = [:]
    /// Batches the learner refused as overloaded, each keeping its slot until it is resent at
    /// its release time: sampling waits instead of producing batches that would be refused.
    private var heldBatches: [(release: ContinuousClock.Instant, batch: Batch)] = []
    /// Batches unacknowledged, held or finished while the learner was gone, kept (with their
    /// slots) for the next WELCOME, which resends the ones still valid (PROTOCOL.md §5.1).
    private var awaitingLearner: [Batch] = []
    /// The current session's number (WELCOMEs so far).
    private var epoch = 0
    /// The version the current session's WELCOME named.
    private var sessionStartVersion: UInt64 = 0
    /// Per session: the run it belonged to and the lowest version any later WELCOME resumed
    /// at. A batch of that session tagged above it was sampled with weights the restarted
    /// learner lost, so it is void; at or below it the version names the same weights.
    private var sessions: [Int: (runID: String, ceiling: UInt64)] = [:]
    private var overloadBackoff = Duration.milliseconds(20)
    private var rewards: [UInt64: PendingReward] = [:]
    private var counters = ActorCounters()
    private var rejections = RejectionCounters()

    private struct PendingReward {
        let request: RewardRequest
        var sentAt: ContinuousClock.Instant
        /// Envelope sequence of the last send, to match ERROR.in_reply_to.
        var sequence: UInt64 = 0
        /// Time after `sentAt` at which the request is sent again.
        var wait: Duration
        /// Wait after the next ERROR, doubling from 100 ms.
        var errorBackoff: Duration = .milliseconds(100)
    }

    /// An actor named `instanceID` (actor number `index` for its seed stream). `scorer` nil:
    /// rewards come from the broker; otherwise scored in-process.
    public init(config: RunConfig, instanceID: String, index: Int, sampler: PolicySampler, scorer: RewardScorer?,
                parentPID: Int32? = nil) throws {
        self.config = config
        self.instanceID = instanceID
        self.parentPID = parentPID
        log = RuntimeLog(name: instanceID)
        heartbeatInterval = config.heartbeatInterval
        deadAfter = config.deadAfter
        reconnectDelay = .milliseconds(config.reconnectDelayMs)
        curve = try PeerCurve.load(config, role: .actor, name: instanceID)
        context = try ZMQContext()
        let wakeEndpoint = "inproc://actor-wake"
        wakeReceiver = try ZMQSocket(context, type: .pair)
        try wakeReceiver.bind(wakeEndpoint)
        waker = try Waker(context: context, endpoint: wakeEndpoint)
        let socket = try ZMQSocket(context, type: .subscriber)
        subscriber = try EnvelopeSocket(socket, sender: instanceID)
        try socket.setOption(.conflate, true)
        try socket.setOption(.subscribe, [])
        if config.endpoints.weightsRelay.isEmpty {
            try curve?.side.apply(to: socket, handshakeLimit: config.handshakeLimit)
            try socket.connect(config.endpoints.weights)
        } else {
            // The node's relay serves over ipc in a folder only this user can enter: no CURVE.
            try socket.connect(config.endpoints.weightsRelay)
        }
        let waker = self.waker
        sampling = ActorSamplingLoop(config: config, index: index, sampler: sampler, scorer: scorer,
                                     mailbox: mailbox, log: log, wake: { waker.wake() })
    }

    /// Asks `run()` to return (from any thread).
    public func stop() {
        stopRequested.set()
        waker.wake()
    }

    /// Runs until TERMINATE, a stop request, or a refused configuration.
    public func run() throws -> Exit {
        sampling.start()
        let exit: Exit
        do { exit = try serve() } catch {
            cleanUp()
            throw error
        }
        cleanUp()
        return exit
    }

    private func serve() throws -> Exit {
        try connect(now: .now)
        var poller = try makePoller()
        while true {
            if socketsChanged {
                poller = try makePoller()
                socketsChanged = false
            }
            let ready = try poll(poller)
            let now = ContinuousClock.now
            for item in ready {
                if item.index == 0 {
                    while (try? wakeReceiver.receive(timeout: .zero)) != nil {}
                } else if let exit = drain(item.socket, now: now) {
                    return exit
                }
            }
            sendOutbox(now: now)
            if stopRequested.isSet || StopSignal.requested || StopSignal.orphaned(parentPID: parentPID) {
                return .stopped
            }
            try timers(now: now)
        }
    }

    /// Ready sockets within a short timeout; a signal's EINTR counts as none.
    private func poll(_ poller: ZMQPoller) throws -> [ZMQPoller.Ready] {
        do {
            return try poller.poll(timeout: min(.milliseconds(50), heartbeatInterval / 2))
        } catch where error.isInterrupted {
            return []
        }
    }

    private func cleanUp() {
        mailbox.stop()
        if !sampling.join(timeout: .seconds(10)) { log.info("sampling thread still busy at exit") }
        control?.close()
        frontend?.close()
        subscriber.close()
        waker.close()
        try? wakeReceiver.close()
        try? context.close()
    }

    private func makePoller() throws -> ZMQPoller {
        let poller = ZMQPoller()
        poller.add(wakeReceiver)
        poller.add(subscriber.socket)
        if let control { poller.add(control.socket) }
        if let frontend { poller.add(frontend.socket) }
        return poller
    }

    // MARK: - Connection

    /// Opens fresh control and frontend sockets and says HELLO (§5.5).
    private func connect(now: ContinuousClock.Instant) throws {
        control = try EnvelopeSocket(context, .dealer, connect: config.endpoints.control, sender: instanceID,
                                     curve: curve?.side, handshakeLimit: config.handshakeLimit)
        frontend = try EnvelopeSocket(context, .dealer, connect: config.endpoints.rewardFrontend, sender: instanceID,
                                      curve: curve?.side, handshakeLimit: config.handshakeLimit)
        lastHeard = now
        reconnectAt = nil
        socketsChanged = true
        let hello = Hello(role: .actor, instanceID: instanceID, pid: UInt32(ProcessInfo.processInfo.processIdentifier),
                          policyVersion: mailbox.snapshot.held, configDigest: config.configDigest)
        send(.hello(hello), now: now)
    }

    /// Closes the learner sockets (linger 0) and schedules a reconnect after the back-off.
    private func disconnect(now: ContinuousClock.Instant, delay: Duration, reason: String) {
        log.info("learner \(reason); reconnecting in \(delay)")
        control?.close()
        frontend?.close()
        control = nil
        frontend = nil
        socketsChanged = true
        welcomed = false
        mailbox.lostLearner()
        awaitingLearner += inFlight.sorted { $0.key < $1.key }.map(\.value.batch) + heldBatches.map(\.batch)
        inFlight.removeAll()
        heldBatches.removeAll()
        reconnectAt = now + delay
        reconnectDelay = min(reconnectDelay * 2, .milliseconds(config.reconnectDelayMaxMs))
    }

    /// Heartbeats, liveness, ACK and reward timeouts, reconnects.
    private func timers(now: ContinuousClock.Instant) throws {
        if let reconnectAt {
            if now >= reconnectAt { try connect(now: now) }
            return
        }
        if now - lastHeard > deadAfter {
            disconnect(now: now, delay: reconnectDelay, reason: "silent for \(deadAfter)")
            return
        }
        if now - lastSent >= heartbeatInterval {
            let snapshot = mailbox.snapshot
            send(.heartbeat(Heartbeat(policyVersion: snapshot.held, counters: counters.metrics(snapshot.counters, rejections))),
                 now: now)
        }
        let due = heldBatches.filter { $0.release <= now }
        heldBatches.removeAll { $0.release <= now }
        for held in due { sendBatch(held.batch, now: now) }
        for (batchID, sent) in inFlight where now - sent.sentAt > deadAfter {
            inFlight[batchID] = nil
            counters.acksTimedOut += 1
            mailbox.freeSlot()
        }
        for (id, pending) in rewards where now - pending.sentAt >= pending.wait {
            resendReward(id, now: now)
        }
    }

    private func send(_ payload: Envelope.Payload, now: ContinuousClock.Instant) {
        guard let control else { return }
        if case .sent = (try? control.send(payload)) ?? .queueFull { lastSent = now }
    }

    // MARK: - Receiving

    /// Handles what waits on the ready `socket` (the SUB, control or frontend).
    private func drain(_ ready: ZMQSocket, now: ContinuousClock.Instant) -> Exit? {
        for _ in 0..<64 {
            let socket: EnvelopeSocket
            if ready === subscriber.socket { socket = subscriber }
            else if let control, ready === control.socket { socket = control }
            else if let frontend, ready === frontend.socket { socket = frontend }
            else { return nil }  // a handler closed it
            let incoming: EnvelopeSocket.Incoming
            do {
                guard let received = try socket.receive() else { return nil }
                incoming = received
            } catch let rejection as EnvelopeSocket.Rejection {
                rejections.count(rejection)
                log.limited("rejected", "dropped a message: \(rejection)")
                continue
            } catch {
                log.limited("receive", "receive failed: \(error)")
                return nil
            }
            let exit: Exit?
            if socket === subscriber { exit = handleWeights(incoming.envelope) }
            else if socket === control { exit = handleControl(incoming.envelope, now: now) }
            else { exit = handleFrontend(incoming.envelope, now: now) }
            if let exit { return exit }
        }
        return nil
    }

    private func handleWeights(_ envelope: Envelope) -> Exit? {
        guard case let .weights(weights) = envelope.payload else {
            rejections.unexpected += 1
            log.limited("sub-unexpected", "weights socket: dropped \(envelope.payload.kind)")
            return nil
        }
        if !heardBroadcast {
            heardBroadcast = true
            let source = config.endpoints.weightsRelay.isEmpty ? "the learner's PUB" : "relay \(config.endpoints.weightsRelay)"
            log.info("first broadcast WEIGHTS (v\(weights.version)) from \(source)")
        }
        if welcomed { mailbox.offer(weights, afterWelcome: false) }
        return nil
    }

    private func handleControl(_ envelope: Envelope, now: ContinuousClock.Instant) -> Exit? {
        lastHeard = now
        switch envelope.payload {
        case let .welcome(welcome):
            welcomed = true
            expectWeightsAfterWelcome = true
            heartbeatInterval = .milliseconds(Int(welcome.heartbeatIntervalMilliseconds))
            deadAfter = heartbeatInterval * Int(welcome.liveness)
            reconnectDelay = .milliseconds(config.reconnectDelayMs)
            log.info("welcomed by run \(welcome.runID) at v\(welcome.policyVersion)")
            startSession(welcome, now: now)        case let .weights(weights):
            guard welcomed else { break }
            mailbox.offer(weights, afterWelcome: expectWeightsAfterWelcome)
            expectWeightsAfterWelcome = false
        case let .batchAck(ack):
            if let sent = inFlight.removeValue(forKey: ack.batchID)?.batch {
                // A batch refused whole by a full learner is kept and resent after a back-off
                // (doubling up to one heartbeat interval); its slot stays taken, so sampling
                // pauses instead of spending CPU on batches that would be refused too. The
                // learner drops it as stale if it has meanwhile aged past max_policy_lag.
                if ack.reason.contains("overloaded") && ack.accepted == 0 {
                    heldBatches.append((now + overloadBackoff, sent))
                    overloadBackoff = min(overloadBackoff * 2, heartbeatInterval)
                } else {
                    overloadBackoff = .milliseconds(20)
                    mailbox.freeSlot()
                }
            }
            counters.trajectoriesAccepted += Int(ack.accepted)
            counters.trajectoriesRejected += Int(ack.rejected)
            // `overloaded` alone (one reason, no "; " list) is flow control: the batch is resent.
            let onlyOverloaded = ack.reason.hasPrefix("overloaded") && !ack.reason.contains(";")
            if ack.rejected > 0 && !onlyOverloaded {
                log.limited("ack-rejected", "batch \(ack.batchID): \(ack.rejected) rejected: \(ack.reason)")
            }
        case .heartbeat:
            break
        case let .terminate(terminate):
            send(.terminateAck(TerminateAck()), now: now)
            log.info("TERMINATE (\(terminate.reason)): acknowledged, exiting")
            return .terminated
        case let .error(report):
            rejections.errorsReceived += 1
            log.limited("error-\(report.code)", "ERROR \(report.code) from the learner: \(report.detail)")
            switch report.code {
            case .notWelcomed: disconnect(now: now, delay: .zero, reason: "does not know us")
            case .configMismatch, .unsupportedVersion: return .misconfigured("\(report.code): \(report.detail)")
            default: break
            }
        default:
            rejections.unexpected += 1
            log.limited("control-unexpected", "control: dropped unexpected \(envelope.payload.kind)")
        }
        return nil
    }

    private func handleFrontend(_ envelope: Envelope, now: ContinuousClock.Instant) -> Exit? {
        switch envelope.payload {
        case let .rewardResult(result):
            guard rewards.removeValue(forKey: result.requestID) != nil else {
                counters.rewardResultsIgnored += 1
                return nil
            }
            mailbox.deliver(result)
        case let .error(report):
            rejections.errorsReceived += 1
            log.limited("frontend-error", "reward broker: ERROR \(report.code): \(report.detail)")
            // OVERLOADED or a failed request: resend after an exponential back-off from 100 ms (§5.1).
            if report.inReplyTo != 0, let id = rewards.first(where: { $0.value.sequence == report.inReplyTo })?.key {
                rewards[id]!.sentAt = now
                rewards[id]!.wait = rewards[id]!.errorBackoff
                rewards[id]!.errorBackoff = min(rewards[id]!.errorBackoff * 2, .milliseconds(config.rewardTimeoutMs))
            }
        default:
            rejections.unexpected += 1
            log.limited("frontend-unexpected", "reward frontend: dropped unexpected \(envelope.payload.kind)")
        }
        return nil
    }

    // MARK: - Sending what the sampling thread produced

    private func sendOutbox(now: ContinuousClock.Instant) {
        for item in mailbox.takeOutbox() {
            switch item {
            case let .batch(trajectories, epoch):
                let batch = Batch(epoch: epoch, trajectories: trajectories)
                if welcomed { sendIfValid([batch], now: now) } else { awaitingLearner.append(batch) }
            case let .reward(request):
                rewards[request.requestID] = PendingReward(request: request, sentAt: now,
                                                           wait: .milliseconds(config.rewardTimeoutMs))
                resendReward(request.requestID, now: now, first: true)
            case let .cancelReward(id):
                rewards[id] = nil
            }
        }
    }

    /// A new session: batches of earlier ones still valid for it are resent (a restarted
    /// learner need not wait for a whole fresh buffer), reward requests go to its broker.
    private func startSession(_ welcome: Welcome, now: ContinuousClock.Instant) {
        epoch += 1
        for (number, session) in sessions {
            sessions[number]!.ceiling = min(session.ceiling, welcome.policyVersion)
            if session.runID != welcome.runID || number < epoch - 16 { sessions[number] = nil }
        }
        sessions[epoch] = (welcome.runID, .max)
        sessionStartVersion = welcome.policyVersion
        if sessions.count == 1 {  // a new run: what the sampling thread waits on is void
            mailbox.withdraw(Array(rewards.keys))
            rewards.removeAll()
        }
        let carried = awaitingLearner + inFlight.values.map(\.batch) + heldBatches.map(\.batch)
        awaitingLearner.removeAll()
        inFlight.removeAll()
        heldBatches.removeAll()
        mailbox.welcome(maxInFlight: Int(welcome.maxInFlightBatches), carried: carried.count)
        let before = (counters.batchesResent, counters.batchesDiscarded, counters.batchesStale)
        sendIfValid(carried, now: now, resent: true)
        for id in rewards.keys { resendReward(id, now: now) }
        if !carried.isEmpty || !rewards.isEmpty {
            log.info("kept over the learner's restart: \(counters.batchesResent - before.0) batch(es) resent, " +
                     "\(counters.batchesDiscarded - before.1) discarded (sampled with a version the learner lost or another run), " +
                     "\(counters.batchesStale - before.2) stale; \(rewards.count) reward request(s) resent")
        }
    }

    /// Sends each batch still valid for this session: sampled in it, or in an earlier session of
    /// the same run with a version no later WELCOME went below and within `max_policy_lag` of
    /// the learner. The others are discarded and free their slots.
    private func sendIfValid(_ batches: [Batch], now: ContinuousClock.Instant, resent: Bool = false) {
        for batch in batches {
            let version = batch.trajectories.map(\.policyVersion).max() ?? 0
            let oldest = batch.trajectories.map(\.policyVersion).min() ?? 0
            if batch.epoch != epoch {
                guard let session = sessions[batch.epoch], version <= session.ceiling else {
                    counters.batchesDiscarded += 1
                    mailbox.freeSlot()
                    continue
                }
                if Int(sessionStartVersion) - Int(oldest) > config.maxPolicyLag {
                    counters.batchesStale += 1
                    mailbox.freeSlot()
                    continue
                }
            }
            if resent { counters.batchesResent += 1 }
            sendBatch(batch, now: now)
        }
    }

    /// Sends a batch in its slot under a new batch id; a batch that cannot be sent is dropped
    /// and frees its slot.
    private func sendBatch(_ batch: Batch, now: ContinuousClock.Instant) {
        nextBatchID += 1
        let message = TrajectoryBatch(actorID: instanceID, batchID: nextBatchID, trajectories: batch.trajectories)
        guard let control, welcomed, case .sent = (try? control.send(.trajectoryBatch(message))) ?? .queueFull else {
            counters.batchesDropped += 1
            mailbox.freeSlot()
            return
        }
        lastSent = now
        inFlight[nextBatchID] = (now, batch)
        counters.batchesSent += 1
        counters.trajectoriesSent += batch.trajectories.count
    }

    private func resendReward(_ id: UInt64, now: ContinuousClock.Instant, first: Bool = false) {
        guard let pending = rewards[id] else { return }
        rewards[id]!.sentAt = now
        rewards[id]!.wait = .milliseconds(config.rewardTimeoutMs)
        guard let frontend, case let .sent(sequence) = (try? frontend.send(.rewardRequest(pending.request))) ?? .queueFull
        else { return }
        rewards[id]!.sequence = sequence
        counters.rewardRequestsSent += 1
        if !first { counters.rewardRequestsRetried += 1 }
    }
}

/// Cumulative counters an actor reports in its HEARTBEAT (§6).
struct ActorCounters {
    var batchesSent = 0
    var batchesDropped = 0
    /// Batches of an earlier session resent to a restarted learner.
    var batchesResent = 0
    /// Batches of an earlier session void for the new one (another run, or sampled with a
    /// version the restarted learner lost).
    var batchesDiscarded = 0
    /// Batches of an earlier session more than `max_policy_lag` behind the restarted learner.
    var batchesStale = 0
    var trajectoriesSent = 0
    var trajectoriesAccepted = 0
    var trajectoriesRejected = 0
    var acksTimedOut = 0
    var rewardRequestsSent = 0
    var rewardRequestsRetried = 0
    var rewardResultsIgnored = 0

    func metrics(_ sampler: ActorMailbox.SamplerCounters, _ rejections: RejectionCounters) -> [Metric] {
        let values: [(String, Int)] = [
            ("batches_sent", batchesSent), ("batches_dropped", batchesDropped), ("trajectories_sent", trajectoriesSent),
            ("trajectories_accepted", trajectoriesAccepted), ("trajectories_rejected", trajectoriesRejected),
            ("acks_timed_out", acksTimedOut), ("reward_requests_sent", rewardRequestsSent),
            ("reward_requests_retried", rewardRequestsRetried), ("reward_results_ignored", rewardResultsIgnored),
            ("batches_sampled", sampler.batchesSampled), ("batches_discarded", batchesDiscarded),
            ("batches_resent", batchesResent), ("batches_stale_at_restart", batchesStale),
            ("weights_installed", sampler.weightsInstalled), ("weights_refused", sampler.weightsRefused),
        ]
        return values.map { Metric(name: $0.0, value: Double($0.1)) }
            + rejections.metrics.map { Metric(name: $0.0, value: $0.1) }
    }
}

/// A flag set from any thread.
final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    /// Sets the flag.
    func set() { lock.lock(); value = true; lock.unlock() }
    /// Whether the flag is set.
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
