import Wire

/// PROTOCOL.md §8: at most one ERROR per second per peer and code.
struct ErrorRateLimiter {
    private struct Key: Hashable {
        let peer: [UInt8]
        let code: ErrorReport.Code
    }
    private var last: [Key: ContinuousClock.Instant] = [:]

    /// True (and remembered) when an ERROR with `code` may go to `peer` now.
    mutating func allow(_ peer: [UInt8], _ code: ErrorReport.Code, now: ContinuousClock.Instant) -> Bool {
        let key = Key(peer: peer, code: code)
        if let previous = last[key], now - previous < .seconds(1) { return false }
        if last.count > 4096 { last = last.filter { now - $0.value < .seconds(1) } }
        last[key] = now
        return true
    }
}
