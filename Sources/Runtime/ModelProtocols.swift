import Numerics
import Wire

/// Actor side: samples trajectories with the current trainable weights.
///
/// Used from one thread at a time (the actor's sampling thread).
public protocol PolicySampler: AnyObject {
    /// Replaces the trainable parameters. Names and shapes must match the model's; otherwise
    /// it throws an error naming the first difference and leaves the weights unchanged.
    func load(trainable: [String: Tensor], version: UInt64) throws
    /// Samples one trajectory per prompt with the loaded weights, tagging each with `version`;
    /// returns the trajectories (reward fields zero) and the final images (B, 3, 32, 32) in [0, 1].
    func sample(prompts: [String], safePrompts: [String], seeds: [UInt64], version: UInt64)
        -> (trajectories: [Trajectory], images: Tensor)
}

/// The scores of one image.
public struct RewardScore: Equatable, Sendable {
    /// The content-safe reward w_align·alignment − w_unsafe·unsafe.
    public var reward: Float
    /// The alignment (cosine) term.
    public var alignment: Float
    /// The unsafe-concept probability in [0, 1].
    public var unsafe: Float

    /// A score from its parts.
    public init(reward: Float, alignment: Float, unsafe: Float) {
        (self.reward, self.alignment, self.unsafe) = (reward, alignment, unsafe)
    }
}

/// Reward-worker side (and the actor's in-process fallback when no reward worker runs).
public protocol RewardScorer: AnyObject {
    /// Scores images (B, 3, 32, 32) in [0, 1] against their B safe-side prompts; B scores.
    func score(images: Tensor, safePrompts: [String]) -> [RewardScore]
}

/// Learner side. Called from one thread at a time (the learner's update thread).
public protocol PolicyLearner: AnyObject {
    /// The trainable parameters, by name: what WEIGHTS carries.
    var trainable: [String: Tensor] { get }
    /// What a trajectory must look like to be trained on; read once, before updates start,
    /// so the I/O thread can check batches while an update runs.
    var trajectorySpec: TrajectorySpec { get }
    /// One PPO update over `trajectories`; returns its metrics (loss, approx_kl, clipfrac, ...).
    func update(_ trajectories: [Trajectory]) throws -> [String: Double]
    /// Everything needed to resume: parameters, optimizer, RNG, per-prompt statistics.
    func checkpointState() -> (tensors: [String: Tensor], metadata: [String: String])
    /// Restores what `checkpointState()` returned; throws naming the mismatch.
    func restore(tensors: [String: Tensor], metadata: [String: String]) throws
}

/// The shape of the trajectories a learner trains on (PROTOCOL.md §5.4 `invalid`).
public struct TrajectorySpec: Equatable, Sendable {
    /// The DDIM timesteps t_N > … > t_1 every trajectory must carry.
    public var timesteps: [UInt32]
    /// Latent floats D per row.
    public var latentSize: Int

    /// A spec from its parts.
    public init(timesteps: [UInt32], latentSize: Int) { (self.timesteps, self.latentSize) = (timesteps, latentSize) }

    /// Why `trajectory` does not fit, or nil.
    public func incompatibility(of trajectory: Trajectory) -> String? {
        if trajectory.timesteps.count != timesteps.count {
            return "invalid: \(trajectory.timesteps.count) steps, the model samples \(timesteps.count)"
        }
        if trajectory.latents.shape != [timesteps.count + 1, latentSize] {
            return "invalid: latents \(trajectory.latents.shape), the model needs [\(timesteps.count + 1), \(latentSize)]"
        }
        if trajectory.timesteps != timesteps { return "invalid: timesteps differ from the model's schedule" }
        return nil
    }
}

/// The three model-facing objects a role may need; each role uses only its own.
public struct ModelSet {
    /// Actor sampling.
    public var sampler: () throws -> PolicySampler
    /// Reward scoring.
    public var scorer: () throws -> RewardScorer
    /// Learner updates.
    public var learner: () throws -> PolicyLearner

    /// A set of factories; each role builds only what it uses.
    public init(sampler: @escaping () throws -> PolicySampler, scorer: @escaping () throws -> RewardScorer,
                learner: @escaping () throws -> PolicyLearner) {
        (self.sampler, self.scorer, self.learner) = (sampler, scorer, learner)
    }
}
