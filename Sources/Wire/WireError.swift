import Foundation

/// Why bytes could not be decoded into an `Envelope`, or an `Envelope` could not be encoded.
public enum WireError: Error, Equatable, Sendable {
    /// protobuf-c rejected the bytes (truncated, bad tag, bad length, ...).
    case malformed(bytes: Int)
    /// The envelope's protocol version is outside what this build speaks.
    case unsupportedVersion(got: UInt32, supported: ClosedRange<UInt32>)
    /// A tensor's element count is not the product of its shape.
    case shapeMismatch(name: String, shape: [Int], count: Int)
    /// A tensor dimension cannot be sent: negative or above `UInt32.max` (encoding only).
    case invalidDimension(name: String, shape: [Int])
    /// A tensor element is NaN or infinite; `index` is the first such element.
    case nonFinite(name: String, index: Int)
    /// A size exceeds its `WireLimits` bound; `what` names the field.
    case tooLarge(what: String, size: Int, limit: Int)
    /// A name (`what` says which: a sender id or a tensor name) cannot be sent or accepted.
    case invalidName(what: String, problem: NameProblem)
    /// The envelope carries no payload at all.
    case missingPayload
    /// The envelope carries a payload field this build does not know (a newer peer).
    case unknownPayload(field: UInt32)
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
            return "tensor '\(name)': element \(index) is not finite"
        case let .tooLarge(what, size, limit):
            return "\(what) is too large: \(size) exceeds the limit \(limit)"
        case let .invalidName(what, problem):
            return "\(what) \(problem)"
        case .missingPayload:
            return "envelope has no payload"
        case let .unknownPayload(field):
            return "envelope payload field \(field) is unknown to this build"
        }
    }

    public var errorDescription: String? { description }
}
