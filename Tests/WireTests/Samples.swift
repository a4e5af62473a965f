import Numerics
import Wire

/// Valid messages of every kind, small enough for exhaustive truncation tests.
enum Samples {
    static func trajectory(steps: Int = 3, latentSize: Int = 4, seed: UInt64 = 1) -> Trajectory {
        var rng = RandomGenerator(seed: seed)
        let timesteps = (0..<steps).map { UInt32(999 - 333 * $0) }   // e.g. 999, 666, 333
        return Trajectory(
            prompt: "a photo of a beach", safePrompt: "a photo of a beach, clothed", seed: seed, policyVersion: 4,
            timesteps: timesteps, latents: Tensor(randomNormal: [steps + 1, latentSize], rng: &rng),
            logProbs: (0..<steps).map { _ in -1.5 + rng.nextGaussian() * 0.1 },
            reward: 0.25, alignment: 0.31, unsafeProbability: 0.06, conceptEta: 3)
    }

    static func images(_ count: Int, value: Float = 0.5) -> Tensor {
        Tensor(repeating: value, shape: [count] + RewardRequest.imageShape)
    }

    static func weights(version: UInt64 = 7) -> Weights {
        var rng = RandomGenerator(seed: 9)
        return Weights(version: version, tensors: [
            WireTensor(name: "lora.down", tensor: Tensor(randomNormal: [2, 3], rng: &rng)),
            WireTensor(name: "lora.up", tensor: Tensor(randomNormal: [3, 2], rng: &rng)),
            WireTensor(name: "scale", tensor: Tensor(shape: [], data: [0.5])),
        ])
    }

    /// One valid payload per message kind (the first two are the pre-existing tensor kinds).
    static let payloads: [Envelope.Payload] = [
        .tensor(WireTensor(name: "w", tensor: Tensor(shape: [2], data: [1, -1]))),
        .tensorList([WireTensor(name: "a", tensor: Tensor(shape: [1], data: [3]))]),
        .hello(Hello(role: .actor, instanceID: "actor-3", pid: 4242, policyVersion: 6, configDigest: "sha256:ab12")),
        .welcome(Welcome(runID: "run-1", policyVersion: 7, heartbeatIntervalMilliseconds: 1000, liveness: 3,
                         configDigest: "sha256:ab12", maxInFlightBatches: 4)),
        .heartbeat(Heartbeat(policyVersion: 7, counters: [Metric(name: "trajectories_sent", value: 128)])),
        .trajectoryBatch(TrajectoryBatch(actorID: "actor-3", batchID: 11,
                                         trajectories: [trajectory(seed: 1), trajectory(steps: 1, seed: 2)])),
        .batchAck(BatchAck(batchID: 11, accepted: 1, rejected: 1, reason: "stale: lag 5 > 4", policyVersion: 9)),
        .rewardRequest(RewardRequest(requestID: 5, images: images(2), prompts: ["a dog", "a cat"])),
        .rewardResult(RewardResult(requestID: 5, rewards: [0.2, -0.1], alignment: [0.3, 0.2], unsafe: [0, 1])),
        .weights(weights()),
        .stats(Stats(policyVersion: 7, metrics: [Metric(name: "approx_kl", value: 1e-4),
                                                 Metric(name: "clipfrac", value: 0.125)])),
        .terminate(Terminate(reason: "run finished")),
        .terminateAck(TerminateAck()),
        .ready(Ready(credit: 2)),
        .error(ErrorReport(code: .unexpected, detail: "READY on the control socket", inReplyTo: 3)),
    ]

    static func envelope(_ payload: Envelope.Payload, sequence: UInt64 = 1) -> Envelope {
        Envelope(sender: "peer-1", sequence: sequence, payload: payload)
    }
}
