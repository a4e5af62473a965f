import Foundation

/// Human-readable lines on stderr, each prefixed with the wall-clock time (so lines of several
/// processes interleave meaningfully) and the process's instance id;
/// `limited` lines are rate-limited per key (at most one per second, with a count of the
/// suppressed ones), so a flood of bad messages cannot flood the log.
public final class RuntimeLog: @unchecked Sendable {
    private let name: String
    private let lock = NSLock()
    private var lastByKey: [String: (time: ContinuousClock.Instant, suppressed: Int)] = [:]

    /// A log whose lines start with `name` (e.g. "learner", "actor-2").
    public init(name: String) { self.name = name }

    /// Writes one line.
    public func info(_ message: @autoclosure () -> String) {
        let now = Date().timeIntervalSince1970
        let secondsOfDay = now.truncatingRemainder(dividingBy: 86400)
        let stamp = String(format: "%02d:%02d:%06.3f", Int(secondsOfDay / 3600), Int(secondsOfDay / 60) % 60,
                           secondsOfDay.truncatingRemainder(dividingBy: 60))
        let line = "[\(stamp) \(name)] " + message() + "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// Writes one line unless a line with the same `key` was written less than a second ago.
    public func limited(_ key: String, _ message: @autoclosure () -> String) {
        let now = ContinuousClock.now
        lock.lock()
        let previous = lastByKey[key]
        if let previous, now - previous.time < .seconds(1) {
            lastByKey[key] = (previous.time, previous.suppressed + 1)
            lock.unlock()
            return
        }
        lastByKey[key] = (now, 0)
        lock.unlock()
        let suppressed = previous?.suppressed ?? 0
        info(message() + (suppressed > 0 ? " (\(suppressed) similar suppressed)" : ""))
    }
}

/// Messages a process dropped, by cause (PROTOCOL.md §8); reported in HEARTBEAT counters,
/// STATS and the metrics file.
public struct RejectionCounters: Equatable, Sendable {
    /// Bytes that did not decode or broke a validation rule.
    public var malformed = 0
    /// Envelopes of an unsupported protocol version.
    public var unsupportedVersion = 0
    /// Envelopes with a payload kind this build does not know.
    public var unknownKind = 0
    /// Messages with the wrong number of frames.
    public var wrongFrames = 0
    /// Known kinds from the wrong role, on the wrong socket, or in the wrong state.
    public var unexpected = 0
    /// Messages from peers that were not welcomed.
    public var notWelcomed = 0
    /// ERROR messages received.
    public var errorsReceived = 0
    /// CURVE: messages from a key removed from the allowlist, or a HELLO whose instance id or
    /// role is not its key's.
    public var unauthorized = 0

    /// No rejections yet.
    public init() {}

    /// Counts a receive-side rejection.
    public mutating func count(_ rejection: EnvelopeSocket.Rejection) {
        switch rejection {
        case .wrongFrameCount: wrongFrames += 1
        case .wire(_, .unsupportedVersion): unsupportedVersion += 1
        case .wire(_, .unknownPayload): unknownKind += 1
        case .wire: malformed += 1
        }
    }

    /// The counters as named metrics.
    public var metrics: [(String, Double)] {
        [("rejected_malformed", Double(malformed)), ("rejected_unsupported_version", Double(unsupportedVersion)),
         ("rejected_unknown_kind", Double(unknownKind)), ("rejected_wrong_frames", Double(wrongFrames)),
         ("rejected_unexpected", Double(unexpected)), ("rejected_not_welcomed", Double(notWelcomed)),
         ("errors_received", Double(errorsReceived)), ("rejected_unauthorized", Double(unauthorized))]
    }
}
