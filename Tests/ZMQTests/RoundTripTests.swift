import XCTest
import ZMQ

final class RoundTripTests: XCTestCase {
    func testPushPullOverEveryTransport() throws {
        let context = try ZMQContext()
        for transport in Transport.allCases {
            let pull = try ZMQSocket(context, type: .pull)
            let push = try ZMQSocket(context, type: .push)
            try push.connect(try transport.bindFresh(pull, in: self))
            for index in 0..<3 {
                try push.send(bytes("\(transport) message \(index)"), timeout: arrival)
            }
            for index in 0..<3 {
                XCTAssertEqual(try pull.receive(timeout: arrival), bytes("\(transport) message \(index)"))
            }
        }
    }

    func testRequestReplyOverEveryTransport() throws {
        let context = try ZMQContext()
        for transport in Transport.allCases {
            let reply = try ZMQSocket(context, type: .reply)
            let request = try ZMQSocket(context, type: .request)
            try request.connect(try transport.bindFresh(reply, in: self))
            for round in 0..<2 {
                try request.send(bytes("ping \(round)"), timeout: arrival)
                XCTAssertEqual(try reply.receive(timeout: arrival), bytes("ping \(round)"))
                try reply.send(bytes("pong \(round) over \(transport)"), timeout: arrival)
                XCTAssertEqual(try request.receive(timeout: arrival), bytes("pong \(round) over \(transport)"))
            }
        }
    }

    func testMultipartKeepsEmptyFramesAndAFourMegabyteFrame() throws {
        let context = try ZMQContext()
        // An aperiodic byte pattern, so a dropped, repeated or shifted chunk changes the frame.
        let large = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 11) }
        let frames: [[UInt8]] = [[], bytes("header"), [], large, []]
        for transport in [Transport.inproc, .tcp] {
            let pull = try ZMQSocket(context, type: .pull)
            let push = try ZMQSocket(context, type: .push)
            try push.connect(try transport.bindFresh(pull, in: self))

            let start = ContinuousClock.now
            try push.sendMultipart(frames, timeout: arrival)
            let received = try pull.receiveMultipart(timeout: arrival)
            print("4 MB multipart over \(transport): \(ContinuousClock.now - start)")
            XCTAssertEqual(received.map(\.count), frames.map(\.count))
            XCTAssertEqual(received, frames)

            // The same frame from caller memory, then read part by part.
            try large.withUnsafeBytes { try push.send(bytes: $0, more: true, timeout: arrival) }
            try push.send([], timeout: arrival)
            XCTAssertEqual(try pull.receive(timeout: arrival), large)
            XCTAssertTrue(try pull.hasMore)
            XCTAssertEqual(try pull.receive(timeout: arrival), [])
            XCTAssertFalse(try pull.hasMore)
        }
    }
}
