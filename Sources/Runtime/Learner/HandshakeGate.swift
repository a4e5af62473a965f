import Foundation

/// `limits.max_unauthenticated_connections`: how many accepted connections may be in their
/// handshake at once, across the learner's four sockets. libzmq has no such limit, so the
/// learner counts from its socket monitors: every accepted connection ends its handshake with
/// exactly one event (succeeded, or failed: protocol, auth, or no detail, which covers the
/// handshake timeout and a peer that hangs up). A connection accepted beyond the limit has its
/// socket shut down at once, so it fails and never holds a slot.
struct HandshakeGate {
    let limit: Int
    /// A connection not resolved after this has been dropped by libzmq (`ZMQ_HANDSHAKE_IVL`),
    /// so the count never exceeds the accepts of this window even if a monitor event was lost.
    let timeout: Duration
    /// Accepted minus resolved handshakes.
    private var open = 0
    /// When each recent connection was accepted, oldest first (those within `timeout`).
    private var accepted: [ContinuousClock.Instant] = []
    private var acceptedStart = 0
    /// Connections shut down because the limit was reached.
    private(set) var refused = 0

    init(limit: Int, timeout: Duration) { (self.limit, self.timeout) = (limit, timeout) }

    /// Connections in their handshake now.
    mutating func inHandshake(now: ContinuousClock.Instant) -> Int {
        while acceptedStart < accepted.count, now - accepted[acceptedStart] > timeout { acceptedStart += 1 }
        if acceptedStart > 1024, acceptedStart * 2 > accepted.count {
            accepted.removeFirst(acceptedStart)
            acceptedStart = 0
        }
        open = min(open, accepted.count - acceptedStart)
        return open
    }

    /// A connection was accepted; false when it is beyond the limit and must be dropped.
    mutating func accept(now: ContinuousClock.Instant) -> Bool {
        let admitted = inHandshake(now: now) < limit
        accepted.append(now)
        open += 1
        if !admitted { refused += 1 }
        return admitted
    }

    /// A handshake ended (succeeded or failed).
    mutating func resolved() { open = max(0, open - 1) }

    /// Every connection was closed (the endpoints were rebound).
    mutating func reset() { (open, accepted, acceptedStart) = (0, [], 0) }
}
