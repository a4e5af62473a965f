import FineTuning
import Foundation
import Models
import Numerics
import RL
import Runtime
import Wire
import XCTest

/// Small, shared settings for the fine-tuning tests: the shipped weights with N = 2 DDIM steps
/// and batches of four trajectories (two prompts, twice each), so a learner update is cheap.
enum Fixture {
    /// N: DDIM steps of every sampled trajectory.
    static let steps = 2
    /// Guidance w and η as a run uses them.
    static let guidance: Float = 2, eta = 1.0
    /// Two prompts, each twice: the batch a test samples and trains on.
    static let prompts = ["a large red circle in the center on a black background",
                          "a small blue square on the left on a gray background"]
    static var batchPrompts: [String] { prompts + prompts }

    /// DDPO settings of the tests; a learning rate large enough that one step visibly moves
    /// the adapters. One optimizer step per update covers the whole batch, so an update's
    /// ratios are all computed with the weights the trajectories were sampled with.
    static func ddpo(learningRate: Float = 3e-3) -> DDPOConfig {
        var c = DDPOConfig()
        (c.steps, c.guidance, c.eta) = (steps, guidance, eta)
        (c.learningRate, c.buffer, c.minCount, c.trajectoriesPerStep) = (learningRate, 4, 4, 32)
        return c
    }

    /// A policy over a freshly loaded shipped model.
    static func policy(rank: Int = 4, seed: UInt64 = 1) throws -> DiffusionPolicy {
        DiffusionPolicy(model: try DiffusionModel.load(), loraRank: rank, seed: seed)
    }

    /// A learner over a fresh policy.
    static func learner(rank: Int = 4, seed: UInt64 = 1, learningRate: Float = 3e-3) throws -> DiffusionPolicyLearner {
        try DiffusionPolicyLearner(policy: policy(rank: rank, seed: seed), ddpo: ddpo(learningRate: learningRate), seed: 7)
    }

    /// An actor's sampler over `policy`.
    static func sampler(_ policy: DiffusionPolicy) -> DiffusionPolicySampler {
        DiffusionPolicySampler(policy: policy, steps: steps, guidance: guidance, eta: eta)
    }

    /// Four trajectories (and their images) from `sampler` with fixed seeds; the prompts are
    /// their own safe sides (these prompts name nothing unsafe).
    static func sample(_ sampler: DiffusionPolicySampler) -> (trajectories: [Wire.Trajectory], images: Tensor) {
        sampler.sample(prompts: batchPrompts, safePrompts: batchPrompts, seeds: [11, 12, 13, 14], version: 1)
    }

    /// `trajectories` with the given rewards.
    static func rewarded(_ trajectories: [Wire.Trajectory], _ rewards: [Float]) -> [Wire.Trajectory] {
        zip(trajectories, rewards).map { t, r in var t = t; t.reward = r; return t }
    }

    /// A batch sampled by the base policy with distinct rewards, so advantages are nonzero.
    static func rewardedBatch(_ rewards: [Float] = [0.3, -0.1, 0.8, 0.2]) throws -> [Wire.Trajectory] {
        rewarded(sample(sampler(try policy())).trajectories, rewards)
    }
}

/// max |a − b| over two equally shaped tensors.
func maxAbsDifference(_ a: Tensor, _ b: Tensor, file: StaticString = #filePath, line: UInt = #line) -> Float {
    XCTAssertEqual(a.shape, b.shape, file: file, line: line)
    return zip(a.data, b.data).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// The largest difference between two sets of named tensors (∞ if their names or shapes differ).
func maxAbsDifference(_ a: [String: Tensor], _ b: [String: Tensor]) -> Float {
    guard Set(a.keys) == Set(b.keys) else { return .infinity }
    return a.keys.reduce(0) { worst, name in
        guard a[name]!.shape == b[name]!.shape else { return .infinity }
        return max(worst, zip(a[name]!.data, b[name]!.data).reduce(0) { max($0, abs($1.0 - $1.1)) })
    }
}

/// A fresh temporary folder, removed when the test ends.
func temporaryFolder(_ test: XCTestCase, _ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("sd-ft-\(name)-\(getpid())-\(UInt32.random(in: 0 ... .max))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}
