import Wire

/// The reward broker of PROTOCOL.md §5.3, as a state machine over decoded messages: the
/// learner's I/O loop feeds it what arrives on the reward frontend (actors) and backend
/// (workers) and calls `tick` regularly; it answers through `send`. Keeping sockets out of
/// it lets tests drive it message by message.
///
/// - FIFO queue of requests; each gets a broker-unique ticket used as the backend request id.
/// - Workers grant credit with READY; a result or an ERROR returns one credit.
/// - The queue head goes to the worker with credit that has waited longest (LRU).
/// - A dead worker's outstanding tickets go back to the front of the queue; a failed ticket
///   is retried on another worker, at most `maxTries` times in all.
/// - The first result for a ticket wins; later ones are dropped and counted.
public final class RewardBroker {
    /// Which broker socket a message goes to or came from.
    public enum Side: Sendable { case frontend, backend }

    /// What the broker did, for STATS and tests.
    public struct Counters: Equatable, Sendable {
        /// Requests accepted into the queue.
        public var requests = 0
        /// Requests ignored because the same (actor, request id) was queued or outstanding.
        public var duplicateRequests = 0
        /// Requests refused with ERROR(OVERLOADED).
        public var overloaded = 0
        /// REWARD_REQUESTs sent to workers (re-dispatches included).
        public var dispatched = 0
        /// Results forwarded to actors.
        public var completed = 0
        /// Results for tickets already completed (or unknown), dropped.
        public var duplicateResults = 0
        /// Tickets put back in the queue after a worker died or failed them.
        public var redispatched = 0
        /// Tickets given up after `maxTries` failures (the actor got ERROR(INTERNAL)).
        public var failed = 0
        /// Workers declared dead.
        public var workerDeaths = 0
        /// HELLOs refused because `limits.max_reward_workers` were live.
        public var workersRefused = 0
    }

    private struct Ticket {
        let id: UInt64
        let actor: [UInt8]
        let actorRequestID: UInt64
        let request: RewardRequest
        var tries = 0
        var avoid: [UInt8]?
    }

    private struct ActorRequest: Hashable {
        let actor: [UInt8]
        let requestID: UInt64
    }

    private struct Worker {
        let instanceID: String
        var credit = 0
        /// Outstanding tickets, each with the sequence of the REWARD_REQUEST that carried it.
        var outstanding: [UInt64: UInt64] = [:]
        var lastHeard: ContinuousClock.Instant
        var lastSent: ContinuousClock.Instant
        var lastDispatched: ContinuousClock.Instant
        var terminateAcked = false
    }

    /// Most tries of one ticket before the actor is told it failed.
    public let maxTries = 3
    /// What the broker counted.
    public private(set) var counters = Counters()
    /// Messages the broker dropped, by cause.
    public private(set) var rejections = RejectionCounters()
    /// The newest policy version, announced in WELCOME and HEARTBEAT.
    public var policyVersion: UInt64 = 1

    private let config: RunConfig
    private let runID: String
    private let log: RuntimeLog
    private let send: (Side, [UInt8], Envelope.Payload) -> EnvelopeSocket.SendResult
    private var tickets: [UInt64: Ticket] = [:]
    private var queue: [UInt64] = []
    private var byActorRequest: [ActorRequest: UInt64] = [:]
    private var workers: [[UInt8]: Worker] = [:]
    /// Ticket ids start at a random point: a worker that scored a ticket of the previous
    /// learner's broker and reconnected transparently may still deliver its result here, and
    /// results are accepted from any sender (a worker forgotten while hung can still answer);
    /// with ids counted from 0 in every life that result would be taken for another request.
    private var nextTicket = UInt64.random(in: 0 ..< (1 << 62))
    private var errorLimiter = ErrorRateLimiter()
    private var terminating = false

