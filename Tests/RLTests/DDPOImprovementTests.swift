import Diffusion
import Foundation
import Numerics
import RL
import XCTest

/// DDPO end to end on a tiny denoiser: sample with real guided DDIM steps, reward the
/// brightness (mean) of the final latent, update; the mean reward must rise.
final class DDPOImprovementTests: XCTestCase {
    func testUpdatesIncreaseTheMeanReward() throws {
        let start = Date()
        var rng = RandomGenerator(seed: 51)
        let latentShape = [2, 4, 4]
        let net = TinyDenoiser(channels: 2, hidden: 8, textDim: TinyPrompts.dim, rank: 4, rng: &rng)
        let prompts = TinyPrompts(count: 2, rng: &rng)
        var config = DDPOConfig()
        config.learningRate = 2e-2
        config.clipRange = 0.2
        config.guidance = 2
        config.steps = 6
        config.buffer = 16
        config.minCount = 8
        config.innerEpochs = 2
        config.timestepFraction = 1
        config.minibatchSize = 48
        config.trajectoriesPerStep = 16
        let learner = try DDPOLearner(predictor: net, nullConditioning: prompts.null, latentShape: latentShape,
                                      config: config, seed: 52)
        let sampler = DDPOSampler(guided: learner.objective.guided, schedule: learner.objective.schedule,
                                  steps: config.steps, eta: config.eta, latentShape: latentShape)

        let (names, conditioning) = prompts.batch(perPrompt: 16)
        let evalSeeds = (0..<UInt64(names.count)).map { 10_000 + $0 }
        func meanReward(_ seeds: [UInt64]) -> Float {
            let rewards = sampler.sample(prompts: names, conditioning: conditioning, seeds: seeds,
                                         reward: brightness).map(\.reward)
            return rewards.reduce(0, +) / Float(rewards.count)
        }
        let before = meanReward(evalSeeds)
        var log: [String] = []
        for iteration in 0..<40 {
            let seeds = (0..<UInt64(names.count)).map { UInt64(iteration) * 1_000 + $0 }
            let batch = sampler.sample(prompts: names, conditioning: conditioning, seeds: seeds, reward: brightness)
            let m = try learner.update(batch)
            log.append(String(format: "it %2d reward %.3f kl %.2e clipfrac %.2f loss %+.3f grad %.2f", iteration,
                              m.rewardMean, m.statistics.approxKL, m.statistics.clipFraction, m.statistics.loss,
                              m.gradNormMean))
        }
        let after = meanReward(evalSeeds)
        print(log.joined(separator: "\n"))
        print(String(format: "ddpo end to end: eval mean reward %.4f → %.4f in %.1f s", before, after,
                     Date().timeIntervalSince(start)))
        XCTAssertGreaterThan(after, before + 0.5)
    }
}
