import CZeroMQ

/// The readiness a poll asks about and reports (`ZMQ_POLLIN`, `ZMQ_POLLOUT`).
public struct ZMQPollEvents: OptionSet, Sendable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }

    /// A message can be received without blocking.
    public static let readable = ZMQPollEvents(rawValue: Int16(ZMQ_POLLIN))
    /// A message can be sent without blocking.
    public static let writable = ZMQPollEvents(rawValue: Int16(ZMQ_POLLOUT))
}

/// Waits until any of several sockets is ready (`zmq_poll`; the `zmq_poller_*` API is draft-only
/// in libzmq 4.3).
///
/// Holds its sockets strongly; not `Sendable`, like the sockets it polls.
public final class ZMQPoller {
    /// A socket found ready by `poll`, with its registration index and the events that fired.
    public struct Ready {
        /// Position of the socket in registration order (the value `add` returned).
        public let index: Int
        /// The ready socket.
        public let socket: ZMQSocket
        /// The requested events that are ready.
        public let events: ZMQPollEvents
    }

    private var sockets: [ZMQSocket] = []
    private var items: [zmq_pollitem_t] = []

    /// Creates an empty poller.
    public init() {}

    /// Registers `socket` for `events` and returns its index in `Ready.index`.
    @discardableResult
    public func add(_ socket: ZMQSocket, events: ZMQPollEvents = .readable) -> Int {
        sockets.append(socket)
        items.append(zmq_pollitem_t(socket: nil, fd: 0, events: events.rawValue, revents: 0))
        return sockets.count - 1
    }

    /// Waits up to `timeout` (`nil`: forever, `.zero`: just check) and returns the ready sockets,
    /// in registration order; empty when the timeout expired. Throws `ENOTSOCK` if a registered
    /// socket was closed.
    public func poll(timeout: Duration?) throws(ZMQError) -> [Ready] {
        for index in sockets.indices {
            items[index].socket = try sockets[index].liveHandle("zmq_poll (socket \(index))")
            items[index].revents = 0
        }
        let count = items.withUnsafeMutableBufferPointer { buffer in
            zmq_poll(buffer.baseAddress, Int32(buffer.count), zmqPollTimeout(timeout))
        }
        try zmqCheck(count, "zmq_poll(\(sockets.count) sockets)")
        return sockets.indices.compactMap { index in
            let events = ZMQPollEvents(rawValue: items[index].revents).intersection(
                ZMQPollEvents(rawValue: items[index].events))
            return events.isEmpty ? nil : Ready(index: index, socket: sockets[index], events: events)
        }
    }
}

/// Polls one socket handle for `event`; true when it is ready within `timeout`.
func pollOne(
    _ socket: UnsafeMutableRawPointer, event: Int32, timeout: Duration, _ operation: String
) throws(ZMQError) -> Bool {
    var item = zmq_pollitem_t(socket: socket, fd: 0, events: Int16(event), revents: 0)
    let count = zmq_poll(&item, 1, zmqPollTimeout(timeout))
    try zmqCheck(count, "\(operation) (zmq_poll)")
    return count > 0
}

/// `zmq_poll`'s timeout argument: milliseconds, -1 for forever.
func zmqPollTimeout(_ timeout: Duration?) -> Int {
    guard let timeout else { return -1 }
    return Int(timeout.wholeMillisecondsRoundedUp)
}

extension Duration {
    /// The duration in milliseconds, rounded up so a short positive wait never becomes zero
    /// (non-blocking) and clamped to what libzmq's `int` options hold.
    var wholeMillisecondsRoundedUp: Int32 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, self > .zero else { return 0 }
        let fraction = (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        let (milliseconds, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        return overflow ? .max : Int32(clamping: milliseconds + fraction)
    }
}
