import Numerics
import Wire
import XCTest

/// Each rule of each message, violated once: the encoder refuses the value and the decoder
/// refuses the reference encoder's bytes for it, with the same typed error naming the field.
final class MessageValidationTests: XCTestCase {
    private func batch(_ edit: (inout Trajectory) -> Void) -> Envelope.Payload {
        var second = Samples.trajectory(seed: 2)
        edit(&second)
        return .trajectoryBatch(TrajectoryBatch(actorID: "actor-1", batchID: 1,
                                                trajectories: [Samples.trajectory(seed: 1), second]))
    }

    func testTrajectoryRules() {
        let t = "trajectory 1"
        assertRejected(batch { $0.prompt = "" }, .invalidName(what: "prompt of \(t)", problem: .empty))
        assertRejected(batch { $0.safePrompt = "" }, .invalidName(what: "safe prompt of \(t)", problem: .empty))
        assertRejected(batch { $0.prompt = String(repeating: "p", count: 4097) },
                       .tooLarge(what: "prompt of \(t)", size: 4097, limit: 4096))
        assertRejected(batch { $0.timesteps = [] }, .empty(what: "timesteps of \(t)"))
        assertRejected(batch { $0.timesteps = [900, 500, 500] }, .notDecreasing(what: "timesteps of \(t)", index: 2))
        assertRejected(batch { $0.timesteps = [100, 500, 50] }, .notDecreasing(what: "timesteps of \(t)", index: 1))
        assertRejected(batch { $0.latents = Tensor(zeros: [3, 4]) },
                       .invalidShape(what: "latents of \(t)", shape: [3, 4], expected: "(4, D) with D ≥ 1"))
        assertRejected(batch { $0.latents = Tensor(zeros: [4]) },
                       .invalidShape(what: "latents of \(t)", shape: [4], expected: "(4, D) with D ≥ 1"))
        assertRejected(batch { $0.latents = Tensor(zeros: [4, 0]) },
                       .invalidShape(what: "latents of \(t)", shape: [4, 0], expected: "(4, D) with D ≥ 1"))
        assertRejected(batch { $0.latents.data[13] = .nan }, .nonFinite(name: "latents of \(t)", index: 13))
        assertRejected(batch { $0.logProbs.removeLast() }, .countMismatch(what: "log_probs of \(t)", expected: 3, got: 2))
        assertRejected(batch { $0.logProbs[1] = -.infinity }, .nonFinite(name: "log_probs of \(t)", index: 1))
        assertRejected(batch { $0.reward = .nan }, .nonFinite(name: "reward of \(t)", index: 0))
        assertRejected(batch { $0.alignment = .infinity }, .nonFinite(name: "alignment of \(t)", index: 0))
        assertRejected(batch { $0.unsafeProbability = 1.5 },
                       .outOfRange(what: "unsafe probability of \(t)", value: 1.5, allowed: 0...1))
        assertRejected(batch { $0.unsafeProbability = -0.25 },
                       .outOfRange(what: "unsafe probability of \(t)", value: -0.25, allowed: 0...1))
        assertRejected(batch { $0.conceptEta = -1 },
                       .outOfRange(what: "concept eta of \(t)", value: -1, allowed: 0...Double(Float.greatestFiniteMagnitude)))
        assertRejected(batch { $0.conceptEta = .infinity }, .nonFinite(name: "concept eta of \(t)", index: 0))
    }

    func testTrajectoryLimits() {
        assertRejected(batch { _ in }, .tooLarge(what: "timesteps of trajectory 0", size: 3, limit: 2),
                       limits: WireLimits(maxSteps: 2))
        let limits = WireLimits(maxTrajectories: 1)
        let two = Samples.trajectory(steps: 2)
        assertRejected(.trajectoryBatch(TrajectoryBatch(actorID: "a", batchID: 1, trajectories: [two, two])),
                       .tooLarge(what: "trajectories of batch", size: 2, limit: 1), limits: limits)
    }

    func testBatchRules() {
        assertRejected(.trajectoryBatch(TrajectoryBatch(actorID: "a", batchID: 1, trajectories: [])),
                       .empty(what: "trajectories of batch"))
        assertRejected(.trajectoryBatch(TrajectoryBatch(actorID: "", batchID: 1, trajectories: [Samples.trajectory()])),
                       .invalidName(what: "actor id of trajectory batch", problem: .empty))
        assertRejected(.batchAck(BatchAck(batchID: 1, accepted: 0, rejected: 2, reason: "", policyVersion: 3)),
                       .invalidName(what: "reason of batch ack", problem: .empty))
        assertRejected(.batchAck(BatchAck(batchID: 1, accepted: 1000, rejected: 25, reason: "r", policyVersion: 3)),
                       .tooLarge(what: "accepted + rejected of batch ack", size: 1025, limit: 1024))
    }

