import Numerics

/// The mini-CLIP image tower: a small CNN on (B, 3, S, S) images in [0, 1].
///
///     conv3×3 3→c₀, SiLU, then for each further width cᵢ: conv3×3 stride 2 cᵢ₋₁→cᵢ, SiLU;
///     flatten the (cₙ, S/2ⁿ, S/2ⁿ) map, Linear → D.
///
/// The map is flattened rather than average-pooled: the world's captions name the object's
/// position, and a global average would have to rediscover it from border effects.
/// Follows the layer convention of `Linear`.
public final class ImageEncoder {
    /// The architecture; the defaults are the shipped model.
    public struct Config: Codable, Sendable, Equatable {
        /// S: image side in pixels.
        public var side = 32
        /// Output channels of each convolution; every one after the first halves the side.
        public var channels = [32, 64, 64, 64]
        /// D: output features.
        public var width = 64

        /// The shipped architecture.
        public init() {}

        /// Any architecture (tests use tiny ones).
        public init(side: Int, channels: [Int], width: Int) {
            (self.side, self.channels, self.width) = (side, channels, width)
        }

        /// Side of the last feature map.
        var finalSide: Int { side >> (channels.count - 1) }
    }

    public let config: Config
    private let convs: [Conv2d]
    private let activations: [SiLU]
    private let head: Linear

    /// Parameters registered in `store` under `name`.
    public init(_ store: ParameterStore, name: String = "image", config: Config = Config(), rng: inout RandomGenerator) {
        precondition(!config.channels.isEmpty && config.finalSide >= 1 && config.finalSide << (config.channels.count - 1) == config.side,
                     "ImageEncoder: side \(config.side) must halve \(config.channels.count - 1) times exactly")
        self.config = config
        var convs: [Conv2d] = []
        var inChannels = 3
        for (i, c) in config.channels.enumerated() {
            convs.append(Conv2d(store, name: "\(name).conv\(i)", inChannels: inChannels, outChannels: c,
                                kernel: 3, stride: i == 0 ? 1 : 2, padding: 1, rng: &rng))
            inChannels = c
        }
        self.convs = convs
        activations = convs.map { _ in SiLU() }
        head = Linear(store, name: "\(name).head", inFeatures: inChannels * config.finalSide * config.finalSide,
                      outFeatures: config.width, rng: &rng)
    }

    /// Features (B, D) of images (B, 3, S, S) with values in [0, 1].
    public func forward(_ images: Tensor) -> Tensor {
        precondition(images.rank == 4 && Array(images.shape.dropFirst()) == [3, config.side, config.side],
                     "ImageEncoder expects (B, 3, \(config.side), \(config.side)), got \(images.shape)")
        var x = images                                          // x: (B, 3, S, S), centred to [−1, 1]
        for i in x.data.indices { x.data[i] = 2 * x.data[i] - 1 }
        for (conv, act) in zip(convs, activations) { x = act.forward(conv.forward(x)) }
        return head.forward(x.reshaped([x.shape[0], x.count / x.shape[0]]))   // (B, D)
    }

    /// Adds every parameter's gradient from dL/dfeatures (B, D); returns dL/dimages (B, 3, S, S).
    public func backward(_ dFeatures: Tensor) -> Tensor {
        let s = config.finalSide
        var dx = head.backward(dFeatures).reshaped([dFeatures.shape[0], config.channels.last!, s, s])
        for (conv, act) in zip(convs, activations).reversed() { dx = conv.backward(act.backward(dx)) }
        for i in dx.data.indices { dx.data[i] *= 2 }
        return dx
    }
}
