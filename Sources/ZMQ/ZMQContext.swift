import CZeroMQ
import Foundation

/// Owns one libzmq context (`zmq_ctx_new`): the I/O threads and the factory for sockets.
///
/// `@unchecked Sendable` because libzmq contexts are thread-safe, and the only mutable Swift
/// state, the handle, is read and cleared under `lock`. Share one context between threads and
/// create each thread's sockets from it on that thread.
///
/// New sockets get `ZMQ_LINGER` 0 (the context is created with `ZMQ_BLOCKY` off), so terminating
/// the context drops unsent messages instead of waiting forever for an absent peer; set
/// `.linger` on a socket that must flush.
public final class ZMQContext: @unchecked Sendable {
    private let lock = NSLock()
    private var handle: UnsafeMutableRawPointer?

    /// Creates a context with `ioThreads` background I/O threads.
    public init(ioThreads: Int = 1) throws(ZMQError) {
        let context = try zmqCheck(zmq_ctx_new(), "zmq_ctx_new")
        do {
            try zmqCheck(zmq_ctx_set(context, ZMQ_IO_THREADS, Int32(clamping: ioThreads)),
                         "zmq_ctx_set(ZMQ_IO_THREADS, \(ioThreads))")
            try zmqCheck(zmq_ctx_set(context, ZMQ_BLOCKY, 0), "zmq_ctx_set(ZMQ_BLOCKY, 0)")
        } catch {
            zmq_ctx_term(context)
            throw error
        }
        handle = context
    }

    /// True once `close()` has run; no new sockets can be created then.
    public var isClosed: Bool {
        lock.lock()
        defer { lock.unlock() }
        return handle == nil
    }

    /// Runs `body` with the live context handle, under the lock so `close()` cannot free it meanwhile.
    func withHandle<R>(
        _ operation: @autoclosure () -> String,
        _ body: (UnsafeMutableRawPointer) throws(ZMQError) -> R
    ) throws(ZMQError) -> R {
        lock.lock()
        defer { lock.unlock() }
        guard let handle else {
            throw ZMQError(code: zmqETERM, operation: operation(), message: "context is closed")
        }
        return try body(handle)
    }

    /// Makes every blocking call on this context's sockets, in any thread, fail with `ETERM`
    /// (`zmq_ctx_shutdown`), so their owners close them. Does not wait; call `close()` afterwards.
    public func shutdown() throws(ZMQError) {
        try withHandle("zmq_ctx_shutdown") { (context) throws(ZMQError) in
            _ = try zmqCheck(zmq_ctx_shutdown(context), "zmq_ctx_shutdown")
        }
    }

    /// Terminates the context (`zmq_ctx_term`). Blocks until every socket created from it is
    /// closed: sockets keep their context alive, so this only waits when sockets are still open
    /// in other threads (use `shutdown()` first to wake them). Closing twice is a no-op.
    public func close() throws(ZMQError) {
        lock.lock()
        let context = handle
        handle = nil
        lock.unlock()
        guard let context else { return }
        try Self.terminate(context)
    }

    /// `zmq_ctx_term`, retried when a signal interrupts it (as its manual asks).
    private static func terminate(_ context: UnsafeMutableRawPointer) throws(ZMQError) {
        while true {
            do {
                try zmqCheck(zmq_ctx_term(context), "zmq_ctx_term")
                return
            } catch where error.isInterrupted {
                continue
            }
        }
    }

    deinit {
        // Every socket holds its context, so none is open here and termination cannot block.
        if let handle { try? Self.terminate(handle) }
    }
}
