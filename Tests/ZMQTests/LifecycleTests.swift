import Foundation
import XCTest
import ZMQ

/// A value handed from a worker thread back to the test, guarded by a lock.
private final class Handoff<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value?
    let done = DispatchSemaphore(value: 0)

    func finish(_ value: Value) {
        lock.withLock { stored = value }
        done.signal()
    }

    var value: Value? { lock.withLock { stored } }
}

/// A context and its sockets handed whole to the thread that closes them (the test thread
/// no longer touches them).
private final class Owned: @unchecked Sendable {
    let context: ZMQContext
    let sockets: [ZMQSocket]
    init(context: ZMQContext, sockets: [ZMQSocket]) { (self.context, self.sockets) = (context, sockets) }
}

final class LifecycleTests: XCTestCase {
    /// Closing with a message queued for a peer that never appears must not block (linger
    /// 0): the close runs on a thread the test waits for, so a hang fails instead of stalling.
    func testClosingSocketsThenContextDoesNotWaitForAnUndeliveredMessage() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context, type: .pull)
        let push = try ZMQSocket(context, type: .push)
        try push.connect(try Transport.tcp.bindFresh(pull, in: self))
        try push.send(bytes("delivered"), timeout: arrival)
        XCTAssertEqual(try pull.receive(timeout: arrival), bytes("delivered"))
        // Queued for a peer that never appears: must not hold up termination.
        let orphan = try ZMQSocket(context, type: .push)
        try orphan.connect("tcp://127.0.0.1:1")
        try orphan.send(bytes("never delivered"), timeout: .zero)

        let closed = Handoff<Bool>()
        let owned = Owned(context: context, sockets: [pull, push, orphan])
        Thread {
            do {
                for socket in owned.sockets { try socket.close() }
                try owned.context.close()
                try owned.context.close()  // a second close is a no-op
                closed.finish(true)
            } catch {
                XCTFail("close failed: \(error)")
                closed.finish(false)
            }
        }.start()
        XCTAssertEqual(closed.done.wait(timeout: .now() + 30), .success, "closing the context waited for the undelivered message")
        XCTAssertEqual(closed.value, true)
    }

    func testDroppingAllReferencesTerminatesTheContext() throws {
        let outcome = Handoff<Bool>()
        let thread = Thread {
            weak var weakContext: ZMQContext?
            do {
                let context = try ZMQContext()
                weakContext = context
                let orphan = try ZMQSocket(context, type: .dealer)
                try orphan.connect("tcp://127.0.0.1:1")
                try orphan.send(bytes("pending at deinit"), timeout: .zero)
            } catch {
                XCTFail("setup failed: \(error)")
            }
            outcome.finish(weakContext == nil)
        }
        thread.start()
        XCTAssertEqual(outcome.done.wait(timeout: .now() + 5), .success, "context deinit hung")
        XCTAssertEqual(outcome.value, true, "context outlived its last socket")
    }

    func testShutdownWakesABlockedReceiveInAnotherThread() throws {
        let context = try ZMQContext()
        let endpoint = "inproc://shutdown-\(UUID().uuidString)"
        let bound = DispatchSemaphore(value: 0)
        let outcome = Handoff<ZMQError>()
        let thread = Thread {
            do {
                let pull = try ZMQSocket(context, type: .pull)
                try pull.bind(endpoint)
                bound.signal()
                _ = try pull.receive()  // blocks until the context shuts down
                XCTFail("receive returned a message nobody sent")
            } catch {
                outcome.finish(error as! ZMQError)
            }
        }
        thread.start()
        bound.wait()
        Thread.sleep(forTimeInterval: 0.05)
        try context.shutdown()
        XCTAssertEqual(outcome.done.wait(timeout: .now() + 5), .success, "receive did not wake")
        XCTAssertTrue(outcome.value?.isContextTerminated ?? false, "\(String(describing: outcome.value))")
        try context.close()  // the worker's socket is gone, so this returns
    }

    func testLibraryVersionIsTheInstalledFourThree() {
        let version = ZMQLibrary.version
        print("libzmq \(version)")
        XCTAssertGreaterThanOrEqual(version, ZMQVersion(major: 4, minor: 3, patch: 0))
        XCTAssertLessThan(version, ZMQVersion(major: 5, minor: 0, patch: 0))
        XCTAssertEqual(version.description, "\(version.major).\(version.minor).\(version.patch)")
    }
}
