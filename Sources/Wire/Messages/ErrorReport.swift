/// What a peer MAY answer to a message it could not or would not process
/// (`shielddiff.v1.Error`). A receiver logs and counts it, and never answers it with another.
public struct ErrorReport: Equatable, Sendable {
    /// The kind of problem; the receiver's reaction depends only on this.
    public enum Code: Int32, Equatable, Sendable, CaseIterable {
        /// The bytes do not parse, or a validation rule failed.
        case malformed = 1
        /// The protocol version is not supported.
        case unsupportedVersion = 2
        /// The payload kind is unknown.
        case unknownKind = 3
        /// The kind is not valid from this role, on this socket, or in this state.
        case unexpected = 4
        /// The sender is unknown (e.g. after a restart): it must send HELLO again.
        case notWelcomed = 5
        /// The HELLO's config digest differs from the learner's.
        case configMismatch = 6
        /// A queue is full: retry later.
        case overloaded = 7
        /// The receiver failed.
        case `internal` = 8
    }

    /// The kind of problem.
    public var code: Code
    /// Human-readable; names the field or rule.
    public var detail: String
    /// `Envelope.sequence` of the offending message; 0 if unknown.
    public var inReplyTo: UInt64

    /// Creates the message from its fields, unvalidated (encoding and decoding validate).
    public init(code: Code, detail: String, inReplyTo: UInt64 = 0) {
        self.code = code
        self.detail = detail
        self.inReplyTo = inReplyTo
    }

    /// The report answering a message that failed to decode with `error`; the detail is the
    /// error's description, cut to `limits.maxTextBytes` on a character boundary.
    public init(for error: WireError, inReplyTo: UInt64 = 0, limits: WireLimits = .default) {
        let code: Code
        switch error {
        case .unsupportedVersion: code = .unsupportedVersion
        case .unknownPayload: code = .unknownKind
        default: code = .malformed
        }
        var detail = ""
        for character in error.description {
            guard detail.utf8.count + character.utf8.count <= limits.maxTextBytes else { break }
            detail.append(character)
        }
        self.init(code: code, detail: detail, inReplyTo: inReplyTo)
    }

    func validate(limits: WireLimits) throws(WireError) {
        try Validation.checkText(detail.utf8, what: "detail of error", limits: limits, allowEmpty: true)
    }
}
