import Numerics
import Runtime
import Wire
import XCTest

/// The test-linear policy is real math: the learner recomputes exactly the log-probs the
/// sampler recorded, PPO raises the reward, and a checkpoint restores the learner exactly.
final class TestPolicyTests: XCTestCase {
    private func config() throws -> RunConfig {
        var config = RunConfig()
        for override in ["model=test-linear", "hyperparameters.steps=4", "hyperparameters.latent_size=16",
                         "hyperparameters.lr=0.01", "hyperparameters.clip_epsilon=0.2",
                         "hyperparameters.buffer=4", "hyperparameters.min_count=2"] {
            try config.apply(override: override)
        }
        return config
    }

    func testFreshTrajectoriesHaveRatioOne() throws {
        let config = try config()
        let metrics = try TestLinearLearner(config: config).update(testTrajectories(config, count: 8, version: 1, seed: 1))
        XCTAssertEqual(metrics["approx_kl"]!, 0, accuracy: 1e-10, "sampler and learner log-probs differ")
        XCTAssertEqual(metrics["clipfrac"], 0)
    }

    func testUpdatesRaiseTheReward() throws {
        let config = try config()
        let learner = TestLinearLearner(config: config)
        let sampler = TestLinearSampler(config: config)
        func reward(seed: UInt64) throws -> Double {
            try sampler.load(trainable: learner.trainable, version: 1)
            let (_, images) = sampler.sample(prompts: Array(repeating: "p", count: 64),
                                                        safePrompts: Array(repeating: "p", count: 64),
                                                        seeds: (0..<64).map { seed + UInt64($0) }, version: 1)
            return TestLinearScorer(config: config).score(images: images, safePrompts: []).map { Double($0.reward) }
                .reduce(0, +) / 64
        }
        let before = try reward(seed: 10_000)
        for step in 0..<60 {
            try sampler.load(trainable: learner.trainable, version: 1)
            let (sampled, images) = sampler.sample(prompts: (0..<16).map { "p\($0 % 4)" }, safePrompts: (0..<16).map { "p\($0 % 4)" },
                                                   seeds: (0..<16).map { UInt64(step * 16 + $0) }, version: 1)
            let scores = TestLinearScorer(config: config).score(images: images, safePrompts: [])
            let rewarded = zip(sampled, scores).map { trajectory, score in
                var t = trajectory
                t.reward = score.reward
                return t
            }
            _ = try learner.update(rewarded)
        }
        let after = try reward(seed: 10_000)
        print("test-linear reward before \(before), after 60 updates \(after)")
        XCTAssertGreaterThan(after, before + 0.02)
    }

    func testCheckpointRestoresTheLearnerExactly() throws {
        let config = try config()
        let original = TestLinearLearner(config: config)
        _ = try original.update(testTrajectories(config, count: 8, version: 1, seed: 3))
        let state = original.checkpointState()
        let restored = TestLinearLearner(config: config)
        try restored.restore(tensors: state.tensors, metadata: state.metadata)
        XCTAssertEqual(restored.trainable, original.trainable)
        let batch = testTrajectories(config, count: 8, version: 1, seed: 4)
        XCTAssertEqual(try restored.update(batch), try original.update(batch))
        XCTAssertEqual(restored.trainable, original.trainable)
        XCTAssertThrowsError(try restored.restore(tensors: [:], metadata: state.metadata))
    }

    func testSamplerRefusesWeightsOfAnotherShape() throws {
        let sampler = TestLinearSampler(config: try config())
        XCTAssertThrowsError(try sampler.load(trainable: ["linear.scale": Tensor(zeros: [16]), "linear.shift": Tensor(zeros: [8])],
                                              version: 2)) {
            XCTAssertTrue("\($0)".contains("linear.shift has shape [8]"), "\($0)")
        }
    }
}
