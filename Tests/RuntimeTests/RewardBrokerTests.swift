import Numerics
import Runtime
import Wire
import XCTest

/// The broker state machine driven message by message (PROTOCOL.md §5.3), its sends recorded.
final class RewardBrokerTests: XCTestCase {
    private var sent: [(side: RewardBroker.Side, to: [UInt8], payload: Envelope.Payload, sequence: UInt64)] = []
    private var unreachable: Set<[UInt8]> = []
    private var broker: RewardBroker!
    private var now = ContinuousClock.now
    private var sequence: UInt64 = 0

    override func setUp() {
        var config = RunConfig()
        config.rewardQueueLimit = 3
        broker = RewardBroker(config: config, runID: "test", log: RuntimeLog(name: "test")) { [unowned self] side, to, payload in
            if unreachable.contains(to) { return .unreachable }
            sequence += 1
            sent.append((side, to, payload, sequence))
            return .sent(sequence: sequence)
        }
    }

    private func incoming(_ from: String, _ payload: Envelope.Payload, sequence: UInt64 = 1) -> EnvelopeSocket.Incoming {
        EnvelopeSocket.Incoming(identity: Array(from.utf8), envelope: Envelope(sender: from, sequence: sequence, payload: payload))
    }

    private func join(_ worker: String, credit: UInt32 = 1) {
        broker.backend(incoming(worker, .hello(Hello(role: .rewardWorker, instanceID: worker, pid: 1, policyVersion: 0))), now: now)
        broker.backend(incoming(worker, .ready(Ready(credit: credit))), now: now)
    }

    private func request(_ actor: String, _ id: UInt64, images: Int = 2) {
        let request = RewardRequest(requestID: id, images: Tensor(repeating: 0.5, shape: [images, 3, 32, 32]),
                                    prompts: Array(repeating: "a red circle", count: images))
        broker.frontend(incoming(actor, .rewardRequest(request), sequence: id), now: now)
    }

    /// Tickets dispatched to `worker`, with the sequence of their REWARD_REQUEST.
    private func dispatched(to worker: String) -> [(ticket: UInt64, sequence: UInt64)] {
        sent.compactMap {
            guard $0.side == .backend, $0.to == Array(worker.utf8), case let .rewardRequest(r) = $0.payload else { return nil }
            return (r.requestID, $0.sequence)
        }
    }

    private func results(to actor: String) -> [UInt64] {
        sent.compactMap {
            guard $0.side == .frontend, $0.to == Array(actor.utf8), case let .rewardResult(r) = $0.payload else { return nil }
            return r.requestID
        }
    }

    private func answer(_ worker: String, ticket: UInt64, count: Int = 2) {
        let scores = [Float](repeating: 0.25, count: count)
        broker.backend(incoming(worker, .rewardResult(RewardResult(requestID: ticket, rewards: scores, alignment: scores,
                                                                   unsafe: scores))), now: now)
    }

    func testDispatchesLeastRecentlyUsedWorkerAndRoutesResultsBack() {
        join("w1")
        join("w2")
        request("a1", 10)
        request("a2", 20)
        XCTAssertEqual(dispatched(to: "w1").count + dispatched(to: "w2").count, 2)
        XCTAssertEqual(dispatched(to: "w1").count, 1, "one each: credit 1 per worker")
        let t1 = dispatched(to: "w1")[0].ticket, t2 = dispatched(to: "w2")[0].ticket
        answer("w1", ticket: t1)
        answer("w2", ticket: t2)
        XCTAssertEqual(Set(results(to: "a1") + results(to: "a2")), [10, 20])
        XCTAssertEqual(broker.counters.completed, 2)
    }

    func testDeadWorkerTicketsAreRedispatchedAndLateDuplicatesDropped() {
        join("w1")
        request("a1", 1)
        let ticket = dispatched(to: "w1")[0].ticket
        join("w2")
        // w1 falls silent past liveness × interval (3 s by default); w2 keeps talking.
        now += .seconds(4)
        broker.backend(incoming("w2", .heartbeat(Heartbeat(policyVersion: 0))), now: now)
        broker.tick(now: now)
        XCTAssertEqual(broker.counters.workerDeaths, 1)
        XCTAssertEqual(dispatched(to: "w2").map(\.ticket), [ticket], "w1's ticket goes to w2")
        answer("w2", ticket: ticket)
        XCTAssertEqual(results(to: "a1"), [1])
        // w1 was only slow: its late result is dropped, and it is told to say HELLO again.
        answer("w1", ticket: ticket)
        XCTAssertEqual(results(to: "a1"), [1])
        XCTAssertEqual(broker.counters.duplicateResults, 1)
        XCTAssertTrue(sent.contains {
            if case let .error(e) = $0.payload { $0.to == Array("w1".utf8) && e.code == .notWelcomed } else { false }
        })
    }

    func testResentRequestIsNotDoubledAndFullQueueOverloads() {
        request("a1", 1)
        request("a1", 1)
        XCTAssertEqual(broker.counters.duplicateRequests, 1)
        request("a1", 2)
        request("a1", 3)
        request("a1", 4)
        XCTAssertEqual(broker.queued, 3)
        XCTAssertTrue(sent.contains {
            if case let .error(e) = $0.payload { $0.side == .frontend && e.code == .overloaded && e.inReplyTo == 4 } else { false }
        })
    }

    func testFailedTicketIsRetriedOnAnotherWorkerThenGivenUp() {
        join("w1")
        join("w2")
        request("a1", 5)
        for attempt in 1...3 {
            let holder = sent.last { if case .rewardRequest = $0.payload { true } else { false } }!
            let worker = String(decoding: holder.to, as: UTF8.self)
            broker.backend(incoming(worker, .error(ErrorReport(code: .internal, detail: "boom", inReplyTo: holder.sequence))),
                           now: now)
            if attempt < 3 {
                let next = sent.last { if case .rewardRequest = $0.payload { true } else { false } }!
                XCTAssertNotEqual(next.to, holder.to, "retried on the other worker")
            }
        }
        XCTAssertEqual(broker.counters.failed, 1)
        XCTAssertTrue(sent.contains {
            if case let .error(e) = $0.payload { $0.to == Array("a1".utf8) && e.code == .internal } else { false }
        })
    }

    func testResultOfWrongLengthIsRetried() {
        join("w1")
        request("a1", 9, images: 3)
        let ticket = dispatched(to: "w1")[0].ticket
        answer("w1", ticket: ticket, count: 2)
        XCTAssertEqual(results(to: "a1"), [])
        XCTAssertEqual(dispatched(to: "w1").map(\.ticket), [ticket, ticket])
        answer("w1", ticket: ticket, count: 3)
        XCTAssertEqual(results(to: "a1"), [9])
    }
}
