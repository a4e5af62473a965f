import Diffusion
import Numerics
import RL
import XCTest

final class DDPOLearnerTests: XCTestCase {
    let latentShape = [2, 4, 4]

    /// A learner over a fresh tiny denoiser (same seed: same weights) and a sampled batch.
    func setUp(config: DDPOConfig) throws -> (DDPOLearner, TinyDenoiser, [DDPOTrajectory]) {
        var rng = RandomGenerator(seed: 61)
        let net = TinyDenoiser(channels: 2, hidden: 6, textDim: TinyPrompts.dim, rank: 2, rng: &rng)
        let prompts = TinyPrompts(count: 2, rng: &rng)
        let learner = try DDPOLearner(predictor: net, nullConditioning: prompts.null, latentShape: latentShape,
                                      config: config, seed: 62)
        let sampler = DDPOSampler(guided: learner.objective.guided, schedule: learner.objective.schedule,
                                  steps: config.steps, eta: config.eta, latentShape: latentShape)
        let (names, conditioning) = prompts.batch(perPrompt: 3)
        let batch = sampler.sample(prompts: names, conditioning: conditioning, seeds: Array(0..<6), reward: brightness)
        return (learner, net, batch)
    }

    var smallConfig: DDPOConfig {
        var c = DDPOConfig()
        (c.steps, c.buffer, c.minCount, c.clipRange, c.learningRate) = (5, 4, 2, 0.2, 1e-2)
        (c.innerEpochs, c.timestepFraction, c.minibatchSize, c.trajectoriesPerStep) = (2, 0.4, 4, 4)
        return c
    }

    func testTrainsTheChosenFractionOfStepsEveryEpoch() throws {
        let (learner, net, batch) = try setUp(config: smallConfig)
        let before = Array(net.trainable.values)
        let metrics = try learner.update(batch)
        // 2 epochs × 6 trajectories × ⌊5·0.4⌋ steps; 2 groups of ≤ 4 trajectories per epoch.
        XCTAssertEqual(metrics.statistics.entries, 2 * 6 * 2)
        XCTAssertEqual(metrics.optimizerSteps, 4)
        XCTAssertNotEqual(Array(net.trainable.values), before)
        XCTAssertTrue(net.base.grads.allSatisfy { $0 == 0 }, "the frozen base must get no gradient")
        for key in ["loss", "approx_kl", "clipfrac", "ratio_mean", "reward_mean", "reward_std", "grad_norm"] {
            XCTAssertNotNil(metrics.dictionary[key], key)
        }
    }

    /// Steps whose σ_t is under `minTrainedSigma` are left out: of 5 steps (σ ≈ 0.95, 0.73,
    /// 0.50, 0.28, 0.006) the last; a threshold no step reaches trains them all.
    func testStepsBelowTheMinimumSigmaAreNotTrained() throws {
        var config = smallConfig
        (config.innerEpochs, config.timestepFraction, config.minTrainedSigma) = (1, 1, 0.05)
        let (learner, _, batch) = try setUp(config: config)
        XCTAssertEqual(try learner.update(batch).statistics.entries, 6 * 4)
        config.minTrainedSigma = 10
        let (everyStep, _, sameBatch) = try setUp(config: config)
        XCTAssertEqual(try everyStep.update(sameBatch).statistics.entries, 6 * 5)
    }

    /// Tracker, generator and optimizer state restored into a fresh learner reproduce the
    /// next update exactly.
    func testRestoredLearnerStateReproducesTheNextUpdate() throws {
        let (learner, net, batch) = try setUp(config: smallConfig)
        _ = try learner.update(batch)
        let (saved, tracker, rngState, adam) = (Array(net.trainable.values), learner.tracker.jsonString(),
                                                learner.rng.state, learner.optimizer.state)
        let expected = try learner.update(batch)

        let (fresh, freshNet, _) = try setUp(config: smallConfig)
        _ = saved.withUnsafeBufferPointer { freshNet.trainable.values.update(fromContentsOf: $0) }
        fresh.tracker = try PromptStatTracker(json: tracker)
        fresh.rng = try XCTUnwrap(RandomGenerator(state: rngState))
        try fresh.optimizer.restore(adam)
        XCTAssertEqual(try fresh.update(batch), expected)
        XCTAssertEqual(Array(freshNet.trainable.values), Array(net.trainable.values))
    }

    func testRejectsBadConfigAndBadTrajectories() throws {
        var config = smallConfig
        config.minCount = 9
        XCTAssertThrowsError(try setUp(config: config)) {
            XCTAssertEqual($0 as? DDPOError, .invalidConfig(field: "minCount", value: "9", expected: "in 0...buffer (4)"))
        }
        config = smallConfig
        config.eta = 0
        XCTAssertThrowsError(try setUp(config: config)) { XCTAssertTrue("\($0)".contains("eta")) }

        let (learner, _, batch) = try setUp(config: smallConfig)
        XCTAssertThrowsError(try learner.update([])) { XCTAssertEqual($0 as? DDPOError, .emptyBatch) }
        var bad = batch
        bad[2].logProbs.removeLast()
        XCTAssertThrowsError(try learner.update(bad)) {
            XCTAssertEqual($0 as? DDPOError, .invalidTrajectory(index: 2, reason: "4 log-probs for 5 steps"))
        }
        bad = batch
        bad[1].timesteps[1] = bad[1].timesteps[0]
        XCTAssertThrowsError(try learner.update(bad)) { XCTAssertTrue("\($0)".contains("not strictly decreasing")) }
        bad = batch
        bad[0].latents = Tensor(zeros: [6, 31])
        XCTAssertThrowsError(try learner.update(bad)) { XCTAssertTrue("\($0)".contains("expected (6, 32)")) }
        XCTAssertEqual(learner.tracker.history, [:], "rejected batches must not reach the tracker")
    }

    /// Data-parallel steps (this thread and one replica, each a share of the pairs) give the
    /// update of one thread, up to Float32 reduction order, with the same diagnostics.
    func testReplicasGiveTheSameUpdateAsOneThread() throws {
        let (single, singleNet, batch) = try setUp(config: smallConfig)
        let (parallel, parallelNet, _) = try setUp(config: smallConfig)
        let before = Array(singleNet.trainable.values)
        var rng = RandomGenerator(seed: 99)  // replica weights differ: every step must overwrite them
        let replica = TinyDenoiser(channels: 2, hidden: 6, textDim: TinyPrompts.dim, rank: 2, rng: &rng)
        _ = replica.base.values.update(fromContentsOf: parallelNet.base.values)
        parallel.addReplicas([replica], nullConditioning: parallel.objective.guided.null)
        let a = try single.update(batch), b = try parallel.update(batch)
        XCTAssertEqual(a.statistics.entries, b.statistics.entries)
        XCTAssertEqual(a.optimizerSteps, b.optimizerSteps)
        XCTAssertEqual(a.statistics.loss, b.statistics.loss, accuracy: 1e-6 * max(1, abs(a.statistics.loss)))
        let moved = zip(singleNet.trainable.values, before).map { abs($0 - $1) }.max()!
        let apart = zip(singleNet.trainable.values, parallelNet.trainable.values).map { abs($0 - $1) }.max()!
        print("replicas: max |θ(1 thread) − θ(2 threads)| \(apart), max |Δθ| of the update \(moved)")
        XCTAssertGreaterThan(moved, 0)
        XCTAssertLessThan(apart, 1e-4 * moved)
        XCTAssertTrue(replica.trainable.grads.contains { $0 != 0 }, "the replica must have done a share of the work")
    }
}
