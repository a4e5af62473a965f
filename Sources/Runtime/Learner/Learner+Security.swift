import Foundation
import Wire
import ZMQ

/// Who may talk to the learner: the safe default at start, the per-message check of the
/// authenticated key's name, handshake failures, and allowlist reloads (SIGHUP).
extension Learner {
    /// libzmq I/O threads of the learner's context. CURVE decrypts each connection in the I/O
    /// thread that owns it, so one thread per core (up to 4) lets several peers' traffic be
    /// decrypted at once (`bench transport` measures it); plaintext needs only one.
    public static func ioThreads(curve: Bool) -> Int {
        curve ? min(4, max(1, ProcessInfo.processInfo.activeProcessorCount)) : 1
    }

    /// The learner's CURVE setting; refuses plaintext on an endpoint other hosts can reach
    /// unless `security.mode` says `none` in so many words (then warns).
    static func checkedSecurity(_ config: RunConfig, log: RuntimeLog) throws -> LearnerCurve? {
        let exposed = config.endpoints.exposed
        switch config.security.mode {
        case "curve": return try LearnerCurve.load(config)
        case "none":
            if !exposed.isEmpty {
                log.info("WARNING: security.mode is none: anyone who can reach \(exposed.joined(separator: ", ")) can join this run, " +
                         "send trajectories and read every weight version (README \"Security\")")
            }
            return nil
        default:
            guard exposed.isEmpty else {
                throw ConfigError("endpoint(s) \(exposed.joined(separator: ", ")) can be reached from other hosts, so the learner " +
                                  "will not run them in plaintext: set security.mode: curve (README \"Security\"), or " +
                                  "security.mode: none to accept anyone who can connect")
            }
            return nil
        }
    }

    /// With CURVE on, true when the sender's key (its `User-Id`) is still allowed on `endpoint`
    /// and, for HELLO, the claimed instance id and role are the key's. Counts and answers the rest.
    /// Also refuses HELLOs beyond `limits.max_hellos_per_second` with ERROR(OVERLOADED).
    func admitted(_ incoming: EnvelopeSocket.Incoming, on endpoint: SecuredEndpoint, now: ContinuousClock.Instant) -> Bool {
        if case .hello = incoming.envelope.payload {
            if now - helloWindow.start >= .seconds(1) { helloWindow = (now, 0) }
            helloWindow.count += 1
            if helloWindow.count > config.limits.maxHellosPerSecond {
                hellosRefused["rate", default: 0] += 1
                log.limited("hello-rate", "\(endpoint.rawValue): more than \(config.limits.maxHellosPerSecond) HELLOs this second; refusing")
                answer(on: endpoint, incoming.identity, .overloaded,
                       "more than \(config.limits.maxHellosPerSecond) HELLOs per second (limits.max_hellos_per_second)",
                       incoming.envelope.sequence, now)
                return false
            }
        }
        guard let allowlist else { return true }
        guard let name = incoming.userID, let entry = allowlist.byName[name], endpoint.admittedRoles.contains(entry.role) else {
            // The key was removed since its handshake (the connection is being dropped).
            rejections.unauthorized += 1
            log.limited("revoked-\(incoming.userID ?? "")", "\(endpoint.rawValue): dropped a message from key '\(incoming.userID ?? "?")', no longer allowed")
            return false
        }
        if case let .hello(hello) = incoming.envelope.payload, hello.instanceID != name || hello.role != entry.role.wireRole {
            rejections.unauthorized += 1
            log.limited("impostor-\(name)", "\(endpoint.rawValue): HELLO as \(hello.role) '\(hello.instanceID)' from the key of \(entry.role.rawValue) '\(name)': refused")
            answer(on: endpoint, incoming.identity, .configMismatch,
                   "HELLO claims \(hello.role) '\(hello.instanceID)' but the CURVE key is \(entry.role.rawValue) '\(name)'",
                   incoming.envelope.sequence, now)
            return false
        }
        return true
    }

    /// Sends ERROR on `endpoint`'s socket, rate-limited per peer and code.
    func answer(on endpoint: SecuredEndpoint, _ identity: [UInt8], _ code: ErrorReport.Code, _ detail: String,
                _ inReplyTo: UInt64, _ now: ContinuousClock.Instant) {
        guard errorLimiter.allow(identity, code, now: now) else { return }
        let socket = endpoint == .rewardBackend ? backend : endpoint == .rewardFrontend ? frontend : control
        _ = try? socket.send(.error(ErrorReport(code: code, detail: detail, inReplyTo: inReplyTo)), to: identity)
    }