    /// A broker for `config`'s limits and liveness; `send` delivers its messages without
    /// blocking and reports the outcome.
    public init(config: RunConfig, runID: String, log: RuntimeLog,
                send: @escaping (Side, [UInt8], Envelope.Payload) -> EnvelopeSocket.SendResult) {
        self.config = config
        self.runID = runID
        self.log = log
        self.send = send
    }

    /// Welcomed workers.
    public var liveWorkers: Int { workers.count }
    /// Requests waiting for a worker.
    public var queued: Int { queue.count }
    /// True when every welcomed worker acknowledged TERMINATE.
    public var allWorkersTerminated: Bool { workers.values.allSatisfy(\.terminateAcked) }

    // MARK: - Frontend (actors)

    /// Handles a message from an actor on the frontend.
    public func frontend(_ incoming: EnvelopeSocket.Incoming, now: ContinuousClock.Instant) {
        let envelope = incoming.envelope
        switch envelope.payload {
        case let .rewardRequest(request):
            let key = ActorRequest(actor: incoming.identity, requestID: request.requestID)
            if byActorRequest[key] != nil {
                counters.duplicateRequests += 1
                return
            }
            guard tickets.count < config.rewardQueueLimit else {
                counters.overloaded += 1
                answerError(.frontend, incoming.identity, .overloaded,
                            "reward queue holds \(tickets.count) requests (limit \(config.rewardQueueLimit))",
                            envelope.sequence, now)
                return
            }
            nextTicket += 1
            tickets[nextTicket] = Ticket(id: nextTicket, actor: incoming.identity,
                                         actorRequestID: request.requestID, request: request)
            byActorRequest[key] = nextTicket
            queue.append(nextTicket)
            counters.requests += 1
            dispatch(now: now)
        case let .error(report):
            rejections.errorsReceived += 1
            log.limited("frontend-error", "reward frontend: ERROR \(report.code) from \(envelope.sender): \(report.detail)")
        default:
            rejections.unexpected += 1
            log.limited("frontend-unexpected", "reward frontend: unexpected \(envelope.payload.kind) from \(envelope.sender)")
            answerError(.frontend, incoming.identity, .unexpected,
                        "\(envelope.payload.kind) is not valid on the reward frontend", envelope.sequence, now)
        }
    }

    // MARK: - Backend (workers)

    /// Handles a message from a reward worker on the backend.
    public func backend(_ incoming: EnvelopeSocket.Incoming, now: ContinuousClock.Instant) {
        let identity = incoming.identity, envelope = incoming.envelope
        if case let .hello(hello) = envelope.payload {
            welcome(identity, hello, sequence: envelope.sequence, now: now)
            return
        }
        guard workers[identity] != nil else {
            rejections.notWelcomed += 1
            if case let .rewardResult(result) = envelope.payload { complete(result, from: identity, now: now) }
            if case .error = envelope.payload { return }
            answerError(.backend, identity, .notWelcomed, "send HELLO first", envelope.sequence, now)
            return
        }
        workers[identity]!.lastHeard = now
        switch envelope.payload {
        case let .ready(ready):
            workers[identity]!.credit += Int(ready.credit)
            dispatch(now: now)
        case let .rewardResult(result):
            complete(result, from: identity, now: now)
            dispatch(now: now)
        case let .error(report):
            rejections.errorsReceived += 1
            log.limited("backend-error", "reward backend: ERROR \(report.code) from \(envelope.sender): \(report.detail)")
            if let ticket = workers[identity]!.outstanding.first(where: { $0.value == report.inReplyTo })?.key {
                workers[identity]!.outstanding[ticket] = nil
                workers[identity]!.credit += 1
                retry(ticket, failedOn: identity, now: now)
            }
            dispatch(now: now)
        case .heartbeat:
            break
        case .terminateAck:
            workers[identity]!.terminateAcked = true
        default:
            rejections.unexpected += 1
            log.limited("backend-unexpected", "reward backend: unexpected \(envelope.payload.kind) from \(envelope.sender)")
            answerError(.backend, identity, .unexpected,
                        "\(envelope.payload.kind) is not valid from a reward worker", envelope.sequence, now)
        }
    }

