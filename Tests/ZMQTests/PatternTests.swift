import XCTest
import ZMQ

final class PatternTests: XCTestCase {
    func testRouterRoutesRepliesByDealerRoutingID() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context, type: .router)
        try router.setOption(.routerMandatory, true)
        let endpoint = try Transport.tcp.bindFresh(router, in: self)
        var dealers: [ZMQSocket] = []
        for name in ["worker-a", "worker-b"] {
            let dealer = try ZMQSocket(context, type: .dealer)
            try dealer.setOption(.routingID, bytes(name))
            try dealer.connect(endpoint)
            try dealer.sendMultipart([[], bytes("hello from \(name)")], timeout: arrival)
            dealers.append(dealer)
        }

        var seen: Set<[UInt8]> = []
        for _ in dealers {
            let message = try router.receiveMultipart(timeout: arrival)
            XCTAssertEqual(message.count, 3)
            let identity = message[0]
            XCTAssertEqual(message[2], bytes("hello from ") + identity)
            seen.insert(identity)
            try router.sendMultipart([identity, [], bytes("reply to ") + identity], timeout: arrival)
        }
        XCTAssertEqual(seen, [bytes("worker-a"), bytes("worker-b")])
        for (dealer, name) in zip(dealers, ["worker-a", "worker-b"]) {
            XCTAssertEqual(try dealer.receiveMultipart(timeout: arrival), [[], bytes("reply to \(name)")])
        }

        let unroutable = zmqError { () throws(ZMQError) in try router.sendMultipart([bytes("nobody"), bytes("x")]) }
        XCTAssertEqual(unroutable?.kind, .hostUnreachable, "\(String(describing: unroutable))")
    }

    func testSubscriberReceivesOnlyItsTopic() throws {
        let context = try ZMQContext()
        let publisher = try ZMQSocket(context, type: .publisher)
        let subscriber = try ZMQSocket(context, type: .subscriber)
        try subscriber.setOption(.subscribe, bytes("weather"))
        try subscriber.connect(try Transport.tcp.bindFresh(publisher, in: self))

        // Slow joiner: the subscription reaches the publisher some time after connect, so keep
        // publishing both topics until the subscribed one comes through.
        var received: [[[UInt8]]] = []
        let deadline = ContinuousClock.now + arrival
        while received.count < 3, ContinuousClock.now < deadline {
            try publisher.sendMultipart([bytes("sports"), bytes("score")])
            try publisher.sendMultipart([bytes("weather"), bytes("rain")])
            if let message = try? subscriber.receiveMultipart(timeout: .milliseconds(20)) {
                received.append(message)
            }
        }
        XCTAssertEqual(received.count, 3, "subscriber got nothing within \(arrival)")
        for message in received {
            XCTAssertEqual(message, [bytes("weather"), bytes("rain")])
        }

        try subscriber.setOption(.unsubscribe, bytes("weather"))
        // Drain what was already in flight, then nothing more may arrive.
        while (try? subscriber.receiveMultipart(timeout: .milliseconds(100))) != nil {}
        try publisher.sendMultipart([bytes("weather"), bytes("sun")])
        XCTAssertTrue(zmqError { () throws(ZMQError) in
            try subscriber.receiveMultipart(timeout: .milliseconds(100))
        }?.isTimeout ?? false)
    }
}
