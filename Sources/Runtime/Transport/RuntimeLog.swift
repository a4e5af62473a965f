import Foundation
import Logging

/// Human-readable lines on stderr, each prefixed with the wall-clock time (so lines of several
/// processes interleave meaningfully) and the process's instance id, written through
/// swift-log (`logger`, by default with a `RuntimeLineHandler`);
/// `limited` lines are rate-limited per key (at most one per second, with a count of the
/// suppressed ones), so a flood of bad messages cannot flood the log.
public final class RuntimeLog: @unchecked Sendable {
    /// The swift-log logger every line goes through.
    public let logger: Logger
    private let lock = NSLock()
    private var lastByKey: [String: (time: ContinuousClock.Instant, suppressed: Int)] = [:]

    /// A log whose lines start with `name` (e.g. "learner", "actor-2"), on stderr.
    public convenience init(name: String) {
        self.init(logger: Logger(label: name) { RuntimeLineHandler(label: $0) })
    }

    /// A log whose lines start with `name`, each handed to `write` (newline included).
    public convenience init(name: String, write: @escaping @Sendable (String) -> Void) {
        self.init(logger: Logger(label: name) { RuntimeLineHandler(label: $0, write: write) })
    }

    /// A log through `logger`, with any handler (e.g. a service's own logging backend).
    public init(logger: Logger) { self.logger = logger }

    /// Writes one line.
    public func info(_ message: @autoclosure () -> String) {
        logger.info("\(message())")
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

/// The swift-log handler of the roles' readable lines: `[HH:MM:SS.mmm label] message`, UTC
/// time of day, then ` key=value` for any metadata (sorted by key); the level is not shown
/// (the roles log at `info`). A value type, as swift-log requires: copies keep their own
/// level and metadata.
public struct RuntimeLineHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let write: @Sendable (String) -> Void

    /// A handler for lines labelled `label`, each passed to `write` (default: stderr).
    public init(label: String, write: @escaping @Sendable (String) -> Void = RuntimeLineHandler.standardError) {
        (self.label, self.write) = (label, write)
    }

    /// Writes `line` to stderr at once.
    public static let standardError: @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let own = event.metadata { all.merge(own) { _, new in new } }
        write(Self.line(label: label, message: event.message.description, metadata: all, at: Date()))
    }

    /// The line for `message` at `date`, newline included.
    public static func line(label: String, message: String, metadata: Logger.Metadata = [:], at date: Date) -> String {
        let secondsOfDay = date.timeIntervalSince1970.truncatingRemainder(dividingBy: 86400)
        let stamp = String(format: "%02d:%02d:%06.3f", Int(secondsOfDay / 3600), Int(secondsOfDay / 60) % 60,
                           secondsOfDay.truncatingRemainder(dividingBy: 60))
        let fields = metadata.keys.sorted().map { " \($0)=\(metadata[$0]!)" }.joined()
        return "[\(stamp) \(label)] " + message + fields + "\n"
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
