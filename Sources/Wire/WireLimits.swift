/// Bounds every decoded (and encoded) envelope must respect, so a bad or hostile peer
/// cannot make a receiver allocate or loop without bound.
public struct WireLimits: Equatable, Sendable {
    /// Largest encoded envelope, in bytes.
    public var maxMessageBytes: Int
    /// Most dimensions in one tensor shape.
    public var maxRank: Int
    /// Most elements in one tensor.
    public var maxElements: Int
    /// Most tensors in one tensor list or weights message.
    public var maxTensors: Int
    /// Longest tensor name, sender id, instance id or metric name, in UTF-8 bytes.
    public var maxNameBytes: Int
    /// Longest free text (prompt, reason, run id, config digest, error detail), in UTF-8 bytes.
    public var maxTextBytes: Int
    /// Most trajectories in one trajectory batch.
    public var maxTrajectories: Int
    /// Most denoising steps (timesteps) in one trajectory.
    public var maxSteps: Int
    /// Most images in one reward request (and scores in one reward result).
    public var maxImages: Int
    /// Most metrics in one stats or heartbeat message.
    public var maxMetrics: Int

    public init(
        maxMessageBytes: Int = 64 << 20,
        maxRank: Int = 8,
        maxElements: Int = 16 << 20,
        maxTensors: Int = 1024,
        maxNameBytes: Int = 256,
        maxTextBytes: Int = 4096,
        maxTrajectories: Int = 1024,
        maxSteps: Int = 1000,
        maxImages: Int = 1024,
        maxMetrics: Int = 256
    ) {
        self.maxMessageBytes = maxMessageBytes
        self.maxRank = maxRank
        self.maxElements = maxElements
        self.maxTensors = maxTensors
        self.maxNameBytes = maxNameBytes
        self.maxTextBytes = maxTextBytes
        self.maxTrajectories = maxTrajectories
        self.maxSteps = maxSteps
        self.maxImages = maxImages
        self.maxMetrics = maxMetrics
    }

    /// The defaults: 64 MiB messages, rank 8, 16 Mi elements per tensor, 1024 tensors,
    /// 256-byte names, 4 KiB texts, 1024 trajectories of at most 1000 steps, 1024 images,
    /// 256 metrics.
    public static let `default` = WireLimits()
}
