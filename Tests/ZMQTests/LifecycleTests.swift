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

final class LifecycleTests: XCTestCase {
    func testClosingSocketsThenContextReturnsPromptly() throws {
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

        let start = ContinuousClock.now
        for socket in [pull, push, orphan] { try socket.close() }
        try context.close()
        try context.close()  // a second close is a no-op
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(1))
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
