import Foundation
import ZMQ

/// Wakes an I/O loop from another thread: one byte on an inproc PAIR the loop polls.
///
/// `@unchecked Sendable`: the socket is used under `lock`, so any one thread at a time.
final class Waker: @unchecked Sendable {
    private let lock = NSLock()
    private let socket: ZMQSocket

    /// The sending end, connected to the receiving PAIR bound at `endpoint`.
    init(context: ZMQContext, endpoint: String) throws {
        socket = try ZMQSocket(context, type: .pair)
        try socket.connect(endpoint)
    }

    /// Sends a wake-up byte; a full queue means a wake-up is already pending.
    func wake() {
        lock.lock()
        try? socket.send([1], timeout: .zero)
        lock.unlock()
    }

    /// Closes the socket.
    func close() {
        lock.lock()
        try? socket.close()
        lock.unlock()
    }
}
