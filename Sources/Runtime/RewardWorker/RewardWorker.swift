import Foundation
import Numerics
import Wire
import ZMQ

/// A reward-worker process (PROTOCOL.md §5.2): HELLO, WELCOME, READY(credit), then scores
/// each REWARD_REQUEST with its `RewardScorer` and answers REWARD_RESULT; heartbeats;
/// reconnects with back-off when the broker goes silent or forgets it; TERMINATE →
/// TERMINATE_ACK and return.
///
/// Scoring runs on this loop's thread, so `liveness × heartbeat_interval` must exceed the
/// longest scoring of one request (a request of 32 images scores in well under a second).
public final class RewardWorker {
    /// Why `run()` returned.
    public enum Exit: Equatable, Sendable {
        /// The broker sent TERMINATE (acknowledged).
        case terminated
        /// SIGINT/SIGTERM or the parent died.
        case stopped
        /// The broker refused the configuration.
        case misconfigured(String)
    }

    private let config: RunConfig
    private let instanceID: String
    private let scorer: RewardScorer
    private let parentPID: Int32?
    private let log: RuntimeLog
    private let context: ZMQContext
    /// CURVE: this worker's key and the learner's public key (nil: plaintext).
    private let curve: PeerCurve?
    private var backend: EnvelopeSocket?
    private var welcomed = false
    private var heartbeatInterval: Duration
    private var deadAfter: Duration
    private var lastHeard = ContinuousClock.now
    private var lastSent = ContinuousClock.now
    private var reconnectDelay: Duration
    private var reconnectAt: ContinuousClock.Instant?
    private var rejections = RejectionCounters()
    private var errorLimiter = ErrorRateLimiter()
    private var scored = 0
    private var failed = 0

    /// A worker named `instanceID` scoring with `scorer`.
    public init(config: RunConfig, instanceID: String, scorer: RewardScorer, parentPID: Int32? = nil) throws {
        self.config = config
        self.instanceID = instanceID
        self.scorer = scorer
        self.parentPID = parentPID
        log = RuntimeLog(name: instanceID)
        heartbeatInterval = config.heartbeatInterval
        deadAfter = config.deadAfter
        reconnectDelay = .milliseconds(config.reconnectDelayMs)
        curve = try PeerCurve.load(config, role: .rewardWorker, name: instanceID)
        context = try ZMQContext()
    }

    /// Serves until TERMINATE, a stop request, or a refused configuration.
    public func run() throws -> Exit {
        defer {
            backend?.close()
            try? context.close()
        }
        try connect(now: .now)
        while true {
            let now = ContinuousClock.now
            if let reconnectAt {
                if now >= reconnectAt { try connect(now: now) } else { Thread.sleep(forTimeInterval: 0.02) }
            } else if let backend, try wait(backend) {
                if let exit = drain(backend) { return exit }
            }
            if StopSignal.requested || StopSignal.orphaned(parentPID: parentPID) { return .stopped }
            timers(now: ContinuousClock.now)
        }
    }

    private func wait(_ socket: EnvelopeSocket) throws -> Bool {
        let poller = ZMQPoller()
        poller.add(socket.socket)
        do { return !(try poller.poll(timeout: min(.milliseconds(50), heartbeatInterval / 2))).isEmpty } catch where error.isInterrupted {
            return false
        }
    }

    private func connect(now: ContinuousClock.Instant) throws {
        backend = try EnvelopeSocket(context, .dealer, connect: config.endpoints.rewardBackend, sender: instanceID,
                                     curve: curve?.side, handshakeLimit: config.handshakeLimit)
        reconnectAt = nil
        lastHeard = now
        welcomed = false
        send(.hello(Hello(role: .rewardWorker, instanceID: instanceID,
                          pid: UInt32(ProcessInfo.processInfo.processIdentifier), policyVersion: 0,
                          configDigest: config.configDigest)), now: now)
    }

    private func disconnect(now: ContinuousClock.Instant, delay: Duration, reason: String) {
        log.info("broker \(reason); reconnecting in \(delay)")
        backend?.close()
        backend = nil
        welcomed = false
        reconnectAt = now + delay
        reconnectDelay = min(reconnectDelay * 2, .milliseconds(config.reconnectDelayMaxMs))
    }

    private func timers(now: ContinuousClock.Instant) {
        guard reconnectAt == nil else { return }
        if now - lastHeard > deadAfter {
            disconnect(now: now, delay: reconnectDelay, reason: "silent for \(deadAfter)")
        } else if now - lastSent >= heartbeatInterval {
            send(.heartbeat(Heartbeat(policyVersion: 0, counters: counters)), now: now)
        }
    }

