/// The diffusion UNet's residual block, conditioned on a time embedding:
///
///     h   = Conv3×3(SiLU(GroupNorm(x))) + Linear(temb)   (broadcast over H, W)
///     out = Conv3×3(SiLU(GroupNorm(h))) + skip(x)
///
/// where skip is a 1×1 convolution when the channel count changes and the identity
/// otherwise. Follows the layer convention of `Linear`, with two inputs and two gradients.
public final class ResidualBlock {
    public let inChannels: Int
    public let outChannels: Int
    public let timeDim: Int
    private let norm1: GroupNorm                 // with SiLU fused in
    private let conv1: Conv2d
    private let timeProjection: Linear
    private let norm2: GroupNorm                 // with SiLU fused in
    private let conv2: Conv2d
    private let skip: Conv2d?

    /// `groups` must divide both channel counts.
    public init(_ store: ParameterStore, name: String, inChannels: Int, outChannels: Int, timeDim: Int,
                groups: Int, rng: inout RandomGenerator) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.timeDim = timeDim
        norm1 = GroupNorm(store, name: "\(name).norm1", channels: inChannels, groups: groups, silu: true)
        conv1 = Conv2d(store, name: "\(name).conv1", inChannels: inChannels, outChannels: outChannels,
                       kernel: 3, padding: 1, rng: &rng)
        timeProjection = Linear(store, name: "\(name).time", inFeatures: timeDim, outFeatures: outChannels, rng: &rng)
        norm2 = GroupNorm(store, name: "\(name).norm2", channels: outChannels, groups: groups, silu: true)
        conv2 = Conv2d(store, name: "\(name).conv2", inChannels: outChannels, outChannels: outChannels,
                       kernel: 3, padding: 1, rng: &rng)
        skip = inChannels == outChannels ? nil
            : Conv2d(store, name: "\(name).skip", inChannels: inChannels, outChannels: outChannels, kernel: 1, rng: &rng)
    }

    /// The convolutions (conv1, conv2, and the 1×1 skip when channels change) by short name.
    public var convolutions: [(name: String, layer: Conv2d)] {
        [("conv1", conv1), ("conv2", conv2)] + (skip.map { [("skip", $0)] } ?? [])
    }

    /// The projection of the time embedding.
    public var timeLinear: Linear { timeProjection }

    /// x: (B, Cin, H, W), temb: (B, T) → (B, Cout, H, W).
    public func forward(_ x: Tensor, temb: Tensor) -> Tensor {
        precondition(temb.shape == [x.shape[0], timeDim], "ResidualBlock: temb \(temb.shape) for input \(x.shape)")
        var h = conv1.forward(norm1.forward(x))  // h: (B, Cout, H, W)
        h.addPerPlane(timeProjection.forward(temb))            // t: (B, Cout)
        var y = conv2.forward(norm2.forward(h))  // y: (B, Cout, H, W)
        y.add(skip?.forward(x) ?? x)
        return y
    }

    /// dy: (B, Cout, H, W) → dx: (B, Cin, H, W), dtemb: (B, T).
    public func backward(_ dy: Tensor) -> (dx: Tensor, dtemb: Tensor) {
        let dh = norm2.backward(conv2.backward(dy))  // dh: (B, Cout, H, W)
        let dtemb = timeProjection.backward(dh.sumPerPlane())        // dtemb: (B, T)
        var dx = norm1.backward(conv1.backward(dh))   // dx: (B, Cin, H, W)
        dx.add(skip?.backward(dy) ?? dy)
        return (dx, dtemb)
    }
}