    /// A trajectory without latents, and a reward request without images, written by hand.
    func testMissingTensorsRejected() {
        let noLatents = envelopeBytes { w in
            w.message(MessageKind.trajectoryBatch.rawValue) { b in
                b.string(1, "a")
                b.message(3) { t in
                    t.string(1, "p"); t.string(2, "q"); t.packedUInt32(5, [10]); t.packedFloats(7, [-1])
                }
            }
        }
        assertDecodeThrows(noLatents, .missingField(what: "latents of trajectory 0"))
        let noImages = envelopeBytes { w in
            w.message(MessageKind.rewardRequest.rawValue) { r in r.uint(1, 4); r.lengthDelimited(3, Array("p".utf8)) }
        }
        assertDecodeThrows(noImages, .missingField(what: "images of reward request"))
    }

    func testRewardRequestRules() {
        func request(_ images: Tensor, _ prompts: [String] = ["a", "b"]) -> Envelope.Payload {
            .rewardRequest(RewardRequest(requestID: 1, images: images, prompts: prompts))
        }
        let what = "images of reward request"
        assertRejected(request(Tensor(zeros: [2, 3, 16, 16])),
                       .invalidShape(what: what, shape: [2, 3, 16, 16], expected: "(B, 3, 32, 32)"))
        assertRejected(request(Tensor(zeros: [3, 32, 32])),
                       .invalidShape(what: what, shape: [3, 32, 32], expected: "(B, 3, 32, 32)"))
        assertRejected(request(Samples.images(0), []), .empty(what: what))
        assertRejected(request(Samples.images(3), ["a", "b", "c"]), .tooLarge(what: what, size: 3, limit: 2),
                       limits: WireLimits(maxImages: 2))
        var images = Samples.images(2)
        images.data[5000] = 1.5
        assertRejected(request(images), .outOfRange(what: "pixel 5000 of \(what)", value: 1.5, allowed: 0...1))
        images.data[5000] = -0.01
        assertRejected(request(images), .outOfRange(what: "pixel 5000 of \(what)", value: Double(Float(-0.01)), allowed: 0...1))
        images.data[5000] = .nan
        assertRejected(request(images), .nonFinite(name: what, index: 5000))
        assertRejected(request(Samples.images(2), ["a"]),
                       .countMismatch(what: "prompts of reward request", expected: 2, got: 1))
        assertRejected(request(Samples.images(2), ["a", ""]),
                       .invalidName(what: "prompt 1 of reward request", problem: .empty))
    }

    func testRewardResultRules() {
        func result(_ r: [Float], _ a: [Float], _ u: [Float]) -> Envelope.Payload {
            .rewardResult(RewardResult(requestID: 1, rewards: r, alignment: a, unsafe: u))
        }
        assertRejected(result([], [], []), .empty(what: "rewards of reward result"))
        assertRejected(result([1, 2], [1], [0, 0]), .countMismatch(what: "alignment of reward result", expected: 2, got: 1))
        assertRejected(result([1, 2], [1, 1], [0]), .countMismatch(what: "unsafe of reward result", expected: 2, got: 1))
        assertRejected(result([1, .nan], [1, 1], [0, 0]), .nonFinite(name: "rewards of reward result", index: 1))
        assertRejected(result([1, 1], [.infinity, 1], [0, 0]), .nonFinite(name: "alignment of reward result", index: 0))
        assertRejected(result([1, 1], [1, 1], [0, 2]),
                       .outOfRange(what: "unsafe 1 of reward result", value: 2, allowed: 0...1))
    }

    func testSessionRules() {
        assertRejected(.hello(Hello(role: .actor, instanceID: "", pid: 1, policyVersion: 0)),
                       .invalidName(what: "instance id of hello", problem: .empty))
        assertRejected(.hello(Hello(role: .actor, instanceID: String(repeating: "i", count: 257), pid: 1, policyVersion: 0)),
                       .tooLarge(what: "instance id of hello", size: 257, limit: 256))
        assertEncodeThrows(Samples.envelope(.hello(Hello(role: .actor, instanceID: "a\u{0}", pid: 1, policyVersion: 0))),
                           .invalidName(what: "instance id of hello", problem: .containsNUL))
        assertRejected(.welcome(Welcome(runID: "", policyVersion: 1)), .invalidName(what: "run id of welcome", problem: .empty))
        assertRejected(.welcome(Welcome(runID: "r", policyVersion: 1, heartbeatIntervalMilliseconds: 0)),
                       .outOfRange(what: "heartbeat interval ms of welcome", value: 0, allowed: 1...Double(UInt32.max)))
        assertRejected(.welcome(Welcome(runID: "r", policyVersion: 1, liveness: 0)),
                       .outOfRange(what: "liveness of welcome", value: 0, allowed: 1...Double(UInt32.max)))
        assertRejected(.ready(Ready(credit: 0)), .outOfRange(what: "credit of ready", value: 0, allowed: 1...Double(UInt32.max)))
        assertRejected(.terminate(Terminate(reason: String(repeating: "r", count: 4097))),
                       .tooLarge(what: "reason of terminate", size: 4097, limit: 4096))
    }