    /// Cumulative counters for HEARTBEAT: scored and failed requests, rejected messages.
    private var counters: [Metric] {
        [Metric(name: "requests_scored", value: Double(scored)), Metric(name: "requests_failed", value: Double(failed))]
            + rejections.metrics.map { Metric(name: $0.0, value: $0.1) }
    }

    private func send(_ payload: Envelope.Payload, now: ContinuousClock.Instant) {
        guard let backend else { return }
        if case .sent = (try? backend.send(payload)) ?? .queueFull { lastSent = now }
    }

    private func answerError(_ code: ErrorReport.Code, _ detail: String, _ inReplyTo: UInt64, now: ContinuousClock.Instant) {
        guard errorLimiter.allow([], code, now: now) else { return }
        send(.error(ErrorReport(code: code, detail: detail, inReplyTo: inReplyTo)), now: now)
    }

    private func drain(_ socket: EnvelopeSocket) -> Exit? {
        for _ in 0..<64 {
            let now = ContinuousClock.now
            let envelope: Envelope
            do {
                guard let incoming = try socket.receive() else { return nil }
                envelope = incoming.envelope
            } catch let rejection as EnvelopeSocket.Rejection {
                rejections.count(rejection)
                log.limited("rejected", "dropped a message: \(rejection)")
                lastHeard = now
                if case let .wire(_, error) = rejection {
                    let report = ErrorReport(for: error)
                    answerError(report.code, report.detail, 0, now: now)
                }
                continue
            } catch {
                log.limited("receive", "receive failed: \(error)")
                return nil
            }
            lastHeard = now
            if let exit = handle(envelope, now: now) { return exit }
            if backend == nil { return nil }  // disconnected
        }
        return nil
    }

    private func handle(_ envelope: Envelope, now: ContinuousClock.Instant) -> Exit? {
        switch envelope.payload {
        case let .welcome(welcome):
            welcomed = true
            heartbeatInterval = .milliseconds(Int(welcome.heartbeatIntervalMilliseconds))
            deadAfter = heartbeatInterval * Int(welcome.liveness)
            reconnectDelay = .milliseconds(config.reconnectDelayMs)
            log.info("welcomed by run \(welcome.runID)")
            send(.ready(Ready(credit: UInt32(config.rewardWorkerCredit))), now: now)
        case let .rewardRequest(request) where welcomed:
            score(request, sequence: envelope.sequence, now: now)
        case .heartbeat where welcomed:
            break
        case let .terminate(terminate) where welcomed:
            send(.terminateAck(TerminateAck()), now: now)
            log.info("TERMINATE (\(terminate.reason)): acknowledged, exiting")
            return .terminated
        case let .error(report):
            rejections.errorsReceived += 1
            log.limited("error-\(report.code)", "ERROR \(report.code) from the broker: \(report.detail)")
            switch report.code {
            case .notWelcomed: disconnect(now: now, delay: .zero, reason: "does not know us")
            case .configMismatch, .unsupportedVersion: return .misconfigured("\(report.code): \(report.detail)")
            default: break
            }
        default:
            rejections.unexpected += 1
            log.limited("unexpected", "dropped unexpected \(envelope.payload.kind)\(welcomed ? "" : " before WELCOME")")
            answerError(.unexpected, "\(envelope.payload.kind) is not valid for a reward worker\(welcomed ? "" : " before WELCOME")",
                        envelope.sequence, now: now)
        }
        return nil
    }

    /// Scores one request; scores of the wrong count or out of range become ERROR(INTERNAL).
    private func score(_ request: RewardRequest, sequence: UInt64, now: ContinuousClock.Instant) {
        let scores = scorer.score(images: request.images, safePrompts: request.prompts)
        let result = RewardResult(requestID: request.requestID, rewards: scores.map(\.reward),
                                  alignment: scores.map(\.alignment), unsafe: scores.map(\.unsafe))
        do {
            guard scores.count == request.prompts.count else {
                throw RuntimeError("scorer returned \(scores.count) scores for \(request.prompts.count) images")
            }
            if case .sent = try backend?.send(.rewardResult(result)) { lastSent = ContinuousClock.now }
            scored += 1
        } catch {
            failed += 1
            log.limited("score-failed", "request \(request.requestID) failed: \(error)")
            send(.error(ErrorReport(code: .internal, detail: "scoring failed: \(error)", inReplyTo: sequence)), now: now)
        }
    }
}
