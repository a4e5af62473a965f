import Foundation
import Numerics
import Runtime
import Wire

/// Timestamps shared by the benchmark's threads: when each version's weights were ready at
/// the learner and when each actor installed them.
final class VersionClock: @unchecked Sendable {
    private let lock = NSLock()
    private var ready: [UInt64: ContinuousClock.Instant] = [:]
    private var installed: [UInt64: [ContinuousClock.Instant]] = [:]

    func markReady(_ version: UInt64) {
        lock.lock(); ready[version] = .now; lock.unlock()
    }

    func markInstalled(_ version: UInt64) {
        lock.lock(); installed[version, default: []].append(.now); lock.unlock()
    }

    /// For each version installed by all `actors`: the time from ready to the last install.
    func latencies(actors: Int) -> [Duration] {
        lock.lock()
        defer { lock.unlock() }
        return ready.keys.sorted().compactMap { version in
            guard let start = ready[version], let ends = installed[version], ends.count >= actors else { return nil }
            return ends.max()! - start
        }
    }
}

/// A learner for transport benchmarks: accepts trajectories of `spec`, and each update only
/// waits `updateTime` and perturbs its `floats` trainable floats (so every version differs).
final class BenchLearner: PolicyLearner {
    let trajectorySpec: TrajectorySpec
    private let updateTime: Duration
    private let clock: VersionClock?
    private var weights: [String: Tensor]
    private var version: UInt64 = 1

    init(steps: Int, latentSize: Int, floats: Int, updateTime: Duration, clock: VersionClock?) {
        trajectorySpec = TrajectorySpec(timesteps: (0..<steps).map { UInt32((steps - $0) * (1000 / steps) - 1) },
                                        latentSize: latentSize)
        self.updateTime = updateTime
        self.clock = clock
        let half = max(floats / 2, 1)
        weights = ["lora.down": Tensor(repeating: 0.01, shape: [half]), "lora.up": Tensor(repeating: 0, shape: [floats - half])]
    }

    var trainable: [String: Tensor] { weights }

    func update(_ trajectories: [Trajectory]) throws -> [String: Double] {
        if updateTime > .zero { Thread.sleep(forTimeInterval: Double(updateTime.components.attoseconds) / 1e18
                                             + Double(updateTime.components.seconds)) }
        version += 1
        weights["lora.up"]!.data[0] = Float(version)
        clock?.markReady(version)
        return ["loss": 0]
    }

    func checkpointState() -> (tensors: [String: Tensor], metadata: [String: String]) { (weights, [:]) }

    func restore(tensors: [String: Tensor], metadata: [String: String]) throws { weights = tensors }
}

/// An actor-side policy for the broadcast benchmark: records when each version is
/// installed and samples tiny trajectories after `sampleTime`.
final class ReplaySampler: PolicySampler {
    private let clock: VersionClock
    private let spec: TrajectorySpec
    private let sampleTime: TimeInterval

    init(clock: VersionClock, spec: TrajectorySpec, sampleTime: TimeInterval) {
        (self.clock, self.spec, self.sampleTime) = (clock, spec, sampleTime)
    }

    func load(trainable: [String: Tensor], version: UInt64) throws { clock.markInstalled(version) }

    func sample(prompts: [String], safePrompts: [String], seeds: [UInt64], version: UInt64)
        -> (trajectories: [Trajectory], images: Tensor) {
        Thread.sleep(forTimeInterval: sampleTime)
        let n = spec.timesteps.count
        let trajectories = prompts.indices.map { i in
            Trajectory(prompt: prompts[i], safePrompt: safePrompts[i], seed: seeds[i], policyVersion: version,
                       timesteps: spec.timesteps, latents: Tensor(zeros: [n + 1, spec.latentSize]),
                       logProbs: [Float](repeating: -1, count: n), reward: 0, alignment: 0, unsafeProbability: 0)
        }
        return (trajectories, Tensor(repeating: 0.5, shape: [prompts.count, 3, 32, 32]))
    }
}

/// A scorer that returns constant scores at once.
final class ConstantScorer: RewardScorer {
    func score(images: Tensor, safePrompts: [String]) -> [RewardScore] {
        Array(repeating: RewardScore(reward: 0.5, alignment: 0.5, unsafe: 0), count: images.shape[0])
    }
}