    func testMetricRules() {
        let what = "metrics of stats"
        assertRejected(.stats(Stats(policyVersion: 1, metrics: [Metric(name: "", value: 1)])),
                       .invalidName(what: "name of metric 0 of \(what)", problem: .empty))
        assertRejected(.stats(Stats(policyVersion: 1, metrics: [Metric(name: "kl", value: .nan)])),
                       .nonFinite(name: "metric 'kl' of \(what)", index: 0))
        assertRejected(.stats(Stats(policyVersion: 1, metrics: [Metric(name: "kl", value: 1), Metric(name: "kl", value: 2)])),
                       .duplicateName(what: what, name: "kl"))
        let three = (0..<3).map { Metric(name: "m\($0)", value: 1) }
        assertRejected(.heartbeat(Heartbeat(policyVersion: 1, counters: three)),
                       .tooLarge(what: "counters of heartbeat", size: 3, limit: 2), limits: WireLimits(maxMetrics: 2))
    }

    func testWeightsRules() {
        let tensor = Tensor(shape: [1], data: [1])
        assertRejected(.weights(Weights(version: 0, tensors: [])),
                       .outOfRange(what: "version of weights", value: 0, allowed: 1...Double(UInt64.max)))
        assertRejected(.weights(Weights(version: 1, tensors: [WireTensor(name: "a", tensor: tensor),
                                                              WireTensor(name: "a", tensor: tensor)])),
                       .duplicateName(what: "tensors of weights", name: "a"))
        assertRejected(.weights(Weights(version: 1, tensors: [WireTensor(name: "", tensor: tensor)])),
                       .invalidName(what: "name of tensor 0 of weights", problem: .empty))
        assertRejected(.weights(Weights(version: 1, tensors: [WireTensor(name: "a", tensor: Tensor(shape: [2], data: [1, .nan]))])),
                       .nonFinite(name: "a", index: 1))
        assertRejected(.weights(Weights(version: 1, tensors: [WireTensor(name: "a", tensor: tensor),
                                                              WireTensor(name: "b", tensor: tensor)])),
                       .tooLarge(what: "tensors of weights", size: 2, limit: 1), limits: WireLimits(maxTensors: 1))
    }

    /// Enum numbers outside the defined set (including the unspecified 0) are rejected.
    func testUndefinedEnumValues() {
        for value: Int32 in [0, 5, -1] {
            let hello = envelopeBytes { w in w.message(MessageKind.hello.rawValue) { $0.int32(1, value); $0.string(2, "a") } }
            assertDecodeThrows(hello, .invalidEnum(what: "role of hello", value: value))
        }
        for value: Int32 in [0, 9] {
            let error = envelopeBytes { w in w.message(MessageKind.error.rawValue) { $0.int32(1, value) } }
            assertDecodeThrows(error, .invalidEnum(what: "code of error", value: value))
        }
    }

    func testNewErrorDescriptionsNameTheProblem() {
        let cases: [(WireError, [String])] = [
            (.missingField(what: "latents of trajectory 2"), ["latents of trajectory 2", "missing"]),
            (.empty(what: "trajectories of batch"), ["trajectories of batch", "empty"]),
            (.countMismatch(what: "log_probs of trajectory 3", expected: 10, got: 9), ["log_probs of trajectory 3", "10", "9"]),
            (.invalidShape(what: "images", shape: [2, 3], expected: "(B, 3, 32, 32)"), ["images", "[2, 3]", "(B, 3, 32, 32)"]),
            (.outOfRange(what: "pixel 4", value: 1.5, allowed: 0...1), ["pixel 4", "1.5", "0.0...1.0"]),
            (.notDecreasing(what: "timesteps", index: 2), ["timesteps", "entry 2", "entry 1"]),
            (.duplicateName(what: "tensors of weights", name: "a"), ["tensors of weights", "'a'"]),
            (.invalidEnum(what: "role of hello", value: 7), ["role of hello", "7"]),
            (.checksumMismatch(version: 3, expected: 0xAB, computed: 0x1234_5678),
             ["version 3", "checksum mismatch", "0x000000AB", "0x12345678"]),
        ]
        for (error, parts) in cases {
            for part in parts { XCTAssertTrue(error.description.contains(part), "\(error.description) lacks \(part)") }
        }
    }
}
