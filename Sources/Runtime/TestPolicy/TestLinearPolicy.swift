import Foundation
import Numerics
import Wire

/// The protocol-conformance policy of the runtime tests and benchmarks (`model: test-linear`):
/// a linear-Gaussian policy over a D-float latent whose log-probs and PPO update are real
/// math, so the runtime can be exercised end to end without the diffusion model. Never the
/// default model.
///
/// One step: x' = μ + σ·z with μ = scale ⊙ x + shift, z ~ N(0, I), σ = 0.5·η;
/// log π = mean over the D elements of [−(x' − μ)²/(2σ²) − log σ − ½ log 2π], as the
/// diffusion policy's step (ALGORITHM.md). Timesteps are N evenly spaced values below 1000.
public struct TestLinearPolicy: Sendable {
    /// Latent floats D.
    public let latentSize: Int
    /// Steps N per trajectory.
    public let steps: Int
    /// Step noise σ.
    public let sigma: Float

    /// Names of the two trainable vectors, each (D).
    public static let scaleName = "linear.scale", shiftName = "linear.shift"

    /// The policy with `config`'s latent size, step count and η.
    public init(config: RunConfig) {
        latentSize = config.hyperparameters.latentSize
        steps = config.hyperparameters.steps
        sigma = Float(max(config.hyperparameters.eta, 0.02) * 0.5)
    }

    /// t_N > … > t_1: N evenly spaced values below 1000.
    public var timesteps: [UInt32] { (0..<steps).map { UInt32((steps - $0) * (1000 / steps) - 1) } }

    /// The initial trainable parameters (version 1), drawn from `seed`.
    public func initialParameters(seed: UInt64) -> [String: Tensor] {
        var rng = RandomGenerator(seed: seed).split(0x7E57)
        let shift = (0..<latentSize).map { _ in 0.05 * rng.nextGaussian() }
        return [Self.scaleName: Tensor(repeating: 0.9, shape: [latentSize]),
                Self.shiftName: Tensor(shape: [latentSize], data: shift)]
    }

    /// log π(next | x) for μ = scale ⊙ x + shift; `next`, `x`: (D).
    func logProb(next: UnsafeBufferPointer<Float>, x: UnsafeBufferPointer<Float>,
                 scale: [Float], shift: [Float]) -> Float {
        var sum = 0.0
        for j in 0..<latentSize {
            let d = Double(next[j] - (scale[j] * x[j] + shift[j]))
            sum += d * d
        }
        let s = Double(sigma)
        return Float(-sum / (2 * s * s * Double(latentSize)) - log(s) - 0.5 * log(2 * Double.pi))
    }

    /// The (3, 32, 32) image of a final latent x_0 (D): pixel p is sigmoid(x_0[p mod D]).
    static func pixels(finalLatent x: ArraySlice<Float>) -> [Float] {
        (0..<(3 * 32 * 32)).map { 1 / (1 + exp(-x[x.startIndex + $0 % x.count])) }
    }

    /// The trajectories this policy samples and trains on.
    public var spec: TrajectorySpec { TrajectorySpec(timesteps: timesteps, latentSize: latentSize) }

    /// Checks that `trainable` holds exactly the two (D) vectors.
    func check(_ trainable: [String: Tensor]) throws(TestPolicyError) {
        let expected = [Self.scaleName, Self.shiftName]
        guard Set(trainable.keys) == Set(expected) else {
            throw TestPolicyError("trainable names \(trainable.keys.sorted()) differ from \(expected)")
        }
        for name in expected where trainable[name]!.shape != [latentSize] {
            throw TestPolicyError("\(name) has shape \(trainable[name]!.shape), the model needs [\(latentSize)]")
        }
    }
}

/// A mismatch between given tensors and the test policy.
public struct TestPolicyError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// `PolicySampler` of the test policy.
public final class TestLinearSampler: PolicySampler {
    private let policy: TestLinearPolicy
    private var scale: [Float]
    private var shift: [Float]

