import CZeroMQ

/// Connection events of a socket (`ZMQ_EVENT_*`), as `zmq_socket_monitor` reports them.
public struct ZMQMonitorEvents: OptionSet, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let connected = Self(rawValue: UInt16(ZMQ_EVENT_CONNECTED))
    public static let accepted = Self(rawValue: UInt16(ZMQ_EVENT_ACCEPTED))
    public static let disconnected = Self(rawValue: UInt16(ZMQ_EVENT_DISCONNECTED))
    public static let closed = Self(rawValue: UInt16(ZMQ_EVENT_CLOSED))
    /// The ZMTP and security handshake completed.
    public static let handshakeSucceeded = Self(rawValue: UInt16(ZMQ_EVENT_HANDSHAKE_SUCCEEDED))
    /// The handshake failed on a protocol error (e.g. a plaintext peer on a CURVE socket).
    public static let handshakeFailedProtocol = Self(rawValue: UInt16(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL))
    /// The handshake failed because the ZAP handler refused (value: its status code, e.g. 400).
    public static let handshakeFailedAuth = Self(rawValue: UInt16(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH))
    /// The handshake failed for a reason libzmq does not detail (e.g. the peer closed).
    public static let handshakeFailedNoDetail = Self(rawValue: UInt16(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL))
    /// Every event.
    public static let all = Self(rawValue: UInt16(truncatingIfNeeded: ZMQ_EVENT_ALL))
}

/// One monitor event: what happened, its value (an fd, errno or ZAP status code) and the endpoint.
public struct ZMQMonitorEvent: Sendable, Equatable {
    public let event: ZMQMonitorEvents
    public let value: UInt32
    public let endpoint: String
}

/// The receiving end of a socket monitor: a PAIR connected to the inproc endpoint libzmq
/// publishes the monitored socket's events on. Used from one thread, like any socket.
public final class ZMQMonitor {
    /// The PAIR socket (for polling).
    public let socket: ZMQSocket

    /// Starts monitoring `monitored` for `events` (`zmq_socket_monitor`) and connects to the feed.
    public init(_ monitored: ZMQSocket, events: ZMQMonitorEvents = .all) throws(ZMQError) {
        let endpoint = "inproc://monitor-\(UInt64.random(in: .min ... .max))"
        let handle = try monitored.liveHandle("zmq_socket_monitor")
        try zmqCheck(zmq_socket_monitor(handle, endpoint, Int32(events.rawValue)), "zmq_socket_monitor(\(endpoint))")
        socket = try ZMQSocket(monitored.context, type: .pair)
        try socket.connect(endpoint)
    }

    /// The next event within `timeout`, or nil; a feed message of the wrong shape throws `EPROTO`.
    public func next(timeout: Duration?) throws(ZMQError) -> ZMQMonitorEvent? {
        let frames: [[UInt8]]
        do { frames = try socket.receiveMultipart(timeout: timeout) } catch where error.isTimeout { return nil }
        // Frame 1: u16 event, u32 value (host byte order); frame 2: the endpoint.
        guard frames.count == 2, frames[0].count == 6 else {
            throw ZMQError(code: EPROTO, operation: "monitor event", message: "unexpected monitor message shape")
        }
        let (event, value) = frames[0].withUnsafeBytes {
            ($0.loadUnaligned(as: UInt16.self), $0.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        }
        return ZMQMonitorEvent(event: ZMQMonitorEvents(rawValue: event), value: value,
                               endpoint: String(decoding: frames[1], as: UTF8.self))
    }

    /// Waits up to `timeout` for an event in `events`, skipping others; nil if none came.
    public func waitFor(_ events: ZMQMonitorEvents, timeout: Duration) throws(ZMQError) -> ZMQMonitorEvent? {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while clock.now < deadline {
            guard let event = try next(timeout: clock.now.duration(to: deadline)) else { return nil }
            if !event.event.isDisjoint(with: events) { return event }
        }
        return nil
    }

    /// Closes the feed socket.
    public func close() { try? socket.close() }
}
