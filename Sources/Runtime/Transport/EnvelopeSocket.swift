import Wire
import ZMQ

/// A ZeroMQ socket that carries one `Envelope` per message (PROTOCOL.md §3.1): it numbers what
/// it sends, checks the frame count of what it receives, and decodes at the boundary.
///
/// Every send is non-blocking (`ZMQ_DONTWAIT`): a full queue or a vanished peer drops the
/// message and says so, it never blocks the caller. Used from one thread.
public final class EnvelopeSocket {
    /// A message that arrived: the ROUTER identity (empty for DEALER/SUB) and the envelope.
    public struct Incoming {
        /// The peer's routing identity on a ROUTER; empty otherwise.
        public let identity: [UInt8]
        /// The decoded, validated envelope.
        public let envelope: Envelope
        /// On a CURVE server socket: the name the ZAP handler gave the sender's key (`User-Id`).
        public let userID: String?

        /// A message as if received from `identity` (for feeding state machines in tests).
        public init(identity: [UInt8], envelope: Envelope, userID: String? = nil) {
            self.identity = identity
            self.envelope = envelope
            self.userID = userID
        }
    }

    /// Why a received message was dropped.
    public enum Rejection: Error, CustomStringConvertible {
        /// Not the one (DEALER/SUB) or two (ROUTER) frames of §3.1.
        case wrongFrameCount(identity: [UInt8], frames: Int)
        /// The envelope frame did not decode or validate.
        case wire(identity: [UInt8], WireError)

        /// The sender's identity on a ROUTER, else empty.
        public var identity: [UInt8] {
            switch self {
            case let .wrongFrameCount(identity, _), let .wire(identity, _): return identity
            }
        }

        public var description: String {
            switch self {
            case let .wrongFrameCount(_, frames): return "message of \(frames) frames (expected one envelope frame)"
            case let .wire(_, error): return error.description
            }
        }
    }

    /// Outcome of a send.
    public enum SendResult: Equatable {
        /// Queued, with the envelope's sequence number.
        case sent(sequence: UInt64)
        /// The peer's queue is full (EAGAIN): dropped.
        case queueFull
        /// The ROUTER has no such peer any more (EHOSTUNREACH): dropped.
        case unreachable
    }

    /// The underlying socket (for polling).
    public let socket: ZMQSocket
    /// The `Envelope.sender` of everything sent.
    public let sender: String
    private let isRouter: Bool
    /// True on a CURVE server: each receive also reads the connection's `User-Id`.
    private var readsUserID = false
    private let limits: WireLimits
    private var sequence: UInt64 = 0

    /// Wraps `socket`, sets linger 0 and the inbound size limit (§3.2), and on a ROUTER
    /// `ROUTER_MANDATORY` so sends to vanished peers fail at once.
    public init(_ socket: ZMQSocket, sender: String, limits: WireLimits = .default) throws(ZMQError) {
        self.socket = socket
        self.sender = sender
        self.limits = limits
        isRouter = socket.type == .router
        try socket.setOption(.linger, .zero)
        if socket.type != .publisher {
            try socket.setOption(.maximumMessageSize, Int64(limits.maxMessageBytes + 1024))
        }
        if isRouter { try socket.setOption(.routerMandatory, true) }
    }

    /// Creates, configures and binds or connects a socket of `type` to `endpoint`.
    /// `curve`: the CURVE role of the socket (nil: plaintext), set before binding or connecting.
    public convenience init(_ context: ZMQContext, _ type: ZMQSocketType, bind: String? = nil,
                            connect: String? = nil, sender: String, curve: CurveSocketSide? = nil,
                            handshakeLimit: Duration = .seconds(5)) throws(ZMQError) {
        let socket = try ZMQSocket(context, type: type)
        try self.init(socket, sender: sender)
        if let curve {
            try curve.apply(to: socket, handshakeLimit: handshakeLimit)
            if case .server = curve { readsUserID = true }
        }
        if let bind { try socket.bind(bind) }
        if let connect { try socket.connect(connect) }
    }

    /// Encodes `payload` in an envelope with the next sequence number and sends it without
    /// blocking, to `identity` on a ROUTER. Encoding errors are programming errors of the
    /// sender and are thrown; transport drops are results.
    @discardableResult
    public func send(_ payload: Envelope.Payload, to identity: [UInt8] = []) throws -> SendResult {
        let next = sequence + 1
        let bytes = try Envelope(sender: sender, sequence: next, payload: payload).encoded(limits: limits)
        return try send(encoded: bytes, to: identity, sequence: next)
    }

    /// Sends bytes that already hold an envelope numbered with `reserveSequence()`.
    public func send(encoded bytes: [UInt8], to identity: [UInt8] = [], sequence next: UInt64) throws -> SendResult {
        do {
            if isRouter { try socket.send(identity, more: true, timeout: .zero) }
            try socket.send(bytes, timeout: .zero)
        } catch where error.kind == .wouldBlock {
            return .queueFull
        } catch where error.kind == .hostUnreachable {
            return .unreachable
        }
        sequence = max(sequence, next)
        return .sent(sequence: next)
    }

    /// The sequence number the next envelope will carry; for callers that encode once and
    /// send the bytes themselves (a WEIGHTS broadcast).
    public func reserveSequence() -> UInt64 {
        sequence += 1
        return sequence
    }

    /// The next message if one is waiting (nil if none); a message that breaks §3.1 or does
    /// not decode is thrown as a `Rejection` after it was fully read.
    public func receive() throws -> Incoming? {
        let frames: [[UInt8]], userID: String?
        do {
            if readsUserID {
                (frames, userID) = try socket.receiveMultipart(timeout: .zero, property: "User-Id")
            } else {
                (frames, userID) = (try socket.receiveMultipart(timeout: .zero), nil)
            }
        } catch where error.isTimeout {
            return nil
        }
        let expected = isRouter ? 2 : 1
        let identity = isRouter ? frames[0] : []
        guard frames.count == expected else { throw Rejection.wrongFrameCount(identity: identity, frames: frames.count) }
        do {
            return Incoming(identity: identity, envelope: try Envelope(decoding: frames[expected - 1], limits: limits),
                            userID: userID)
        } catch {
            throw Rejection.wire(identity: identity, error)
        }
    }

    /// Closes the socket (linger 0: queued messages are dropped).
    public func close() { try? socket.close() }
}
