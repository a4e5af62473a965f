import Foundation
import Numerics
import Wire
import World

/// `PolicyLearner` of the test policy (see `TestLinearPolicy`): PPO-clip over every sampled
/// step with per-prompt advantage statistics, AdamW with gradient-norm clipping, exactly the
/// loss of ALGORITHM.md, with the gradient of the linear mean written out by hand.
public final class TestLinearLearner: PolicyLearner {
    private let policy: TestLinearPolicy
    private let hyper: RunConfig.Hyperparameters
    private let store = ParameterStore()
    private let scale: ParameterStore.Parameter
    private let shift: ParameterStore.Parameter
    private let optimizer: AdamW
    private var rng: RandomGenerator
    private var tracker: PerPromptStats

    /// A learner starting from the initial parameters of `config.seed`.
    public init(config: RunConfig) {
        policy = TestLinearPolicy(config: config)
        hyper = config.hyperparameters
        let initial = policy.initialParameters(seed: config.seed)
        scale = store.register(TestLinearPolicy.scaleName, shape: [policy.latentSize],
                               values: initial[TestLinearPolicy.scaleName]!.data)
        shift = store.register(TestLinearPolicy.shiftName, shape: [policy.latentSize],
                               values: initial[TestLinearPolicy.shiftName]!.data)
        optimizer = AdamW(store, config: .init(learningRate: Float(hyper.lr), weightDecay: Float(hyper.weightDecay),
                                               maxGradNorm: Float(hyper.maxGradNorm)))
        rng = RandomGenerator(seed: config.seed).split(0x1EA2)
        tracker = PerPromptStats(buffer: hyper.buffer, minCount: hyper.minCount)
    }

    public var trainable: [String: Tensor] {
        [scale.name: store.tensor(scale), shift.name: store.tensor(shift)]
    }

    public var trajectorySpec: TrajectorySpec { policy.spec }

    public func update(_ trajectories: [Trajectory]) throws -> [String: Double] {
        let advantages = tracker.advantages(prompts: trajectories.map(\.prompt), rewards: trajectories.map(\.reward))
            .map { min(max($0, -Float(hyper.advClip)), Float(hyper.advClip)) }
        let d = policy.latentSize, n = policy.steps
        let trained = max(1, Int((Double(n) * hyper.timestepFraction).rounded()))
        let eps = Float(hyper.clipEpsilon), sigma2 = policy.sigma * policy.sigma
        var loss = 0.0, kl = 0.0, clipped = 0, terms = 0
        var gradNorm: Float = 0
        for _ in 0..<hyper.innerEpochs {
            store.zeroGrads()
            let s = Array(UnsafeBufferPointer(start: store.value(scale), count: d))
            let b = Array(UnsafeBufferPointer(start: store.value(shift), count: d))
            let gScale = store.grad(scale), gShift = store.grad(shift)
            let weight = 1 / Float(trajectories.count * trained)
            for (k, trajectory) in trajectories.enumerated() {
                let a = advantages[k]
                for i in Array(0..<n).shuffled(using: &rng).prefix(trained) {
                    trajectory.latents.data.withUnsafeBufferPointer { all in
                        let x = UnsafeBufferPointer(rebasing: all[(i * d)..<((i + 1) * d)])
                        let next = UnsafeBufferPointer(rebasing: all[((i + 1) * d)..<((i + 2) * d)])
                        let logNew = policy.logProb(next: next, x: x, scale: s, shift: b)
                        let delta = logNew - trajectory.logProbs[i]
                        let ratio = exp(delta)
                        let unclipped = -a * ratio, clippedTerm = -a * min(max(ratio, 1 - eps), 1 + eps)
                        loss += Double(max(unclipped, clippedTerm))
                        kl += 0.5 * Double(delta * delta)
                        if abs(ratio - 1) > eps { clipped += 1 }
                        terms += 1
                        // d loss / d log π is −A·ρ where the unclipped term is the max, else 0.
                        guard unclipped >= clippedTerm else { return }
                        let dLogProb = -a * ratio * weight
                        for j in 0..<d {
                            let dMu = (next[j] - (s[j] * x[j] + b[j])) / (sigma2 * Float(d)) * dLogProb
                            gScale[j] += dMu * x[j]
                            gShift[j] += dMu
                        }
                    }
                }
            }
            gradNorm = try optimizer.step()
        }
        let rewards = trajectories.map { Double($0.reward) }
        let mean = rewards.reduce(0, +) / Double(rewards.count)
        return ["loss": loss / Double(terms), "approx_kl": kl / Double(terms),
                "clipfrac": Double(clipped) / Double(terms), "grad_norm": Double(gradNorm),
                "advantage_abs_mean": advantages.map { Double(abs($0)) }.reduce(0, +) / Double(advantages.count),
                "reward_mean_learner": mean]
    }

