import ArgumentParser
import FineTuning
import Foundation
import RL
import Models
import Numerics
import Runtime
import World

/// The learner's update speed on the shipped model at the main job's settings, in (sample,
/// step) pairs per second, with its optimizer steps on 1 and on 2 threads (each thread with
/// its own denoiser copy and one BLAS thread; 1 thread uses OpenBLAS's own thread count).
struct BenchLearnerUpdate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learner",
        abstract: "(sample, step) pairs/s of the learner's DDPO update on the shipped model, on 1 and 2 threads."
    )

    @Option(help: "Trajectories per update (the main job's default).")
    var trajectories = RunConfig().trajectoriesPerUpdate

    @Option(help: "Timed updates per figure; the best one is reported.")
    var iterations = 2

    func validate() throws {
        guard trajectories >= 2 else { throw ValidationError("--trajectories must be at least 2, got \(trajectories)") }
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1, got \(iterations)") }
    }

    func run() throws {
        printKernelHeader()
        var config = RunConfig()
        config.trajectoriesPerUpdate = trajectories
        let h = config.hyperparameters
        // One batch sampled with the base policy, given varied rewards so advantages are nonzero.
        let sampler = DiffusionPolicySampler(policy: DiffusionPolicy(model: try DiffusionModel.load(), loraRank: h.loraRank,
                                                                     seed: 1),
                                             steps: h.steps, guidance: Float(h.guidance), eta: h.eta)
        let prompts = evaluationPrompts(PromptSet.trainUnsafe.prompts, count: trajectories, seed: 3)
        var (batch, _) = sampler.sample(prompts: prompts.map(\.text), safePrompts: prompts.map { $0.safeSide.text },
                                        seeds: (0..<trajectories).map(UInt64.init), version: 1)
        for i in batch.indices { batch[i].reward = Float(i % 7) / 7 - 0.4 }
        var figures: [BenchmarkFigure] = []
        for threads in [1, 2] {
            var pairs = 0.0
            let seconds = try bestSeconds(iterations: iterations) {
                // A fresh learner each time: every timed update starts from the same state.
                let learner = try DiffusionPolicyLearner(policy: DiffusionPolicy(model: try DiffusionModel.load(),
                                                                                 loraRank: h.loraRank, seed: 1),
                                                         ddpo: DDPOConfig(run: config), seed: 7, threads: threads)
                let start = ContinuousClock.now
                pairs = try learner.update(batch)["pairs"] ?? 0
                let elapsed = ContinuousClock.now - start
                return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            }
            figures.append(BenchmarkFigure(name: "learner update, \(threads) thread(s), \(trajectories) trajectories",
                                           value: pairs / seconds, unit: "pairs/s", seconds: seconds))
        }
        printTable(figures, reference: nil)
    }

    private func bestSeconds(iterations: Int, _ body: () throws -> Double) throws -> Double {
        var best = Double.infinity
        for _ in 0..<iterations { best = min(best, try body()) }
        return best
    }
}
