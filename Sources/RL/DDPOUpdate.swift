import Diffusion
import Numerics

/// The DDPO learner: per-prompt advantages, then `innerEpochs` passes of PPO-clip over a
/// batch of trajectories, each pass over a random `timestepFraction` of every trajectory's
/// steps, with AdamW steps on gradients accumulated over `trajectoriesPerStep` trajectories.
public final class DDPOLearner {
    /// The hyperparameters (validated at init).
    public let config: DDPOConfig
    /// The PPO loss over denoising steps, through the guided denoiser.
    public let objective: PPOObjective
    /// AdamW over the predictor's trainable store.
    public let optimizer: AdamW
    /// Per-prompt reward statistics; part of the learner's checkpoint.
    public var tracker: PromptStatTracker
    /// Shuffles trajectories and chooses trained steps; its `state` is part of the checkpoint.
    public var rng: RandomGenerator
    /// A loss added to every optimizer step, e.g. the benign anchor that keeps the model's
    /// denoising objective on safe data (PPO-ptx): it adds its gradients into the trainable
    /// store and returns its loss. nil: PPO alone.
    public var anchor: (() -> Double)?
    private let trainable: ParameterStore

    /// `nullConditioning` is ∅ as one row; `latentShape` is (C, H, W). The predictor's
    /// trainable store must be complete: the optimizer's moments are sized to it here.
    public init(predictor: NoisePredictor, nullConditioning: Conditioning, latentShape: [Int],
                schedule: NoiseSchedule = NoiseSchedule(), config: DDPOConfig, seed: UInt64) throws(DDPOError) {
        try config.validate()
        self.config = config
        objective = PPOObjective(guided: GuidedNoise(predictor: predictor, null: nullConditioning, scale: config.guidance),
                                 schedule: schedule, eta: config.eta, clipRange: config.clipRange,
                                 minibatchSize: config.minibatchSize, latentShape: latentShape)
        trainable = predictor.trainable
        optimizer = AdamW(trainable, config: AdamW.Config(
            learningRate: config.learningRate, beta1: config.beta1, beta2: config.beta2, eps: config.adamEpsilon,
            weightDecay: config.weightDecay, maxGradNorm: config.maxGradNorm), noDecay: { $0.shape.count == 1 })
        tracker = try PromptStatTracker(buffer: config.buffer, minCount: config.minCount,
                                        advantageClip: config.advantageClip)
        rng = RandomGenerator(seed: seed)
    }

    /// One DDPO update on `trajectories`; returns its metrics. Invalid trajectories are
    /// rejected before anything changes; on an optimizer error the tracker has recorded the
    /// batch's rewards and the steps already taken stay applied.
    public func update(_ trajectories: [DDPOTrajectory]) throws(DDPOError) -> DDPOMetrics {
        guard !trajectories.isEmpty else { throw .emptyBatch }
        for (i, t) in trajectories.enumerated() {
            try t.validate(index: i, latentShape: objective.latentShape, trainingSteps: objective.schedule.trainingSteps)
        }
        let rewards = trajectories.map(\.reward)
        let advantages = try tracker.advantages(prompts: trajectories.map(\.prompt), rewards: rewards)

        var stats = PPOStatistics()
        var normSum = 0.0, anchorSum = 0.0, optimizerSteps = 0
        let eligible = trajectories.map(trainableSteps)
        for _ in 0..<config.innerEpochs {
            let order = permutation(trajectories.count)
            for start in stride(from: 0, to: order.count, by: config.trajectoriesPerStep) {
                var pairs: [StepRef] = []
                for i in order[start..<min(start + config.trajectoriesPerStep, order.count)] {
                    let steps = eligible[i]
                    pairs += permutation(steps.count).prefix(config.trainedSteps(of: steps.count))
                        .map { StepRef(trajectory: i, step: steps[$0]) }
                }
                trainable.zeroGrads()
                stats = stats + objective.accumulateGradients(pairs: pairs, in: trajectories, advantages: advantages)
                if let anchor { anchorSum += anchor() }
                do { normSum += Double(try optimizer.step()) } catch { throw .optimizer("\(error)") }
                optimizerSteps += 1
            }
        }
        return DDPOMetrics(statistics: stats, rewards: rewards, advantages: advantages,
                           gradNormMean: normSum / Double(optimizerSteps), optimizerSteps: optimizerSteps,
                           anchorLossMean: anchor == nil ? nil : anchorSum / Double(optimizerSteps))
    }

    /// The steps of `trajectory` whose σ_t reaches `minTrainedSigma` (all when none does,
    /// so every trajectory keeps at least one trained step).
    private func trainableSteps(of trajectory: DDPOTrajectory) -> [Int] {
        let all = Array(0..<trajectory.steps)
        guard config.minTrainedSigma > 0 else { return all }
        let eligible = all.filter { i in
            DDIMStep(schedule: objective.schedule, t: trajectory.timesteps[i], steps: trajectory.steps, eta: config.eta).sigma
                >= config.minTrainedSigma
        }
        return eligible.isEmpty ? all : eligible
    }

    /// A uniformly random order of 0..<n (Fisher–Yates on `rng`, so it is reproducible from
    /// a checkpointed generator state on any toolchain).
    private func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return p
    }
}

/// What one update reports (cleanrl-style diagnostics; lag and the unsafe rate are the
/// learner process's, which knows policy versions and reward terms).
public struct DDPOMetrics: Sendable, Equatable {
    /// Pooled PPO sums over every (sample, step) pair of every inner epoch.
    public var statistics: PPOStatistics
    /// Mean reward of the batch.
    public var rewardMean: Double
    /// Population std of the batch's rewards.
    public var rewardStd: Double
    /// Mean |A| after clamping.
    public var advantageAbsMean: Double
    /// Mean global gradient norm before clipping, over optimizer steps.
    public var gradNormMean: Double
    /// Optimizer steps taken.
    public var optimizerSteps: Int
    /// Mean anchor loss over optimizer steps (nil without an anchor).
    public var anchorLossMean: Double?

    init(statistics: PPOStatistics, rewards: [Float], advantages: [Float], gradNormMean: Double, optimizerSteps: Int,
         anchorLossMean: Double?) {
        let n = Double(rewards.count)
        let mean = rewards.reduce(0.0) { $0 + Double($1) } / n
        let variance = rewards.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        (self.statistics, rewardMean, rewardStd) = (statistics, mean, variance.squareRoot())
        advantageAbsMean = advantages.reduce(0.0) { $0 + Double(abs($1)) } / n
        (self.gradNormMean, self.optimizerSteps, self.anchorLossMean) = (gradNormMean, optimizerSteps, anchorLossMean)
    }

    /// The metrics by name, for logs.
    public var dictionary: [String: Double] {
        var numbers = ["loss": statistics.loss, "approx_kl": statistics.approxKL, "clipfrac": statistics.clipFraction,
         "ratio_mean": statistics.ratioMean, "reward_mean": rewardMean, "reward_std": rewardStd,
         "advantage_abs_mean": advantageAbsMean, "grad_norm": gradNormMean,
         "optimizer_steps": Double(optimizerSteps), "pairs": Double(statistics.entries)]
        if let anchorLossMean { numbers["anchor_loss"] = anchorLossMean }
        return numbers
    }
}
