import XCTest
import ZMQ

final class PollerTests: XCTestCase {
    func testPollerReportsTheReadableSocketAmongSeveral() throws {
        let context = try ZMQContext()
        let poller = ZMQPoller()
        var pushes: [ZMQSocket] = []
        var pulls: [ZMQSocket] = []
        for _ in 0..<3 {
            let pull = try ZMQSocket(context, type: .pull)
            let push = try ZMQSocket(context, type: .push)
            try push.connect(try Transport.tcp.bindFresh(pull, in: self))
            XCTAssertEqual(poller.add(pull), pulls.count)
            pulls.append(pull)
            pushes.append(push)
        }
        XCTAssertTrue(try poller.poll(timeout: .zero).isEmpty)

        try pushes[1].send(bytes("for the middle one"), timeout: arrival)
        let ready = try poller.poll(timeout: arrival)
        XCTAssertEqual(ready.map(\.index), [1])
        XCTAssertEqual(ready.first?.events, .readable)
        XCTAssertTrue(ready.first?.socket === pulls[1])
        XCTAssertEqual(try pulls[1].receive(timeout: .zero), bytes("for the middle one"))

        let start = ContinuousClock.now
        XCTAssertTrue(try poller.poll(timeout: .milliseconds(100)).isEmpty)
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(90))
    }

    func testPollerReportsWritability() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context, type: .pull)
        let connected = try ZMQSocket(context, type: .push)
        try connected.connect(try Transport.inproc.bindFresh(pull, in: self))
        let unconnected = try ZMQSocket(context, type: .push)  // no peer: nowhere to queue

        let poller = ZMQPoller()
        poller.add(unconnected, events: .writable)
        poller.add(connected, events: [.readable, .writable])
        let ready = try poller.poll(timeout: arrival)
        XCTAssertEqual(ready.map(\.index), [1])
        XCTAssertEqual(ready.first?.events, .writable)
    }
}
