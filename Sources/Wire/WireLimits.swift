/// Bounds every decoded (and encoded) envelope must respect, so a bad or hostile peer
/// cannot make a receiver allocate or loop without bound.
public struct WireLimits: Equatable, Sendable {
    /// Largest encoded envelope, in bytes.
    public var maxMessageBytes: Int
    /// Most dimensions in one tensor shape.
    public var maxRank: Int
    /// Most elements in one tensor.
    public var maxElements: Int
    /// Most tensors in one tensor list.
    public var maxTensors: Int
    /// Longest tensor name or sender id, in UTF-8 bytes.
    public var maxNameBytes: Int

    public init(
        maxMessageBytes: Int = 64 << 20,
        maxRank: Int = 8,
        maxElements: Int = 16 << 20,
        maxTensors: Int = 1024,
        maxNameBytes: Int = 256
    ) {
        self.maxMessageBytes = maxMessageBytes
        self.maxRank = maxRank
        self.maxElements = maxElements
        self.maxTensors = maxTensors
        self.maxNameBytes = maxNameBytes
    }

    /// The defaults: 64 MiB messages, rank 8, 16 Mi elements per tensor, 1024 tensors, 256-byte names.
    public static let `default` = WireLimits()
}
