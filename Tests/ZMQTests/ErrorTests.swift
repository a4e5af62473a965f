import Foundation
import XCTest
import ZMQ

final class ErrorTests: XCTestCase {
    func testReceiveTimeoutIsWouldBlockWithinBound() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context, type: .pull)
        _ = try Transport.inproc.bindFresh(pull, in: self)

        let start = ContinuousClock.now
        let timedOut = zmqError { () throws(ZMQError) in try pull.receive(timeout: .milliseconds(200)) }
        let elapsed = ContinuousClock.now - start
        print("receive(timeout: 200 ms) gave up after \(elapsed): \(String(describing: timedOut))")
        XCTAssertEqual(timedOut?.code, EAGAIN)
        XCTAssertEqual(timedOut?.kind, .wouldBlock)
        XCTAssertTrue(timedOut?.isTimeout ?? false)
        XCTAssertFalse(timedOut?.isInterrupted ?? true)
        // It waited (a lower bound only: a loaded machine may wait longer without any defect).
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(190))

        XCTAssertTrue(zmqError { () throws(ZMQError) in try pull.receive(timeout: .zero) }?.isTimeout ?? false)

        // The socket-wide receive timeout applies when a call passes no timeout.
        try pull.setOption(.receiveTimeout, .milliseconds(100))
        XCTAssertTrue(zmqError { () throws(ZMQError) in try pull.receiveMultipart() }?.isTimeout ?? false)
    }

    func testMalformedEndpointKeepsEINVALAndNamesTheEndpoint() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context, type: .push)
        let malformed = zmqError { () throws(ZMQError) in try socket.connect("not-an-endpoint") }
        XCTAssertEqual(malformed?.code, EINVAL)
        XCTAssertEqual(malformed?.kind, .invalidArgument)
        XCTAssertTrue(malformed?.description.contains("not-an-endpoint") ?? false, "\(String(describing: malformed))")

        let unknown = zmqError { () throws(ZMQError) in try socket.connect("bogus://somewhere") }
        XCTAssertEqual(unknown?.kind, .protocolNotSupported, "\(String(describing: unknown))")
    }

    func testBindingTheSameTCPEndpointTwiceGivesEADDRINUSE() throws {
        let context = try ZMQContext()
        let first = try ZMQSocket(context, type: .pull)
        let endpoint = try Transport.tcp.bindFresh(first, in: self)
        let second = try ZMQSocket(context, type: .pull)
        let error = zmqError { () throws(ZMQError) in try second.bind(endpoint) }
        XCTAssertEqual(error?.code, EADDRINUSE)
        XCTAssertEqual(error?.kind, .addressInUse)
    }

    func testClosedSocketThrowsNotSocket() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context, type: .pair)
        try socket.close()
        XCTAssertTrue(socket.isClosed)
        try socket.close()  // a second close is a no-op

        let calls: [(String, () throws(ZMQError) -> Void)] = [
            ("send", { () throws(ZMQError) in try socket.send(bytes("x")) }),
            ("receive", { () throws(ZMQError) in _ = try socket.receive(timeout: .zero) }),
            ("bind", { () throws(ZMQError) in try socket.bind("inproc://closed") }),
            ("option", { () throws(ZMQError) in _ = try socket.option(.linger) }),
            ("poll", { () throws(ZMQError) in
                let poller = ZMQPoller()
                poller.add(socket)
                _ = try poller.poll(timeout: .zero)
            }),
        ]
        for (name, call) in calls {
            XCTAssertEqual(zmqError(call)?.kind, .notSocket, name)
        }
    }

    func testRequestSendingTwiceIsWrongState() throws {
        let context = try ZMQContext()
        let request = try ZMQSocket(context, type: .request)
        let reply = try ZMQSocket(context, type: .reply)
        try request.connect(try Transport.inproc.bindFresh(reply, in: self))
        try request.send(bytes("first"), timeout: arrival)
        let error = zmqError { () throws(ZMQError) in try request.send(bytes("second"), timeout: arrival) }
        XCTAssertEqual(error?.kind, .wrongState, "\(String(describing: error))")
    }

    func testClosedContextRefusesNewSockets() throws {
        let context = try ZMQContext()
        try context.close()
        XCTAssertTrue(context.isClosed)
        let error = zmqError { () throws(ZMQError) in try ZMQSocket(context, type: .pair) }
        XCTAssertTrue(error?.isContextTerminated ?? false, "\(String(describing: error))")
    }
}