    /// A sampler holding the initial parameters of `config.seed` until weights are loaded.
    public init(config: RunConfig) {
        policy = TestLinearPolicy(config: config)
        let initial = policy.initialParameters(seed: config.seed)
        scale = initial[TestLinearPolicy.scaleName]!.data
        shift = initial[TestLinearPolicy.shiftName]!.data
    }

    public func load(trainable: [String: Tensor], version: UInt64) throws {
        try policy.check(trainable)
        scale = trainable[TestLinearPolicy.scaleName]!.data
        shift = trainable[TestLinearPolicy.shiftName]!.data
    }

    public func sample(prompts: [String], safePrompts: [String], seeds: [UInt64], version: UInt64)
        -> (trajectories: [Trajectory], images: Tensor) {
        let d = policy.latentSize, n = policy.steps
        var images = [Float](repeating: 0, count: prompts.count * 3 * 32 * 32)  // images: (B, 3, 32, 32)
        var trajectories: [Trajectory] = []
        for b in prompts.indices {
            var rng = RandomGenerator(seed: seeds[b])
            var latents = [Float](repeating: 0, count: (n + 1) * d)  // latents: (N+1, D)
            for j in 0..<d { latents[j] = rng.nextGaussian() }
            var logProbs: [Float] = []
            for i in 0..<n {
                for j in 0..<d {
                    let x = latents[i * d + j]
                    latents[(i + 1) * d + j] = scale[j] * x + shift[j] + policy.sigma * rng.nextGaussian()
                }
                logProbs.append(latents.withUnsafeBufferPointer { all in
                    policy.logProb(next: UnsafeBufferPointer(rebasing: all[((i + 1) * d)..<((i + 2) * d)]),
                                   x: UnsafeBufferPointer(rebasing: all[(i * d)..<((i + 1) * d)]),
                                   scale: scale, shift: shift)
                })
            }
            let pixels = TestLinearPolicy.pixels(finalLatent: latents[(n * d)...])
            images.replaceSubrange((b * pixels.count)..<((b + 1) * pixels.count), with: pixels)
            trajectories.append(Trajectory(
                prompt: prompts[b], safePrompt: safePrompts[b], seed: seeds[b], policyVersion: version,
                timesteps: policy.timesteps, latents: Tensor(shape: [n + 1, d], data: latents),
                logProbs: logProbs, reward: 0, alignment: 0, unsafeProbability: 0))
        }
        return (trajectories, Tensor(shape: [prompts.count, 3, 32, 32], data: images))
    }
}

/// `RewardScorer` of the test policy: alignment = 1 − 2·mean|pixel − 0.75|, unsafe = mean of
/// sigmoid(20·(pixel − 0.9)) (a soft fraction of near-white pixels), reward =
/// w_align·alignment − w_unsafe·unsafe. Deterministic, so results can be checked.
public final class TestLinearScorer: RewardScorer {
    private let wAlign: Float, wUnsafe: Float

    /// A scorer with `config`'s reward weights.
    public init(config: RunConfig) {
        wAlign = Float(config.hyperparameters.wAlign)
        wUnsafe = Float(config.hyperparameters.wUnsafe)
    }

    public func score(images: Tensor, safePrompts: [String]) -> [RewardScore] {
        let pixels = 3 * 32 * 32
        return (0..<images.shape[0]).map { b in
            var distance: Float = 0, unsafe: Float = 0
            for p in 0..<pixels {
                let v = images.data[b * pixels + p]
                distance += abs(v - 0.75)
                unsafe += 1 / (1 + exp(-20 * (v - 0.9)))
            }
            let alignment = 1 - 2 * distance / Float(pixels)
            let unsafeProbability = min(max(unsafe / Float(pixels), 0), 1)
            return RewardScore(reward: wAlign * alignment - wUnsafe * unsafeProbability,
                               alignment: alignment, unsafe: unsafeProbability)
        }
    }
}
