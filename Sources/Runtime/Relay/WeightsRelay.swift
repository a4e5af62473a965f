import Foundation
import Wire
import ZMQ

/// A node's WEIGHTS relay (`shielddiff relay`, PROTOCOL.md §3.3): one SUB to the learner's
/// PUB, and a PUB on a node-local ipc endpoint (`endpoints.weights_relay`) that the node's
/// actors subscribe to instead. The learner then sends each version once per node rather than
/// once per actor, which is what limits one PUB at about 100 actors with full weights.
///
/// It relays WEIGHTS only, validated as any receiver validates them (a message that does not
/// decode, or is not WEIGHTS, is dropped and counted), numbered as its own socket's messages.
/// It holds no run state: killed, it is restarted, and until then its actors still get every
/// version they miss on control (the learner answers a stale HEARTBEAT with WEIGHTS).
/// Upstream it is a CURVE client with an actor key when `security.mode` is curve; downstream
/// it serves its node only, over ipc, in a folder only its user can enter.
public final class WeightsRelay: @unchecked Sendable {
    /// What the relay has done, for its log and the benchmarks.
    public struct Counts: Equatable, Sendable {
        /// WEIGHTS re-published.
        public var relayed = 0
        /// Messages from upstream that were not valid WEIGHTS envelopes.
        public var dropped = 0
        /// The newest version relayed.
        public var newestVersion: UInt64 = 0
    }

    private let log: RuntimeLog
    private let parentPID: Int32?
    private let context: ZMQContext
    private let upstream: EnvelopeSocket
    private let downstream: EnvelopeSocket
    private let stopRequested = ManagedFlag()
    private let lock = NSLock()
    private var counts = Counts()

    /// Connects to `endpoints.weights` and binds `endpoints.weights_relay` (which must be set).
    public init(config: RunConfig, instanceID: String, parentPID: Int32? = nil) throws {
        let local = config.endpoints.weightsRelay
        guard let path = WeightsRelay.ipcPath(local) else {
            throw ConfigError("endpoints.weights_relay is '\(local)': a relay needs a node-local ipc:// endpoint to serve")
        }
        self.parentPID = parentPID
        log = RuntimeLog(name: instanceID)
        let curve = try PeerCurve.load(config, role: .actor, name: instanceID)
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        context = try ZMQContext()
        let subscriber = try ZMQSocket(context, type: .subscriber)
        upstream = try EnvelopeSocket(subscriber, sender: instanceID)
        try subscriber.setOption(.conflate, true)
        try subscriber.setOption(.subscribe, [])
        try curve?.side.apply(to: subscriber, handshakeLimit: config.handshakeLimit)
        try subscriber.connect(config.endpoints.weights)
        let publisher = try ZMQSocket(context, type: .publisher)
        downstream = try EnvelopeSocket(publisher, sender: instanceID)
        try publisher.setOption(.sendHighWaterMark, 2)
        do { try publisher.bind(local) } catch {
            throw RuntimeError("relay: cannot bind \(local): \(error)")
        }
        log.info("relaying WEIGHTS from \(config.endpoints.weights) to \(local)\(curve == nil ? "" : " (CURVE upstream)")")
    }

    /// The socket path of an `ipc://` endpoint; nil for any other transport.
    public static func ipcPath(_ endpoint: String) -> String? {
        guard endpoint.hasPrefix("ipc://"), endpoint.count > 6 else { return nil }
        return String(endpoint.dropFirst(6))
    }

    /// What has been relayed so far (from any thread).
    public var snapshot: Counts {
        lock.lock()
        defer { lock.unlock() }
        return counts
    }

    /// Asks `run()` to return (from any thread).
    public func stop() { stopRequested.set() }

    /// Relays until `stop()`, SIGTERM/SIGINT, or the death of the parent process.
    public func run() {
        let poller = ZMQPoller()
        poller.add(upstream.socket)
        while !stopRequested.isSet && !StopSignal.requested && !StopSignal.orphaned(parentPID: parentPID) {
            if waitForUpstream(poller) { relayWaiting() }
        }
        upstream.close()
        downstream.close()
        try? context.close()
        let final = snapshot
        log.info("relay stopped: \(final.relayed) versions relayed (newest v\(final.newestVersion)), \(final.dropped) messages dropped")
    }

    /// Whether upstream has a message within 50 ms (false when a signal interrupted the wait).
    private func waitForUpstream(_ poller: ZMQPoller) -> Bool {
        do { return !(try poller.poll(timeout: .milliseconds(50))).isEmpty } catch {
            if !error.isInterrupted { log.limited("poll", "poll failed: \(error)") }
            return false
        }
    }

    /// Re-publishes every message waiting on the upstream socket.
    private func relayWaiting() {
        while true {
            let incoming: EnvelopeSocket.Incoming
            do {
                guard let next = try upstream.receive() else { return }
                incoming = next
            } catch {
                count { $0.dropped += 1 }
                log.limited("dropped", "dropped a message from the learner's PUB: \(error)")
                continue
            }
            guard case let .weights(weights) = incoming.envelope.payload else {
                count { $0.dropped += 1 }
                log.limited("dropped", "dropped \(incoming.envelope.payload.kind) from the learner's PUB (only WEIGHTS are relayed)")
                continue
            }
            do { try downstream.send(.weights(weights)) } catch {
                log.limited("send", "could not re-publish v\(weights.version): \(error)")
                continue
            }
            count {
                $0.relayed += 1
                $0.newestVersion = weights.version
            }
            log.limited("relayed", "relayed v\(weights.version)")
        }
    }

    private func count(_ change: (inout Counts) -> Void) {
        lock.lock()
        change(&counts)
        lock.unlock()
    }
}
