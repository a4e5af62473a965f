import Dispatch
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
    /// Denoiser replicas for data-parallel optimizer steps: each takes a share of a step's
    /// pairs on its own thread (one BLAS thread each), and the shares' gradients are summed
    /// into the trainable store, equal to one pass up to Float32 reduction order. Empty: one
    /// thread. `replicas` must have this learner's trainable store's layout.
    public private(set) var replicas: [PPOObjective] = []
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
        let advantages = try tracker.advantages(prompts: trajectories.map(\.prompt), rewards: rewards,
                                                groups: trajectories.map(\.group))

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
                stats = stats + accumulateInParallel(pairs: pairs, in: trajectories, advantages: advantages)
                if let anchor { anchorSum += anchor() }
                do { normSum += Double(try optimizer.step()) } catch { throw .optimizer("\(error)") }
                optimizerSteps += 1
            }
        }
        return DDPOMetrics(statistics: stats, rewards: rewards, advantages: advantages,
                           gradNormMean: normSum / Double(optimizerSteps), optimizerSteps: optimizerSteps,
                           anchorLossMean: anchor == nil ? nil : anchorSum / Double(optimizerSteps))
    }

    /// Adds data-parallel replicas over denoisers built like this learner's predictor (same
    /// architecture and trainable layout; their values are overwritten before every step).
    public func addReplicas(_ predictors: [NoisePredictor], nullConditioning: Conditioning) {
        for predictor in predictors {
            precondition(predictor.trainable.count == trainable.count,
                         "DDPOLearner replica: \(predictor.trainable.count) trainable floats, the learner has \(trainable.count)")
            replicas.append(PPOObjective(guided: GuidedNoise(predictor: predictor, null: nullConditioning,
                                                             scale: objective.guided.scale),
                                         schedule: objective.schedule, eta: objective.eta, clipRange: objective.clipRange,
                                         minibatchSize: objective.minibatchSize, latentShape: objective.latentShape))
        }
    }

    /// One optimizer step's PPO gradient into `trainable`: on this thread alone, or split in
    /// contiguous shares between it and the replicas.
    private func accumulateInParallel(pairs: [StepRef], in trajectories: [DDPOTrajectory],
                                      advantages: [Float]) -> PPOStatistics {
        guard !replicas.isEmpty, pairs.count > 1 else {
            return objective.accumulateGradients(pairs: pairs, in: trajectories, advantages: advantages)
        }
        let objectives = [objective] + replicas
        let w = min(objectives.count, pairs.count)
        let shares = (0..<w).map { i in Array(pairs[(i * pairs.count / w)..<((i + 1) * pairs.count / w)]) }
        for replica in replicas.prefix(w - 1) {
            let store = replica.guided.predictor.trainable
            _ = store.values.update(fromContentsOf: trainable.values)
            store.zeroGrads()
        }
        var results = [PPOStatistics](repeating: PPOStatistics(), count: w)
        let savedThreads = blasThreads
        blasThreads = 1
        // Each share touches only its own objective's denoiser and its own result slot; the
        // trajectories and advantages are only read.
        results.withUnsafeMutableBufferPointer { slots in
            nonisolated(unsafe) let (slots, objectives) = (slots, objectives)
            let total = pairs.count
            DispatchQueue.concurrentPerform(iterations: w) { i in
                slots[i] = objectives[i].accumulateGradients(pairs: shares[i], in: trajectories, advantages: advantages,
                                                             totalPairs: total)
            }
        }
        blasThreads = savedThreads
        let grads = trainable.grads
        for replica in replicas.prefix(w - 1) {
            let g = replica.guided.predictor.trainable.grads
            for j in grads.indices { grads[j] += g[j] }
        }
        return results.dropFirst().reduce(results[0], +)
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