    private func welcome(_ identity: [UInt8], _ hello: Hello, sequence: UInt64, now: ContinuousClock.Instant) {
        guard hello.role == .rewardWorker else {
            rejections.unexpected += 1
            answerError(.backend, identity, .unexpected, "role \(hello.role) cannot join the reward backend", sequence, now)
            return
        }
        let replaces = workers.contains { $0.key == identity || $0.value.instanceID == hello.instanceID }
        guard replaces || workers.count < config.limits.maxRewardWorkers else {
            counters.workersRefused += 1
            log.limited("workers-full", "reward worker \(hello.instanceID) refused: \(workers.count) live (limits.max_reward_workers)")
            answerError(.backend, identity, .overloaded,
                        "the broker has \(workers.count) reward workers (limits.max_reward_workers)", sequence, now)
            return
        }
        // A restarted worker (new identity, same instance id) replaces its old entry.
        for (other, worker) in workers where worker.instanceID == hello.instanceID || other == identity {
            forget(other, because: "replaced by a new HELLO", now: now)
        }
        workers[identity] = Worker(instanceID: hello.instanceID, lastHeard: now, lastSent: now, lastDispatched: now)
        log.info("reward worker \(hello.instanceID) (pid \(hello.pid)) joined; \(workers.count) live")
        let welcome = Welcome(runID: runID, policyVersion: policyVersion,
                              heartbeatIntervalMilliseconds: UInt32(config.heartbeatIntervalMs),
                              liveness: UInt32(config.liveness), configDigest: config.configDigest,
                              maxInFlightBatches: 0)
        if case .unreachable = send(.backend, identity, .welcome(welcome)) { workers[identity] = nil }
        if terminating { terminate(identity) }
    }

    /// Uses the first result for a ticket, returns the sender's credit, drops duplicates.
    private func complete(_ result: RewardResult, from identity: [UInt8], now: ContinuousClock.Instant) {
        if workers[identity]?.outstanding.removeValue(forKey: result.requestID) != nil {
            workers[identity]!.credit += 1
        }
        guard let ticket = tickets[result.requestID] else {
            counters.duplicateResults += 1
            return
        }
        let count = ticket.request.images.shape[0]
        guard result.rewards.count == count else {
            log.limited("result-count", "reward worker answered \(result.rewards.count) scores for \(count) images; retrying")
            retry(ticket.id, failedOn: identity, now: now)
            return
        }
        if let index = queue.firstIndex(of: ticket.id) { queue.remove(at: index) }
        tickets[ticket.id] = nil
        byActorRequest[ActorRequest(actor: ticket.actor, requestID: ticket.actorRequestID)] = nil
        counters.completed += 1
        var answer = result
        answer.requestID = ticket.actorRequestID
        _ = send(.frontend, ticket.actor, .rewardResult(answer))
    }

    private func retry(_ id: UInt64, failedOn worker: [UInt8], now: ContinuousClock.Instant) {
        guard var ticket = tickets[id] else { return }
        ticket.tries += 1
        ticket.avoid = worker
        guard ticket.tries < maxTries else {
            tickets[id] = nil
            byActorRequest[ActorRequest(actor: ticket.actor, requestID: ticket.actorRequestID)] = nil
            counters.failed += 1
            answerError(.frontend, ticket.actor, .internal,
                        "reward request \(ticket.actorRequestID) failed on \(maxTries) workers", 0, now)
            return
        }
        tickets[id] = ticket
        if !queue.contains(id) { queue.insert(id, at: 0) }
        counters.redispatched += 1
    }

    // MARK: - Dispatch, liveness, termination

