import Numerics
import Runtime
import Wire
import XCTest

/// A reward worker whose connection outlived a learner restart delivers the result of the old
/// broker's ticket to the new one: it must not be taken for one of the new broker's requests
/// (it scored other images). Found by scripts/chaos.sh: with ticket ids counted from 0 in every
/// life, such results gave trajectories other images' rewards and the run trained backwards.
final class BrokerRestartTests: XCTestCase {
    private struct Sent { let side: RewardBroker.Side; let to: [UInt8]; let payload: Envelope.Payload }

    private func broker(recording sent: @escaping (Sent) -> Void) -> RewardBroker {
        RewardBroker(config: RunConfig(), runID: "test", log: RuntimeLog(name: "test")) { side, to, payload in
            sent(Sent(side: side, to: to, payload: payload))
            return .sent(sequence: 1)
        }
    }

    private func incoming(_ from: String, _ payload: Envelope.Payload) -> EnvelopeSocket.Incoming {
        EnvelopeSocket.Incoming(identity: Array(from.utf8), envelope: Envelope(sender: from, sequence: 1, payload: payload))
    }

    /// One life: worker `w` joins, actor `a` asks for request 1; the ticket id dispatched.
    private func life(_ broker: RewardBroker, sent: () -> [Sent], now: ContinuousClock.Instant) throws -> UInt64 {
        broker.backend(incoming("w", .hello(Hello(role: .rewardWorker, instanceID: "w", pid: 1, policyVersion: 0))), now: now)
        broker.backend(incoming("w", .ready(Ready(credit: 1))), now: now)
        broker.frontend(incoming("a", .rewardRequest(RewardRequest(requestID: 1, images: Tensor(repeating: 0.5, shape: [2, 3, 32, 32]),
                                                                   prompts: ["x", "y"]))), now: now)
        let tickets = sent().compactMap { s -> UInt64? in
            guard s.side == .backend, case let .rewardRequest(r) = s.payload else { return nil }
            return r.requestID
        }
        return try XCTUnwrap(tickets.last)
    }

    func testAResultForThePreviousLifesTicketIsNotTakenForANewRequest() throws {
        let now = ContinuousClock.now
        var first: [Sent] = [], second: [Sent] = []
        let old = broker { first.append($0) }, new = broker { second.append($0) }
        let oldTicket = try life(old, sent: { first }, now: now)
        let newTicket = try life(new, sent: { second }, now: now)
        XCTAssertNotEqual(oldTicket, newTicket, "ticket ids of two broker lives collide")

        // The old life's answer reaches the new broker from a connection it never welcomed.
        let scores: [Float] = [0.9, 0.9]
        new.backend(incoming("stale-connection", .rewardResult(RewardResult(requestID: oldTicket, rewards: scores,
                                                                            alignment: scores, unsafe: scores))), now: now)
        let answered = second.filter { if $0.side == .frontend, case .rewardResult = $0.payload { return true } else { return false } }
        XCTAssertTrue(answered.isEmpty, "the new broker answered request 1 with another request's scores")
        XCTAssertEqual(new.counters.completed, 0)
    }
}
