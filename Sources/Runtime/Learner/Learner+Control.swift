import Foundation
import Wire

/// Counts of what the learner took in and trained on.
struct IngestStats {
    /// Trajectories accepted into the buffer, in all.
    var accepted = 0
    /// Trajectories rejected at BATCH_ACK, by reason (stale, future, invalid, overloaded).
    var rejected: [String: Int] = [:]
    /// Accepted trajectories dropped later because they became stale in the buffer.
    var staleInBuffer = 0
    /// Trajectories trained on, in all (kept across resumes).
    var trained = 0
    /// Accepted since the last update.
    var acceptedSinceUpdate = 0
    /// Lag at BATCH_ACK of the trajectories accepted since the last update: lag → count.
    var ingestLag: [Int: Int] = [:]
}

extension Learner {
    /// Handles one message from the control socket (actors and supervisors).
    func handleControl(_ incoming: EnvelopeSocket.Incoming, now: ContinuousClock.Instant) {
        let identity = incoming.identity, envelope = incoming.envelope
        if case let .hello(hello) = envelope.payload {
            welcome(identity, hello, sequence: envelope.sequence, now: now)
            return
        }
        guard let peer = peers[identity] else {
            rejections.notWelcomed += 1
            log.limited("not-welcomed", "control: \(envelope.payload.kind) from unwelcomed \(envelope.sender); answering NOT_WELCOMED")
            if case .error = envelope.payload { return }
            answerError(identity, .notWelcomed, "send HELLO first", envelope.sequence, now)
            return
        }
        peers[identity]!.lastHeard = now
        let isActor = peer.role == .actor, isSupervisor = peer.role == .supervisor
        switch envelope.payload {
        case let .heartbeat(heartbeat):
            guard isActor else { break }
            if heartbeat.policyVersion < version { sendWeights(to: identity, now: now, force: false) }
        case .stats where isActor:
            break
        case let .trajectoryBatch(batch) where isActor:
            ingest(batch, from: identity, now: now)
        case let .terminate(terminate) where isSupervisor:
            log.info("TERMINATE from \(peer.instanceID): \(terminate.reason)")
            terminateRequesters.append(identity)
            beginTermination(reason: terminate.reason.isEmpty ? "supervisor" : terminate.reason, now: now)
        case .terminateAck where isActor:
            peers[identity]!.terminateAcked = true
        case let .error(report):
            rejections.errorsReceived += 1
            log.limited("control-error", "control: ERROR \(report.code) from \(peer.instanceID): \(report.detail)")
        default:
            rejections.unexpected += 1
            log.limited("control-unexpected", "control: unexpected \(envelope.payload.kind) from \(peer.role) \(peer.instanceID)")
            answerError(identity, .unexpected, "\(envelope.payload.kind) is not valid from a \(peer.role) on control",
                        envelope.sequence, now)
        }
    }

    /// Counts and answers a control message that did not decode.
    func rejectedControl(_ rejection: EnvelopeSocket.Rejection, now: ContinuousClock.Instant) {
        rejections.count(rejection)
        log.limited("control-rejected", "control: dropped \(rejection)")
        if case let .wire(identity, error) = rejection {
            let report = ErrorReport(for: error)
            answerError(identity, report.code, report.detail, 0, now)
        }
    }

    private func welcome(_ identity: [UInt8], _ hello: Hello, sequence: UInt64, now: ContinuousClock.Instant) {
        guard hello.role == .actor || hello.role == .supervisor else {
            rejections.unexpected += 1
            answerError(identity, .unexpected, "role \(hello.role) cannot join the control endpoint", sequence, now)
            return
        }
        if !hello.configDigest.isEmpty && hello.configDigest != config.configDigest {
            rejections.unexpected += 1
            log.info("\(hello.instanceID) refused: config digest \(hello.configDigest) ≠ \(config.configDigest)")
            answerError(identity, .configMismatch,
                        "config digest \(hello.configDigest) differs from the learner's \(config.configDigest)", sequence, now)
            return
        }
        let replaces = peers.contains { $0.key == identity || $0.value.instanceID == hello.instanceID }
        if hello.role == .actor, !replaces, actorCount >= config.limits.maxActors {
            hellosRefused["max_actors", default: 0] += 1
            log.limited("actors-full", "\(hello.instanceID) refused: \(actorCount) actors live (limits.max_actors)")
            answerError(identity, .overloaded, "the learner has \(actorCount) actors (limits.max_actors)", sequence, now)
            return
        }
        for (other, peer) in peers where peer.instanceID == hello.instanceID && other != identity {
            peers[other] = nil
            log.info("\(peer.instanceID) reconnected with a new connection; its old entry is forgotten")
        }
        peers[identity] = Peer(instanceID: hello.instanceID, role: hello.role, lastHeard: now, lastSent: now)
        let welcome = Welcome(runID: runID, policyVersion: version,
                              heartbeatIntervalMilliseconds: UInt32(config.heartbeatIntervalMs),
                              liveness: UInt32(config.liveness), configDigest: config.configDigest,
                              maxInFlightBatches: hello.role == .actor ? UInt32(config.maxInFlightBatches) : 0)
        sendControl(.welcome(welcome), to: identity, now: now)
        log.info("\(hello.role) \(hello.instanceID) (pid \(hello.pid), holds v\(hello.policyVersion)) welcomed at v\(version); " +
                 "\(actorCount) actor(s) live")
        guard hello.role == .actor else { return }
        sendWeights(to: identity, now: now, force: true)
        if phase != .running { sendControl(.terminate(Terminate(reason: "run ends")), to: identity, now: now) }
    }