    /// Counts the handshakes a socket's monitor reported, and drops a connection accepted
    /// beyond `limits.max_unauthenticated_connections` (its handshake then fails). Events are
    /// taken in order, so the count is never low; a connection whose handshake finished before
    /// its ACCEPTED event was read may be dropped while the learner is at the limit (its peer
    /// reconnects).
    func drainMonitor(_ monitor: ZMQMonitor) {
        while let event = try? monitor.next(timeout: .zero) {
            if event.event.contains(.accepted) {
                guard !handshakeGate.accept(now: .now) else { continue }
                // The event's value is the new connection's fd; libzmq's I/O thread sees it close.
                _ = shutdown(Int32(bitPattern: event.value), Int32(SHUT_RDWR))
                log.limited("handshake-limit", "\(handshakeGate.limit) connections are already in their handshake " +
                            "(limits.max_unauthenticated_connections); dropped a new one on \(event.endpoint)")
                continue
            }
            handshakeGate.resolved()
            guard !event.event.contains(.handshakeSucceeded), !event.event.contains(.handshakeFailedAuth) else { continue }
            let kind = event.event.contains(.handshakeFailedProtocol) ? "protocol" : "no_detail"
            handshakeFailures[kind, default: 0] += 1
            log.limited("handshake-\(kind)", "handshake failed (\(kind.replacingOccurrences(of: "_", with: " "))) on \(event.endpoint)")
        }
    }

    /// Re-reads `security.allowlist` (SIGHUP). The new table is built whole first; a bad file
    /// keeps the old one. A removed key's peers are forgotten and every endpoint is rebound,
    /// which drops all connections: the removed key cannot handshake again, the others
    /// reconnect by themselves and say HELLO again.
    func reloadAllowlist(now: ContinuousClock.Instant) {
        guard let zap, let old = allowlist else {
            log.info("SIGHUP: security.mode is not curve; there is no allowlist to reload")
            return
        }
        let new: Allowlist
        do { new = try Allowlist.load(path: config.security.allowlist) } catch {
            log.info("SIGHUP: keeping the current allowlist (\(old.entries.count) keys): \(error)")
            return
        }
        zap.replace(new)
        allowlist = new
        let removed = old.entries.filter { !new.entries.contains($0) }
        log.info("SIGHUP: allowlist reloaded: \(new.entries.count) keys, \(removed.count) removed")
        guard !removed.isEmpty else { return }
        for (identity, peer) in peers where !new.admits(name: peer.instanceID, role: peer.role.keyRole) {
            peers[identity] = nil
            log.info("\(peer.instanceID): key removed from the allowlist; forgotten")
        }
        broker.forgetWorkers { !new.admits(name: $0, role: .rewardWorker) }
        rebindEndpoints()
        handshakeGate.reset()
    }

    /// Unbinds and binds again each endpoint at its resolved address, closing every connection.
    private func rebindEndpoints() {
        let bound = boundEndpoints
        for (socket, endpoint) in [(control, bound.control), (publisher, bound.weights),
                                   (frontend, bound.rewardFrontend), (backend, bound.rewardBackend)] {
            do {
                try socket.socket.unbind(endpoint)
                // The old listener closes in libzmq's I/O thread; its address frees within moments.
                let deadline = ContinuousClock.now + .seconds(2)
                while true {
                    do { try socket.socket.bind(endpoint); break } catch where error.kind == .addressInUse && ContinuousClock.now < deadline {
                        Thread.sleep(forTimeInterval: 0.001)
                    }
                }
            } catch {
                log.info("cannot rebind \(endpoint) after the allowlist changed: \(error)")
            }
        }
        log.info("endpoints rebound: every connection re-authenticates against the new allowlist")
    }
}

extension KeyRole {
    /// The protocol's role for this key role.
    var wireRole: Role {
        switch self {
        case .learner: return .learner
        case .actor: return .actor
        case .rewardWorker: return .rewardWorker
        case .supervisor: return .supervisor
        }
    }
}

extension Role {
    /// The key role of this protocol role.
    var keyRole: KeyRole {
        switch self {
        case .learner: return .learner
        case .actor: return .actor
        case .rewardWorker: return .rewardWorker
        case .supervisor: return .supervisor
        }
    }
}
