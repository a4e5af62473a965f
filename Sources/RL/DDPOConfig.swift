/// Every DDPO hyperparameter, defaults in one place. Defaults are the reference DDPO
/// implementation's (ALGORITHM.md) except `steps`, `minibatchSize` and
/// `trajectoriesPerStep`, which are sized for this world's small denoiser; tune by measurement.
public struct DDPOConfig: Sendable, Equatable, Codable {
    /// AdamW learning rate.
    public var learningRate: Float = 3e-4
    /// AdamW β1.
    public var beta1: Float = 0.9
    /// AdamW β2.
    public var beta2: Float = 0.999
    /// AdamW ε.
    public var adamEpsilon: Float = 1e-8
    /// AdamW decoupled weight decay λ (rank-1 parameters — biases, norms — are exempt).
    public var weightDecay: Float = 1e-4
    /// Global gradient L2 norm is clipped to this before each optimizer step.
    public var maxGradNorm: Float = 1
    /// PPO clip range ε: ratios are clipped to [1 − ε, 1 + ε].
    public var clipRange: Float = 1e-4
    /// Advantages are clamped to ±advantageClip.
    public var advantageClip: Float = 5
    /// Rewards kept per prompt for the per-prompt statistics.
    public var buffer: Int = 16
    /// Rewards a prompt needs before its own statistics replace the batch's.
    public var minCount: Int = 16
    /// Passes over each batch of trajectories per update.
    public var innerEpochs: Int = 1
    /// Fraction of each trajectory's N steps trained per pass (at least one step).
    public var timestepFraction: Double = 1
    /// Steps whose policy σ_t is below this are not trained (0 = train every step, the
    /// reference). A step's log-prob gradient is ∝ z/σ_t, so a near-deterministic final step
    /// (σ ≈ 0.006 for the world's 10-step sampler, against ≥ 0.14 for the others) would
    /// dominate every update with noise while its action barely changes the image.
    public var minTrainedSigma: Double = 0
    /// Classifier-free guidance scale w.
    public var guidance: Float = 5
    /// DDIM η (> 0: the policy must be stochastic to have log-probs).
    public var eta: Double = 1
    /// N: DDIM sampling steps per trajectory.
    public var steps: Int = 20
    /// (sample, step) pairs per denoiser pass; the pass runs 2× as many rows (guidance),
    /// so this bounds the learner's activation memory.
    public var minibatchSize: Int = 32
    /// Trajectories whose gradients are accumulated into one optimizer step.
    public var trajectoriesPerStep: Int = 32

    public init() {}

    /// The trainable steps K of an N-step trajectory: ⌊N·timestepFraction⌋, at least 1.
    public func trainedSteps(of n: Int) -> Int { max(1, min(n, Int((Double(n) * timestepFraction + 1e-9).rounded(.down)))) }

    /// Throws on the first field outside its range.
    public func validate() throws(DDPOError) {
        func check(_ ok: Bool, _ field: String, _ value: Any, _ expected: String) throws(DDPOError) {
            if !ok { throw .invalidConfig(field: field, value: "\(value)", expected: expected) }
        }
        try check(learningRate >= 0 && learningRate.isFinite, "learningRate", learningRate, "finite, ≥ 0")
        try check((0..<1).contains(beta1), "beta1", beta1, "in [0, 1)")
        try check((0..<1).contains(beta2), "beta2", beta2, "in [0, 1)")
        try check(adamEpsilon > 0, "adamEpsilon", adamEpsilon, "> 0")
        try check(weightDecay >= 0, "weightDecay", weightDecay, "≥ 0")
        try check(maxGradNorm > 0, "maxGradNorm", maxGradNorm, "> 0")
        try check(clipRange > 0 && clipRange < 1, "clipRange", clipRange, "in (0, 1)")
        try check(advantageClip > 0, "advantageClip", advantageClip, "> 0")
        try check(buffer >= 1, "buffer", buffer, "≥ 1")
        try check((0...buffer).contains(minCount), "minCount", minCount, "in 0...buffer (\(buffer))")
        try check(innerEpochs >= 1, "innerEpochs", innerEpochs, "≥ 1")
        try check(timestepFraction > 0 && timestepFraction <= 1, "timestepFraction", timestepFraction, "in (0, 1]")
        try check(minTrainedSigma >= 0 && minTrainedSigma.isFinite, "minTrainedSigma", minTrainedSigma, "finite, ≥ 0")
        try check(guidance.isFinite, "guidance", guidance, "finite")
        try check(eta > 0 && eta.isFinite, "eta", eta, "> 0 (log-probs need a stochastic step)")
        try check(steps >= 1, "steps", steps, "≥ 1")
        try check(minibatchSize >= 1, "minibatchSize", minibatchSize, "≥ 1")
        try check(trajectoriesPerStep >= 1, "trajectoriesPerStep", trajectoriesPerStep, "≥ 1")
    }
}
