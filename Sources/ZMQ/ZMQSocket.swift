import CZeroMQ

/// A ZeroMQ socket pattern role (`ZMQ_PAIR` ... `ZMQ_XSUB`).
public enum ZMQSocketType: Sendable, CaseIterable {
    case pair, publisher, subscriber, request, reply, dealer, router, push, pull, xpublisher, xsubscriber

    /// The libzmq constant for this type.
    public var rawValue: Int32 {
        switch self {
        case .pair: return ZMQ_PAIR
        case .publisher: return ZMQ_PUB
        case .subscriber: return ZMQ_SUB
        case .request: return ZMQ_REQ
        case .reply: return ZMQ_REP
        case .dealer: return ZMQ_DEALER
        case .router: return ZMQ_ROUTER
        case .push: return ZMQ_PUSH
        case .pull: return ZMQ_PULL
        case .xpublisher: return ZMQ_XPUB
        case .xsubscriber: return ZMQ_XSUB
        }
    }
}

/// Owns one libzmq socket. Sends and receives are in `ZMQSocket+Messages.swift`, options in
/// `ZMQSocketOption.swift`.
///
/// Not `Sendable`: a libzmq socket must be used from one thread, so create it on the thread that
/// uses it (the context is shareable). It holds a strong reference to its context, so the
/// context is never terminated while this socket is open. After `close()` every call throws
/// `ENOTSOCK` (`.notSocket`).
public final class ZMQSocket {
    /// The context this socket was created from, kept alive by the socket.
    public let context: ZMQContext
    /// The pattern role the socket was created with.
    public let type: ZMQSocketType
    private var handle: UnsafeMutableRawPointer?
    // One reusable message for receives, allocated so its address never changes while libzmq
    // holds it (zmq_msg_t must not be moved or copied).
    let message: UnsafeMutablePointer<zmq_msg_t>

    /// Creates a socket of `type` in `context` (`zmq_socket`).
    public init(_ context: ZMQContext, type: ZMQSocketType) throws(ZMQError) {
        self.context = context
        self.type = type
        handle = try context.withHandle("zmq_socket(\(type))") { (ctx) throws(ZMQError) in
            try zmqCheck(zmq_socket(ctx, type.rawValue), "zmq_socket(\(type))")
        }
        message = .allocate(capacity: 1)
    }

    /// True once `close()` has run.
    public var isClosed: Bool { handle == nil }

    /// The live handle, or `ENOTSOCK` naming `operation` when the socket is closed.
    func liveHandle(_ operation: @autoclosure () -> String) throws(ZMQError) -> UnsafeMutableRawPointer {
        guard let handle else {
            throw ZMQError(code: ENOTSOCK, operation: operation(), message: "socket is closed")
        }
        return handle
    }

    /// Accepts connections on `endpoint`, e.g. `tcp://127.0.0.1:*`, `ipc:///tmp/x`, `inproc://name`.
    /// With a `*` port, read the chosen port from `lastEndpoint`.
    public func bind(_ endpoint: String) throws(ZMQError) {
        let socket = try liveHandle("zmq_bind(\"\(endpoint)\")")
        try zmqCheck(zmq_bind(socket, endpoint), "zmq_bind(\"\(endpoint)\")")
    }

    /// Connects to `endpoint`; the connection is made (and remade) in the background.
    public func connect(_ endpoint: String) throws(ZMQError) {
        let socket = try liveHandle("zmq_connect(\"\(endpoint)\")")
        try zmqCheck(zmq_connect(socket, endpoint), "zmq_connect(\"\(endpoint)\")")
    }

    /// Stops accepting on an endpoint previously bound (use the `lastEndpoint` form for `*` ports).
    public func unbind(_ endpoint: String) throws(ZMQError) {
        let socket = try liveHandle("zmq_unbind(\"\(endpoint)\")")
        try zmqCheck(zmq_unbind(socket, endpoint), "zmq_unbind(\"\(endpoint)\")")
    }

    /// Drops the connection to an endpoint previously connected.
    public func disconnect(_ endpoint: String) throws(ZMQError) {
        let socket = try liveHandle("zmq_disconnect(\"\(endpoint)\")")
        try zmqCheck(zmq_disconnect(socket, endpoint), "zmq_disconnect(\"\(endpoint)\")")
    }

    /// The endpoint of the last bind or connect with ports resolved (`ZMQ_LAST_ENDPOINT`),
    /// e.g. `tcp://127.0.0.1:41234` after binding `tcp://127.0.0.1:*`.
    public var lastEndpoint: String {
        get throws(ZMQError) {
            let bytes = try getBytes(ZMQ_LAST_ENDPOINT, name: "ZMQ_LAST_ENDPOINT", capacity: 1024)
            return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// Closes the socket (`zmq_close`). Pending outgoing messages are kept for the socket's
    /// linger time by the context. Closing twice is a no-op.
    public func close() throws(ZMQError) {
        guard let socket = handle else { return }
        handle = nil
        try zmqCheck(zmq_close(socket), "zmq_close")
    }

    deinit {
        if let handle { zmq_close(handle) }
        message.deallocate()
    }
}
