import GradCheckSupport
import Diffusion
import Foundation
import Numerics
import RL
import XCTest

/// The PPO objective through the guided denoiser, on a small real network.
final class PPOChainTests: XCTestCase {
    let latentShape = [2, 4, 4]
    let schedule = NoiseSchedule()

    /// A denoiser with active adapters and trajectories sampled from it.
    func sampled(seed: UInt64, guidance: Float, steps: Int, perPrompt: Int)
        -> (net: TinyDenoiser, guided: GuidedNoise, trajectories: [DDPOTrajectory]) {
        var rng = RandomGenerator(seed: seed)
        let net = TinyDenoiser(channels: 2, hidden: 6, textDim: TinyPrompts.dim, rank: 2, rng: &rng)
        net.randomizeAdapters(std: 0.3, rng: &rng)
        let prompts = TinyPrompts(count: 2, rng: &rng)
        let guided = GuidedNoise(predictor: net, null: prompts.null, scale: guidance)
        let sampler = DDPOSampler(guided: guided, schedule: schedule, steps: steps, eta: 1, latentShape: latentShape)
        let (names, conditioning) = prompts.batch(perPrompt: perPrompt)
        let trajectories = sampler.sample(prompts: names, conditioning: conditioning,
                                          seeds: (0..<names.count).map { seed &+ UInt64($0) }, reward: brightness)
        return (net, guided, trajectories)
    }

    func allPairs(_ trajectories: [DDPOTrajectory]) -> [StepRef] {
        trajectories.indices.flatMap { i in (0..<trajectories[i].steps).map { StepRef(trajectory: i, step: $0) } }
    }

    /// Scoring the sampled steps with the sampling weights reproduces the recorded log-probs
    /// (ρ = 1, approx_kl = 0), although the learner batches (sample, step) pairs differently;
    /// changed weights do not.
    func testRatioIsOneWhenTheWeightsDidNotChange() throws {
        let (net, guided, trajectories) = sampled(seed: 41, guidance: 3, steps: 6, perPrompt: 3)
        let objective = PPOObjective(guided: guided, schedule: schedule, eta: 1, clipRange: 0.2, minibatchSize: 5,
                                     latentShape: latentShape)
        let pairs = allPairs(trajectories)
        let recorded = pairs.map { trajectories[$0.trajectory].logProbs[$0.step] }
        let rescored = objective.logProbs(of: pairs, in: trajectories)
        let drift = zip(recorded, rescored).map { abs($0 - $1) }.max()!
        print("ratio check: max |log π_θ − log π_old| with unchanged weights \(drift)")
        XCTAssertLessThan(drift, 1e-5)

        var config = DDPOConfig()
        (config.learningRate, config.guidance, config.steps, config.clipRange) = (0, 3, 6, 0.2)
        (config.buffer, config.minCount, config.minibatchSize, config.trajectoriesPerStep) = (4, 2, 7, 4)
        let learner = try DDPOLearner(predictor: net, nullConditioning: guided.null, latentShape: latentShape,
                                      schedule: schedule, config: config, seed: 1)
        let metrics = try learner.update(trajectories)
        print("lr 0 update: \(metrics.dictionary)")
        XCTAssertLessThan(metrics.statistics.approxKL, 1e-10)
        XCTAssertEqual(metrics.statistics.clipFraction, 0)
        XCTAssertEqual(metrics.statistics.ratioMean, 1, accuracy: 1e-5)
        XCTAssertEqual(metrics.statistics.entries, pairs.count)

        let p = net.trainable.parameter(named: "out.lora_B.weight")!
        net.trainable.value(p)[0] += 0.05
        let moved = zip(recorded, objective.logProbs(of: pairs, in: trajectories)).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(moved, 1e-3, "changed weights must change the log-probs")
    }

    /// loss → log π → ε → guidance → LoRA parameters, against five-point differences of the
    /// loss, with old log-probs offset so that pairs fall in every PPO branch; and the
    /// accumulated gradient does not depend on the minibatch split.
    ///
    /// The first step (t = 999, ᾱ ≈ 2.4e-9) is left out of the difference check: there x̂_0 is
    /// clipped almost everywhere, so log π barely depends on the weights and the differences
    /// measure rounding (its gradient takes the same code path as every other step). The last
    /// step's σ ≈ 6e-3 leaves log π noise of ~1e-6, hence the 2e-2 tolerance; a wrong formula
    /// errs by O(1).
    func testFullChainGradientMatchesFiniteDifferences() {
        var (net, guided, trajectories) = sampled(seed: 42, guidance: 3, steps: 4, perPrompt: 2)
        // Δ = log π_θ − log π_old = −offset: steps 1-2 inside [ln 0.8, ln 1.2] or outside it by
        // ≥ 0.2; the last step (σ ≈ 6e-3, so log π moves fast with θ) far outside, ±1.5.
        let offsets: [[Float]] = [[0, 0.45, -0.05, 1.5], [0, -0.5, 0.1, -1.5], [0, 0.02, -0.6, -1.5], [0, 0.5, -0.08, 1.5]]
        for i in trajectories.indices {
            for j in 0..<trajectories[i].steps { trajectories[i].logProbs[j] += offsets[i][j] }
        }
        let advantages: [Float] = [1.3, -0.7, 0.4, -1.9]
        let pairs = allPairs(trajectories).filter { $0.step >= 1 }
        func objective(_ minibatch: Int) -> PPOObjective {
            PPOObjective(guided: guided, schedule: schedule, eta: 1, clipRange: 0.2, minibatchSize: minibatch,
                         latentShape: latentShape)
        }
        let store = net.trainable
        store.zeroGrads()
        let stats = objective(3).accumulateGradients(pairs: pairs, in: trajectories, advantages: advantages)
        print("ppo chain: \(stats.entries) pairs, clipfrac \(stats.clipFraction), approx_kl \(stats.approxKL)")
        XCTAssertGreaterThan(stats.clipFraction, 0.3, "the check must cover clipped pairs")
        let analytic = Array(store.grads)
        store.zeroGrads()
        objective(pairs.count).accumulateGradients(pairs: pairs, in: trajectories, advantages: advantages)
        let splitDiff = zip(analytic, store.grads).map { Double(abs($0 - $1)) }.max()!
        let scale = analytic.map { Double(abs($0)) }.max()!
        print("ppo chain: max |grad(minibatch 3) − grad(one batch)| \(splitDiff), largest gradient \(scale)")
        XCTAssertLessThan(splitDiff, 1e-4 * scale)

        func loss() -> Double {
            PPOClipLoss(logProbs: objective(8).logProbs(of: pairs, in: trajectories),
                        oldLogProbs: pairs.map { trajectories[$0.trajectory].logProbs[$0.step] },
                        advantages: pairs.map { advantages[$0.trajectory] }, clipRange: 0.2).statistics.loss
        }
        // The gradient is already accumulated (minibatch 3); re-accumulating it is what the
        // harness's `lossAndBackward` does.
        GradCheck.checkParameters("ppo chain (loss → log π → ε → guidance → LoRA)", store: store, samples: 10,
                                  step: 1e-2,
                                  lossAndBackward: { _ = objective(3).accumulateGradients(pairs: pairs, in: trajectories,
                                                                                          advantages: advantages) },
                                  loss: loss)
    }
}
