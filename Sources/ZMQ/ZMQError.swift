import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed libzmq call: the numeric errno read right after the call, the operation that failed,
/// and libzmq's text for the code.
///
/// The numeric `code` is kept so callers can tell a timeout (`EAGAIN`) from an interrupted call
/// (`EINTR`) or a terminated context (`ETERM`); `kind` names the codes this project reacts to.
public struct ZMQError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The errno value libzmq reported (`zmq_errno()`), e.g. `EAGAIN` or `ETERM`.
    public let code: Int32
    /// The failing call and its subject, e.g. `zmq_connect("foo")`.
    public let operation: String
    /// `zmq_strerror(code)`, or a note when the failure was detected on the Swift side.
    public let message: String

    /// Creates an error for `code`; `message` defaults to libzmq's text for the code.
    public init(code: Int32, operation: String, message: String? = nil) {
        self.code = code
        self.operation = operation
        self.message = message ?? String(cString: zmq_strerror(code))
    }

    /// The error codes this project distinguishes; anything else is `.other(code)`.
    public enum Kind: Equatable, Sendable {
        /// `EAGAIN`: a timeout expired or a non-blocking call would have blocked.
        case wouldBlock
        /// `EINTR`: a signal interrupted the call; it may be retried.
        case interrupted
        /// `ETERM`: the context was shut down or terminated.
        case contextTerminated
        /// `ENOTSOCK`: the socket is closed or not a socket.
        case notSocket
        /// `EINVAL`: a malformed argument, endpoint or option.
        case invalidArgument
        /// `EADDRINUSE`: the endpoint is already bound.
        case addressInUse
        /// `EPROTONOSUPPORT`: the endpoint names an unknown or unsupported transport.
        case protocolNotSupported
        /// `EHOSTUNREACH`: a ROUTER with `ROUTER_MANDATORY` has no peer with that routing id.
        case hostUnreachable
        /// `EFSM`: the call is not allowed in the socket's current state (e.g. REQ sending twice).
        case wrongState
        /// Any other errno value.
        case other(Int32)
    }

    /// The named kind of `code`.
    public var kind: Kind {
        switch code {
        case EAGAIN: return .wouldBlock
        case EINTR: return .interrupted
        case zmqETERM: return .contextTerminated
        case ENOTSOCK: return .notSocket
        case EINVAL: return .invalidArgument
        case EADDRINUSE: return .addressInUse
        case EPROTONOSUPPORT: return .protocolNotSupported
        case EHOSTUNREACH: return .hostUnreachable
        case zmqEFSM: return .wrongState
        default: return .other(code)
        }
    }

    /// True for `EAGAIN`: a receive/send timeout expired or a non-blocking call found nothing to do.
    public var isTimeout: Bool { code == EAGAIN }
    /// True for `EINTR`: a signal interrupted the call.
    public var isInterrupted: Bool { code == EINTR }
    /// True for `ETERM`: the socket's context was shut down or terminated.
    public var isContextTerminated: Bool { code == zmqETERM }

    public var description: String { "\(operation) failed: \(message) (errno \(code))" }
}

// libzmq's own codes are defined relative to ZMQ_HAUSNUMERO; spelled out here so the values
// do not depend on how the importer handles those macros.
let zmqEFSM: Int32 = ZMQ_HAUSNUMERO + 51
let zmqETERM: Int32 = ZMQ_HAUSNUMERO + 53

/// Passes a libzmq integer return code through, or throws the errno of the call that just failed.
///
/// Every C call whose failure is signalled by `-1` goes through here, and nothing may run between
/// that call and this check (so `zmq_errno()` still holds the call's code).
@discardableResult
func zmqCheck(_ result: Int32, _ operation: @autoclosure () -> String) throws(ZMQError) -> Int32 {
    guard result == -1 else { return result }
    let code = zmq_errno()
    throw ZMQError(code: code, operation: operation())
}

/// The pointer-returning variant of `zmqCheck`: `nil` means failure with errno set.
func zmqCheck<T>(_ result: T?, _ operation: @autoclosure () -> String) throws(ZMQError) -> T {
    guard let result else {
        let code = zmq_errno()
        throw ZMQError(code: code, operation: operation())
    }
    return result
}
