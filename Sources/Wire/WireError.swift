import Foundation

/// Why bytes could not be decoded into an `Envelope`, or an `Envelope` could not be encoded.
/// Each case names the offending field (`what`/`name`), e.g. "log_probs of trajectory 3".
public enum WireError: Error, Equatable, Sendable {
    /// protobuf-c rejected the bytes (truncated, bad tag, bad length, ...).
    case malformed(bytes: Int)
    /// The envelope's protocol version is outside what this build speaks.
    case unsupportedVersion(got: UInt32, supported: ClosedRange<UInt32>)
    /// A tensor's element count is not the product of its shape.
    case shapeMismatch(name: String, shape: [Int], count: Int)
    /// A tensor dimension cannot be sent: negative or above `UInt32.max` (encoding only).
    case invalidDimension(name: String, shape: [Int])
    /// A float is NaN or infinite; `index` is the first such element of the field `name`.
    case nonFinite(name: String, index: Int)
    /// A size exceeds its `WireLimits` bound; `what` names the field.
    case tooLarge(what: String, size: Int, limit: Int)
    /// A name or text (`what` says which) cannot be sent or accepted.
    case invalidName(what: String, problem: NameProblem)
    /// The envelope carries no payload at all.
    case missingPayload
    /// The envelope carries a payload field this build does not know (a newer peer).
    case unknownPayload(field: UInt32)
    /// A required sub-message is absent, e.g. the latents of a trajectory.
    case missingField(what: String)
    /// A list that must hold at least one entry is empty.
    case empty(what: String)
    /// A list's length differs from the length another field dictates.
    case countMismatch(what: String, expected: Int, got: Int)
    /// A tensor's shape is not the one its field requires (`expected` describes it).
    case invalidShape(what: String, shape: [Int], expected: String)
    /// A number lies outside its allowed range.
    case outOfRange(what: String, value: Double, allowed: ClosedRange<Double>)
    /// A sequence that must strictly decrease does not at `index`.
    case notDecreasing(what: String, index: Int)
    /// Two entries of a list that must be uniquely named share `name`.
    case duplicateName(what: String, name: String)
    /// An enum field holds a value this build does not define (or the unspecified 0).
    case invalidEnum(what: String, value: Int32)
    /// A weights message's checksum differs from the CRC-32C of its content.
    case checksumMismatch(version: UInt64, expected: UInt32, computed: UInt32)
}

/// What is wrong with a name in `WireError.invalidName`.
public enum NameProblem: Equatable, Sendable, CustomStringConvertible {
    case empty
    case notUTF8
    /// A NUL byte would silently cut the name short in protobuf-c's C strings.
    case containsNUL

    public var description: String {
        switch self {
        case .empty: return "is empty"
        case .notUTF8: return "is not valid UTF-8"
        case .containsNUL: return "contains a NUL byte"
        }
    }
}

extension WireError: CustomStringConvertible, LocalizedError {
    public var description: String {
        switch self {
        case let .malformed(bytes):
            return "malformed protobuf: \(bytes) bytes do not parse as a shielddiff.v1.Envelope"
        case let .unsupportedVersion(got, supported):
            return "unsupported protocol version \(got); this build supports \(supported.lowerBound)...\(supported.upperBound)"
        case let .shapeMismatch(name, shape, count):
            return "tensor '\(name)': shape \(shape) needs \(Validation.product(shape)) elements, got \(count)"
        case let .invalidDimension(name, shape):
            return "tensor '\(name)': shape \(shape) has a dimension outside 0...\(UInt32.max)"
        case let .nonFinite(name, index):
            return "'\(name)': element \(index) is not finite"
        case let .tooLarge(what, size, limit):
            return "\(what) is too large: \(size) exceeds the limit \(limit)"
        case let .invalidName(what, problem):
            return "\(what) \(problem)"
        case .missingPayload:
            return "envelope has no payload"
        case let .unknownPayload(field):
            return "envelope payload field \(field) is unknown to this build"
        case let .missingField(what):
            return "\(what) is missing"
        case let .empty(what):
            return "\(what) is empty; at least one entry is required"
        case let .countMismatch(what, expected, got):
            return "\(what): expected \(expected) entries, got \(got)"
        case let .invalidShape(what, shape, expected):
            return "\(what): shape \(shape) is not \(expected)"
        case let .outOfRange(what, value, allowed):
            return "\(what) is \(value), outside \(allowed.lowerBound)...\(allowed.upperBound)"
        case let .notDecreasing(what, index):
            return "\(what): entry \(index) is not below entry \(index - 1); the sequence must strictly decrease"
        case let .duplicateName(what, name):
            return "\(what): name '\(name)' occurs more than once"
        case let .invalidEnum(what, value):
            return "\(what): value \(value) is not a defined, specified enum value"
        case let .checksumMismatch(version, expected, computed):
            return "weights version \(version): checksum mismatch, message says 0x\(hex(expected)), content has 0x\(hex(computed))"
        }
    }

    public var errorDescription: String? { description }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: 8 - digits.count) + digits
}
