import XCTest
import ZMQ

final class OptionTests: XCTestCase {
    func testOptionsReadBackWhatWasSet() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context, type: .dealer)
        XCTAssertEqual(try socket.option(.linger), .zero, "the context should make sockets non-lingering")

        try socket.setOption(.reconnectInterval, .milliseconds(250))
        try socket.setOption(.reconnectIntervalMax, .seconds(2))
        try socket.setOption(.heartbeatInterval, .milliseconds(300))
        try socket.setOption(.heartbeatTimeout, .milliseconds(900))
        try socket.setOption(.heartbeatTTL, .milliseconds(1500))  // libzmq keeps tenths of a second
        try socket.setOption(.sendHighWaterMark, 17)
        try socket.setOption(.receiveHighWaterMark, 19)
        try socket.setOption(.linger, .milliseconds(5))
        try socket.setOption(.sendTimeout, nil)
        try socket.setOption(.receiveTimeout, .microseconds(1))  // rounds up, never to "don't wait"
        try socket.setOption(.maximumMessageSize, 1 << 20)
        try socket.setOption(.immediate, true)
        try socket.setOption(.conflate, true)
        try socket.setOption(.routingID, bytes("worker-7"))

        XCTAssertEqual(try socket.option(.reconnectInterval), .milliseconds(250))
        XCTAssertEqual(try socket.option(.reconnectIntervalMax), .seconds(2))
        XCTAssertEqual(try socket.option(.heartbeatInterval), .milliseconds(300))
        XCTAssertEqual(try socket.option(.heartbeatTimeout), .milliseconds(900))
        XCTAssertEqual(try socket.option(.heartbeatTTL), .milliseconds(1500))
        XCTAssertEqual(try socket.option(.sendHighWaterMark), 17)
        XCTAssertEqual(try socket.option(.receiveHighWaterMark), 19)
        XCTAssertEqual(try socket.option(.linger), .milliseconds(5))
        XCTAssertNil(try socket.option(.sendTimeout))
        XCTAssertEqual(try socket.option(.receiveTimeout), .milliseconds(1))
        XCTAssertEqual(try socket.option(.maximumMessageSize), 1 << 20)
        XCTAssertTrue(try socket.option(.immediate))
        XCTAssertTrue(try socket.option(.conflate))
        XCTAssertEqual(try socket.option(.routingID), bytes("worker-7"))

        try socket.setOption(.reconnectInterval, nil)
        XCTAssertNil(try socket.option(.reconnectInterval))
        try socket.setOption(.maximumMessageSize, nil)
        XCTAssertNil(try socket.option(.maximumMessageSize))
    }

    func testInvalidOptionValueKeepsEINVAL() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context, type: .dealer)
        let empty = zmqError { () throws(ZMQError) in try socket.setOption(.routingID, []) }
        XCTAssertEqual(empty?.kind, .invalidArgument)
        XCTAssertTrue(empty?.description.contains("ZMQ_ROUTING_ID") ?? false, "\(String(describing: empty))")
        let writeOnly = zmqError { () throws(ZMQError) in try socket.option(.subscribe) }
        XCTAssertEqual(writeOnly?.kind, .invalidArgument)
    }

    func testMessageOverMaximumSizeIsDropped() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context, type: .pull)
        try pull.setOption(.maximumMessageSize, 1024)
        let push = try ZMQSocket(context, type: .push)
        try push.connect(try Transport.tcp.bindFresh(pull, in: self))

        let small = [UInt8](repeating: 1, count: 1024)
        try push.send(small, timeout: arrival)
        XCTAssertEqual(try pull.receive(timeout: arrival), small)

        try push.send([UInt8](repeating: 2, count: 1025), timeout: arrival)
        let dropped = zmqError { () throws(ZMQError) in try pull.receive(timeout: .milliseconds(300)) }
        XCTAssertTrue(dropped?.isTimeout ?? false, "oversized message was not dropped: \(String(describing: dropped))")
    }
}
