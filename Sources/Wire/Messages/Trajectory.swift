import Numerics

/// One denoising trajectory sampled by an actor: x_{t_N} … x_{t_0}, the N log-probs and
/// the reward (`shielddiff.v1.Trajectory`).
public struct Trajectory: Equatable, Sendable {
    /// The prompt the image was generated from; non-empty.
    public var prompt: String
    /// Its safe-side prompt; non-empty.
    public var safePrompt: String
    /// Seed of the initial noise and the step noises.
    public var seed: UInt64
    /// The policy version the trajectory was sampled with.
    public var policyVersion: UInt64
    /// The N DDIM timesteps t_N > … > t_1, strictly decreasing; N ≥ 1.
    public var timesteps: [UInt32]
    /// latents: (N+1, D), D ≥ 1; row 0 is x_{t_N}, row N the final latent x_{t_0}.
    public var latents: Tensor
    /// N finite log-probs; entry i is log π(row i+1 | row i) at `timesteps[i]`.
    public var logProbs: [Float]
    /// The content-safe reward (finite).
    public var reward: Float
    /// Its alignment (cosine) term (finite).
    public var alignment: Float
    /// Its unsafe-concept probability, in [0, 1].
    public var unsafeProbability: Float
    /// Adversarial training: η of the concept-vector push added to the prompt's encoding
    /// (`adversarial.embedding_share`); 0 = the plain encoding. Finite, ≥ 0.
    public var conceptEta: Float

    public init(prompt: String, safePrompt: String, seed: UInt64, policyVersion: UInt64, timesteps: [UInt32],
                latents: Tensor, logProbs: [Float], reward: Float, alignment: Float, unsafeProbability: Float,
                conceptEta: Float = 0) {
        self.prompt = prompt
        self.safePrompt = safePrompt
        self.seed = seed
        self.policyVersion = policyVersion
        self.timesteps = timesteps
        self.latents = latents
        self.logProbs = logProbs
        self.reward = reward
        self.alignment = alignment
        self.unsafeProbability = unsafeProbability
        self.conceptEta = conceptEta
    }

    /// Checks every rule of the .proto; `what` names the trajectory, e.g. "trajectory 3".
    func validate(what: String, limits: WireLimits) throws(WireError) {
        try Validation.checkText(prompt.utf8, what: "prompt of \(what)", limits: limits)
        try Validation.checkText(safePrompt.utf8, what: "safe prompt of \(what)", limits: limits)
        let steps = timesteps.count
        try Validation.checkCount(steps, what: "timesteps of \(what)", limit: limits.maxSteps)
        for i in 1..<steps where timesteps[i] >= timesteps[i - 1] {
            throw .notDecreasing(what: "timesteps of \(what)", index: i)
        }
        let latentsName = "latents of \(what)"
        guard latents.rank == 2, latents.shape[0] == steps + 1, latents.shape[1] >= 1 else {
            throw .invalidShape(what: latentsName, shape: latents.shape, expected: "(\(steps + 1), D) with D ≥ 1")
        }
        try Validation.checkTensor(latents, name: latentsName, limits: limits)
        guard logProbs.count == steps else {
            throw .countMismatch(what: "log_probs of \(what)", expected: steps, got: logProbs.count)
        }
        try Validation.checkFinite(logProbs, name: "log_probs of \(what)")
        try Validation.checkScalar(reward, what: "reward of \(what)")
        try Validation.checkScalar(alignment, what: "alignment of \(what)")
        try Validation.checkScalar(unsafeProbability, what: "unsafe probability of \(what)", allowed: 0...1)
        try Validation.checkScalar(conceptEta, what: "concept eta of \(what)", allowed: 0...Float.greatestFiniteMagnitude)
    }
}

/// Trajectories an actor sends to the learner.
public struct TrajectoryBatch: Equatable, Sendable {
    /// The sending actor's instance id; non-empty.
    public var actorID: String
    /// Per-actor counter echoed by `BatchAck`.
    public var batchID: UInt64
    /// At least one trajectory.
    public var trajectories: [Trajectory]

    public init(actorID: String, batchID: UInt64, trajectories: [Trajectory]) {
        self.actorID = actorID
        self.batchID = batchID
        self.trajectories = trajectories
    }

    func validate(limits: WireLimits) throws(WireError) {
        try Validation.checkName(actorID.utf8, what: "actor id of trajectory batch", limits: limits)
        try Validation.checkCount(trajectories.count, what: "trajectories of batch", limit: limits.maxTrajectories)
        for (i, trajectory) in trajectories.enumerated() {
            try trajectory.validate(what: "trajectory \(i)", limits: limits)
        }
    }
}

/// The learner's answer to each `TrajectoryBatch`.
public struct BatchAck: Equatable, Sendable {
    /// The acknowledged batch's id.
    public var batchID: UInt64
    /// Trajectories the learner took.
    public var accepted: UInt32
    /// Trajectories the learner dropped; accepted + rejected is the batch's size.
    public var rejected: UInt32
    /// Why trajectories were rejected; non-empty when `rejected > 0`.
    public var reason: String
    /// The learner's newest policy version.
    public var policyVersion: UInt64

    public init(batchID: UInt64, accepted: UInt32, rejected: UInt32 = 0, reason: String = "", policyVersion: UInt64) {
        self.batchID = batchID
        self.accepted = accepted
        self.rejected = rejected
        self.reason = reason
        self.policyVersion = policyVersion
    }

    func validate(limits: WireLimits) throws(WireError) {
        let total = Int(accepted) + Int(rejected)
        guard total <= limits.maxTrajectories else {
            throw .tooLarge(what: "accepted + rejected of batch ack", size: total, limit: limits.maxTrajectories)
        }
        try Validation.checkText(reason.utf8, what: "reason of batch ack", limits: limits, allowEmpty: rejected == 0)
    }
}
