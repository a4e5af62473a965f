import Foundation
import Numerics
import Runtime
import Wire
import XCTest
import ZMQ

/// A test's own end of a runtime socket: raw frames and envelopes, no runtime code, so
/// tests can send what a correct peer never would.
final class RawPeer {
    let socket: ZMQSocket
    let isRouter: Bool
    private var sequence: UInt64 = 0

    /// A DEALER connected to, or a ROUTER bound at, `endpoint`.
    init(_ context: ZMQContext, _ type: ZMQSocketType, connect: String? = nil, bind: String? = nil) throws {
        socket = try ZMQSocket(context, type: type)
        isRouter = type == .router
        try socket.setOption(.linger, .zero)
        if let connect { try socket.connect(connect) }
        if let bind { try socket.bind(bind) }
    }

    /// Sends `payload` in a valid envelope (to `identity` on a ROUTER).
    func send(_ payload: Envelope.Payload, to identity: [UInt8] = [], sender: String = "test") throws {
        sequence += 1
        try sendFrames([try Envelope(sender: sender, sequence: sequence, payload: payload).encoded()], to: identity)
    }

    /// Sends raw frames as one message (after the identity frame on a ROUTER).
    func sendFrames(_ frames: [[UInt8]], to identity: [UInt8] = []) throws {
        try socket.sendMultipart((isRouter ? [identity] : []) + frames, timeout: .seconds(5))
    }

    /// The next envelope (with the identity on a ROUTER) whose payload `accept`s, skipping
    /// others; fails after `timeout`.
    func receive(timeout: Duration = .seconds(10), file: StaticString = #filePath, line: UInt = #line,
                 where accept: (Envelope.Payload) -> Bool = { _ in true }) throws -> (identity: [UInt8], envelope: Envelope) {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let frames = try? socket.receiveMultipart(timeout: .milliseconds(50)) else { continue }
            let envelope = try Envelope(decoding: frames.last!)
            if accept(envelope.payload) { return (isRouter ? frames[0] : [], envelope) }
        }
        XCTFail("no matching message within \(timeout)", file: file, line: line)
        throw RuntimeError("timeout")
    }
}

/// Bytes a correct peer never sends, each labelled.
enum BadBytes {
    /// Random bytes after a first byte with the invalid wire type 7, so they can never parse.
    static func random(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = RandomGenerator(seed: seed)
        return [0x0F] + (1..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    /// A valid envelope cut in half.
    static func truncated(_ payload: Envelope.Payload) throws -> [UInt8] {
        let bytes = try Envelope(sender: "test", sequence: 1, payload: payload).encoded()
        return Array(bytes.prefix(bytes.count / 2))
    }

    /// A valid envelope whose protocol_version (field 1, encoded first by protobuf-c) is 2.
    static func versionTwo(_ payload: Envelope.Payload) throws -> [UInt8] {
        var bytes = try Envelope(sender: "test", sequence: 1, payload: payload).encoded()
        precondition(bytes[0] == 0x08 && bytes[1] == 0x01, "protocol_version is not the first field")
        bytes[1] = 0x02
        return bytes
    }

    /// Version 1, sender "x", sequence 1, and only payload field 40 (unknown to this build).
    static let unknownKind: [UInt8] = [0x08, 0x01, 0x12, 0x01, 0x78, 0x18, 0x01, 0xC2, 0x02, 0x00]
}

/// Valid trajectories of the test policy, rewarded by its scorer.
func testTrajectories(_ config: RunConfig, count: Int, version: UInt64, seed: UInt64) -> [Trajectory] {
    let sampler = TestLinearSampler(config: config)
    let prompts = (0..<count).map { "a large red circle on the left on a gray background \($0 % 3)" }
    let (sampled, images) = sampler.sample(prompts: prompts, safePrompts: prompts,
                                                seeds: (0..<count).map { seed + UInt64($0) }, version: version)
    let scores = TestLinearScorer(config: config).score(images: images, safePrompts: prompts)
    var trajectories = sampled
    for i in trajectories.indices {
        trajectories[i].reward = scores[i].reward
        trajectories[i].alignment = scores[i].alignment
        trajectories[i].unsafeProbability = scores[i].unsafe
    }
    return trajectories
}