    /// Sends the current WEIGHTS on control; unless `force`d, at most once per version per
    /// liveness period (§5.4).
    func sendWeights(to identity: [UInt8], now: ContinuousClock.Instant, force: Bool) {
        guard let peer = peers[identity] else { return }
        if !force, let sent = peer.weightsSent, sent.version == version, now - sent.at < config.deadAfter { return }
        peers[identity]!.weightsSent = (version, now)
        sendControl(.weights(weights), to: identity, now: now)
    }

    /// Validates a batch against lag, version and model shape, buffers what fits, and acks.
    private func ingest(_ batch: TrajectoryBatch, from identity: [UInt8], now: ContinuousClock.Instant) {
        var accepted = 0
        var sawStale = false
        var reasons: [(String, Int)] = []
        func reject(_ reason: String) {
            if let index = reasons.firstIndex(where: { $0.0 == reason }) { reasons[index].1 += 1 } else { reasons.append((reason, 1)) }
        }
        for trajectory in batch.trajectories {
            let held = trajectory.policyVersion
            if held > version {
                reject("future: version \(held) > learner version \(version)")
                stats.rejected["future", default: 0] += 1
            } else if Int(version - held) > config.maxPolicyLag {
                reject("stale: lag \(version - held) > max_policy_lag \(config.maxPolicyLag)")
                sawStale = true
                stats.rejected["stale", default: 0] += 1
            } else if let why = spec.incompatibility(of: trajectory) {
                reject(why)
                stats.rejected["invalid", default: 0] += 1
            } else if buffer.count >= config.maxBufferedTrajectories {
                reject("overloaded: learner buffer holds \(buffer.count) trajectories")
                stats.rejected["overloaded", default: 0] += 1
            } else {
                buffer.append(trajectory)
                accepted += 1
                stats.ingestLag[Int(version - held), default: 0] += 1
            }
        }
        stats.accepted += accepted
        stats.acceptedSinceUpdate += accepted
        var reason = reasons.map { "\($0.0) (×\($0.1))" }.joined(separator: "; ")
        if reason.utf8.count > 4000 { reason = String(reason.prefix(1000)) + "…" }
        let ack = BatchAck(batchID: batch.batchID, accepted: UInt32(accepted),
                           rejected: UInt32(batch.trajectories.count - accepted), reason: reason, policyVersion: version)
        sendControl(.batchAck(ack), to: identity, now: now)
        // Stale trajectories mean the actor missed the broadcasts (e.g. published before its
        // SUB connected) and, busy sending batches, sends no heartbeat that would show it.
        if sawStale { sendWeights(to: identity, now: now, force: false) }
        // `overloaded` alone is flow control (the actor resends), counted in the metrics only.
        if reasons.contains(where: { !$0.0.hasPrefix("overloaded") }) {
            log.limited("batch-rejected", "batch \(batch.batchID) of \(batch.actorID): \(reason)")
        }
    }

    /// Sends on control without blocking; a vanished peer is forgotten, a full queue drops.
    func sendControl(_ payload: Envelope.Payload, to identity: [UInt8], now: ContinuousClock.Instant) {
        let result: EnvelopeSocket.SendResult
        do { result = try control.send(payload, to: identity) } catch {
            log.limited("control-encode", "cannot encode \(payload.kind): \(error)")
            return
        }
        switch result {
        case .sent: peers[identity]?.lastSent = now
        case .queueFull: log.limited("control-full", "control: queue to a peer is full; \(payload.kind) dropped")
        case .unreachable:
            if let peer = peers.removeValue(forKey: identity) { log.info("\(peer.instanceID) unreachable: forgotten") }
        }
    }

    /// Answers with ERROR, at most once per second per peer and code.
    func answerError(_ identity: [UInt8], _ code: ErrorReport.Code, _ detail: String, _ inReplyTo: UInt64,
                     _ now: ContinuousClock.Instant) {
        guard errorLimiter.allow(identity, code, now: now) else { return }
        sendControl(.error(ErrorReport(code: code, detail: detail, inReplyTo: inReplyTo)), to: identity, now: now)
    }
}
