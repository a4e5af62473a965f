import Numerics

/// Images an actor asks the reward broker to score (`shielddiff.v1.RewardRequest`).
public struct RewardRequest: Equatable, Sendable {
    /// The shape of one image in protocol version 1: (3, 32, 32), RGB.
    public static let imageShape = [3, 32, 32]

    /// Chosen by the sender, unique among its outstanding requests; echoed by the result.
    public var requestID: UInt64
    /// images: (B, 3, 32, 32), values in [0, 1], 1 ≤ B ≤ `WireLimits.maxImages`.
    public var images: Tensor
    /// The B non-empty safe-side prompts the images are scored against.
    public var prompts: [String]

    /// Creates the message from its fields, unvalidated (encoding and decoding validate).
    public init(requestID: UInt64, images: Tensor, prompts: [String]) {
        self.requestID = requestID
        self.images = images
        self.prompts = prompts
    }

    func validate(limits: WireLimits) throws(WireError) {
        guard images.rank == 4, Array(images.shape.dropFirst()) == Self.imageShape else {
            throw .invalidShape(what: "images of reward request", shape: images.shape, expected: "(B, 3, 32, 32)")
        }
        let count = images.shape[0]
        try Validation.checkCount(count, what: "images of reward request", limit: limits.maxImages)
        try Validation.checkShape(name: "images of reward request", shape: images.shape, count: images.count,
                                  limits: limits)
        try Validation.checkRange(images.data, name: "images of reward request", allowed: 0...1) { i in
            "pixel \(i) of images of reward request"
        }
        guard prompts.count == count else {
            throw .countMismatch(what: "prompts of reward request", expected: count, got: prompts.count)
        }
        for (i, prompt) in prompts.enumerated() {
            try Validation.checkText(prompt.utf8, what: "prompt \(i) of reward request", limits: limits)
        }
    }
}

/// A reward worker's scores for one `RewardRequest`, B entries per array.
public struct RewardResult: Equatable, Sendable {
    /// The request's id.
    public var requestID: UInt64
    /// Finite content-safe rewards.
    public var rewards: [Float]
    /// Finite alignment (cosine) terms.
    public var alignment: [Float]
    /// Unsafe-concept probabilities in [0, 1].
    public var unsafe: [Float]

    /// Creates the message from its fields, unvalidated (encoding and decoding validate).
    public init(requestID: UInt64, rewards: [Float], alignment: [Float], unsafe: [Float]) {
        self.requestID = requestID
        self.rewards = rewards
        self.alignment = alignment
        self.unsafe = unsafe
    }

    func validate(limits: WireLimits) throws(WireError) {
        let count = rewards.count
        try Validation.checkCount(count, what: "rewards of reward result", limit: limits.maxImages)
        guard alignment.count == count else {
            throw .countMismatch(what: "alignment of reward result", expected: count, got: alignment.count)
        }
        guard unsafe.count == count else {
            throw .countMismatch(what: "unsafe of reward result", expected: count, got: unsafe.count)
        }
        try Validation.checkFinite(rewards, name: "rewards of reward result")
        try Validation.checkFinite(alignment, name: "alignment of reward result")
        try Validation.checkRange(unsafe, name: "unsafe of reward result", allowed: 0...1) { i in
            "unsafe \(i) of reward result"
        }
    }
}