    /// Hands queued requests to workers with credit, least recently used first.
    private func dispatch(now: ContinuousClock.Instant) {
        while let head = queue.first, let ticket = tickets[head] {
            let ready = workers.filter { $0.value.credit > 0 && !$0.value.terminateAcked }
            guard !ready.isEmpty else { return }
            let preferred = ready.count > 1 ? ready.filter { $0.key != ticket.avoid } : ready
            let (identity, _) = preferred.min { $0.value.lastDispatched < $1.value.lastDispatched }!
            let request = RewardRequest(requestID: ticket.id, images: ticket.request.images, prompts: ticket.request.prompts)
            switch send(.backend, identity, .rewardRequest(request)) {
            case let .sent(sequence):
                queue.removeFirst()
                workers[identity]!.credit -= 1
                workers[identity]!.outstanding[ticket.id] = sequence
                workers[identity]!.lastDispatched = now
                workers[identity]!.lastSent = now
                counters.dispatched += 1
            case .queueFull:
                workers[identity]!.credit = 0  // it will grant credit again with its next result
            case .unreachable:
                forget(identity, because: "unreachable", now: now)
            }
        }
    }

    /// Heartbeats workers, declares silent ones dead, dispatches.
    public func tick(now: ContinuousClock.Instant) {
        for (identity, worker) in workers {
            if now - worker.lastHeard > config.deadAfter {
                counters.workerDeaths += 1
                forget(identity, because: String(format: "silent for %.3f s, limit \(config.deadAfter)",
                                                 (now - worker.lastHeard).seconds), now: now)
            } else if now - worker.lastSent >= config.heartbeatInterval {
                workers[identity]!.lastSent = now
                if case .unreachable = send(.backend, identity, .heartbeat(Heartbeat(policyVersion: policyVersion))) {
                    forget(identity, because: "unreachable", now: now)
                }
            }
        }
        dispatch(now: now)
    }

    /// Removes a worker; its outstanding tickets go back to the front of the queue.
    private func forget(_ identity: [UInt8], because reason: String, now: ContinuousClock.Instant) {
        guard let worker = workers.removeValue(forKey: identity) else { return }
        let back = worker.outstanding.keys.sorted().filter { tickets[$0] != nil && !queue.contains($0) }
        queue.insert(contentsOf: back, at: 0)
        counters.redispatched += back.count
        log.info("reward worker \(worker.instanceID) gone (\(reason)); \(back.count) request(s) re-queued, \(workers.count) live")
    }

    /// Forgets the workers whose instance id `matches` (their key left the allowlist).
    public func forgetWorkers(where matches: (String) -> Bool) {
        for (identity, worker) in workers where matches(worker.instanceID) {
            forget(identity, because: "key removed from the allowlist", now: .now)
        }
    }

    /// Sends TERMINATE to every welcomed worker (and to any that joins later).
    public func terminateWorkers() {
        terminating = true
        for identity in workers.keys { terminate(identity) }
    }

    private func terminate(_ identity: [UInt8]) {
        if case .unreachable = send(.backend, identity, .terminate(Terminate(reason: "run ends"))) {
            workers[identity] = nil
        }
    }

    private func answerError(_ side: Side, _ identity: [UInt8], _ code: ErrorReport.Code, _ detail: String,
                             _ inReplyTo: UInt64, _ now: ContinuousClock.Instant) {
        guard errorLimiter.allow(identity, code, now: now) else { return }
        _ = send(side, identity, .error(ErrorReport(code: code, detail: detail, inReplyTo: inReplyTo)))
    }

    /// Counts a message on either broker socket that could not be decoded, and answers it.
    public func rejected(_ rejection: EnvelopeSocket.Rejection, side: Side, now: ContinuousClock.Instant) {
        rejections.count(rejection)
        log.limited("broker-rejected-\(side)", "reward \(side): dropped \(rejection)")
        guard case let .wire(identity, error) = rejection else { return }
        if errorLimiter.allow(identity, ErrorReport(for: error).code, now: now) {
            _ = send(side, identity, .error(ErrorReport(for: error)))
        }
    }
}