    public func checkpointState() -> (tensors: [String: Tensor], metadata: [String: String]) {
        let state = optimizer.state
        var tensors = trainable
        tensors["adam.m"] = Tensor(shape: [state.m.count], data: state.m)
        tensors["adam.v"] = Tensor(shape: [state.v.count], data: state.v)
        let encoder = JSONEncoder()
        let rngText = String(decoding: (try? encoder.encode(rng.state)) ?? Data(), as: UTF8.self)
        let trackerText = String(decoding: (try? encoder.encode(tracker)) ?? Data(), as: UTF8.self)
        return (tensors, ["adam.step": String(state.step), "rng": rngText, "per_prompt_stats": trackerText])
    }

    public func restore(tensors: [String: Tensor], metadata: [String: String]) throws {
        var params = tensors
        let m = params.removeValue(forKey: "adam.m"), v = params.removeValue(forKey: "adam.v")
        try policy.check(params)
        guard let m, let v, let stepText = metadata["adam.step"], let step = Int(stepText),
              let rngText = metadata["rng"], let trackerText = metadata["per_prompt_stats"],
              let words = try? JSONDecoder().decode([UInt64].self, from: Data(rngText.utf8)),
              let restoredRNG = RandomGenerator(state: words),
              let restoredTracker = try? JSONDecoder().decode(PerPromptStats.self, from: Data(trackerText.utf8))
        else { throw TestPolicyError("checkpoint lacks or garbles adam.m/adam.v/adam.step/rng/per_prompt_stats") }
        try optimizer.restore(AdamW.State(step: step, m: m.data, v: v.data))
        store.set(scale, params[scale.name]!)
        store.set(shift, params[shift.name]!)
        (rng, tracker) = (restoredRNG, restoredTracker)
    }
}

/// Per-prompt reward statistics (ALGORITHM.md): the last `buffer` rewards of each prompt;
/// a prompt with at least `minCount` of them is normalized by its own mean and std, others
/// by the batch's.
struct PerPromptStats: Codable {
    let buffer: Int
    let minCount: Int
    private(set) var history: [String: [Float]] = [:]

    init(buffer: Int, minCount: Int) { (self.buffer, self.minCount) = (buffer, minCount) }

    mutating func advantages(prompts: [String], rewards: [Float]) -> [Float] {
        let batch = meanStd(rewards)
        for (prompt, reward) in zip(prompts, rewards) {
            history[prompt, default: []].append(reward)
            if history[prompt]!.count > buffer { history[prompt]!.removeFirst() }
        }
        return zip(prompts, rewards).map { prompt, reward in
            let own = history[prompt]!
            let (mean, std) = own.count >= minCount ? meanStd(own) : batch
            return (reward - mean) / (std + 1e-6)
        }
    }

    private func meanStd(_ values: [Float]) -> (Float, Float) {
        let mean = values.reduce(0, +) / Float(values.count)
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(values.count)
        return (mean, variance.squareRoot())
    }
}

extension TestLinearLearner: FinalImageRendering {
    public func finalImages(of trajectories: [Trajectory]) -> [Image] {
        trajectories.compactMap { t in
            let final = t.latents.data.suffix(t.latents.shape[1])
            return try? Image(chw: Tensor(shape: [3, 32, 32], data: TestLinearPolicy.pixels(finalLatent: final)))
        }
    }
}
