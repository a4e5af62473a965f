import Foundation
import Runtime
import Wire
import XCTest
import ZMQ

/// `limits.*` on a real learner process: a HELLO past a limit gets ERROR(OVERLOADED) and no
/// WELCOME, and the peers within the limits keep being served.
final class LimitsTests: XCTestCase {
    private var run: RunHarness!

    override func tearDown() {
        run?.tearDown()
        super.tearDown()
    }

    private func hello(_ peer: RawPeer, _ role: Role, _ name: String, _ config: RunConfig) throws -> Envelope.Payload {
        try peer.send(.hello(Hello(role: role, instanceID: name, pid: 1, policyVersion: 0, configDigest: config.configDigest)))
        return try peer.receive { payload in
            switch payload {
            case .welcome, .error: return true
            default: return false
            }
        }.envelope.payload
    }

    private func isOverloaded(_ payload: Envelope.Payload, mentioning key: String) -> Bool {
        guard case let .error(report) = payload else { return false }
        return report.code == .overloaded && report.detail.contains(key)
    }

    func testActorsAndWorkersBeyondTheirLimitsAreRefused() throws {
        run = try RunHarness("limits")
        let path = try run.writeConfig("updates: 0\nliveness: 100\nlimits:\n  max_actors: 1\n  max_reward_workers: 1\n")
        let config = try RunConfig.loading(path: path)
        try run.startRole("learner", "learner", config: path)
        let context = try ZMQContext()
        let peers = try [config.endpoints.control, config.endpoints.control, config.endpoints.rewardBackend, config.endpoints.rewardBackend]
            .map { try RawPeer(context, .dealer, connect: $0) }
        defer { for peer in peers { try? peer.socket.close() } }

        guard case .welcome = try hello(peers[0], .actor, "actor-0", config) else { return XCTFail("actor-0 not welcomed") }
        XCTAssertTrue(isOverloaded(try hello(peers[1], .actor, "actor-1", config), mentioning: "limits.max_actors"))
        // The same actor saying HELLO again (a restart) is not a new one.
        guard case .welcome = try hello(peers[1], .actor, "actor-0", config) else { return XCTFail("actor-0's restart refused") }
        guard case .welcome = try hello(peers[2], .rewardWorker, "reward-0", config) else { return XCTFail("reward-0 not welcomed") }
        XCTAssertTrue(isOverloaded(try hello(peers[3], .rewardWorker, "reward-1", config), mentioning: "limits.max_reward_workers"))
    }

    func testHellosBeyondTheRateAreRefused() throws {
        run = try RunHarness("hellorate")
        let path = try run.writeConfig("updates: 0\nliveness: 100\nlimits:\n  max_hellos_per_second: 2\n")
        let config = try RunConfig.loading(path: path)
        try run.startRole("learner", "learner", config: path)
        let context = try ZMQContext()
        let peers = try (0..<12).map { _ in try RawPeer(context, .dealer, connect: config.endpoints.control) }
        defer { for peer in peers { try? peer.socket.close() } }
        // Connected first, then twelve HELLOs at once: only two fit in each second.
        for peer in peers { try peer.send(.heartbeat(Heartbeat(policyVersion: 0))) }
        for peer in peers { _ = try peer.receive { if case .error = $0 { true } else { false } } }
        for (index, peer) in peers.enumerated() {
            try peer.send(.hello(Hello(role: .actor, instanceID: "actor-\(index)", pid: 1, policyVersion: 0,
                                       configDigest: config.configDigest)))
        }
        let answers = try peers.map { peer in
            try peer.receive { payload in
                switch payload {
                case .welcome, .error: return true
                default: return false
                }
            }.envelope.payload
        }
        let refused = answers.filter { isOverloaded($0, mentioning: "limits.max_hellos_per_second") }.count
        let welcomed = answers.filter { if case .welcome = $0 { true } else { false } }.count
        XCTAssertGreaterThanOrEqual(refused, 1, "\(answers.map(\.kind))")
        XCTAssertEqual(refused + welcomed, answers.count, "\(answers.map(\.kind))")
    }
}
