import Diffusion
import Numerics

/// The text-conditioned ε-prediction denoiser (the world's Stable Diffusion UNet), over the
/// 16×16×12 space-to-depth view of an image scaled to [−1, 1]:
///
///     h0 = conv_in(x) + pos                                  (B, c1, 16, 16)
///     h1 = cross1(res1(h0, temb))                            (B, c1, 16, 16)  skip
///     h2 = cross2(self2(res2(avgpool(h1), temb)))            (B, c2, 8, 8)
///     h3 = mid(h2, temb)                                     (B, c2, 8, 8)
///     h4 = cross3(res3(concat(upsample(h3), h1), temb))      (B, c1, 16, 16)
///     v̂  = conv_out(SiLU(GroupNorm(h4)))                     (B, 12, 16, 16)
///     ε̂  = √(1−ᾱ_t)·x + √ᾱ_t·v̂
///
/// The network predicts the velocity v = √ᾱ·ε − √(1−ᾱ)·x_0 (Salimans & Ho, 2022) and `forward`
/// returns the ε it implies, so sampler, guidance and RL see an ε-prediction model. Why: the
/// cosine schedule has ᾱ_999 ≈ 2.4e−9, so an ε-network's x̂_0 = (x_t − √(1−ᾱ)·ε̂)/√ᾱ at the
/// first sampling step multiplies its error by 2·10⁴ (clipped, it becomes a random ±1 image that
/// steers the layout of every sample), while x̂_0 = √ᾱ·x_t − √(1−ᾱ)·v̂ is well conditioned at
/// every t. The step itself still computes x̂_0 from ε̂; Float32 rounding of ε̂ then costs ~1e−3.
///
/// temb mixes the timestep and the pooled text (`TimeEmbedding`); every cross-attention reads
/// the text encoder's per-token embeddings under their key padding mask. conv_out starts at
/// zero, so the untrained model predicts v = 0. The 8×8 level carries the only self-attention:
/// there it is cheap and gives every pixel the whole image (where the object is).
///
/// `pos` is a learned embedding of each latent pixel's location (12k parameters, one add):
/// attention is blind to where a pixel is, and a prompt's position ("on the left") can only be
/// drawn by pixels that know theirs; without it that knowledge must come from zero padding.
///
/// Follows the layer convention of `Linear` (one forward per backward, either `forward` with
/// `backward` or `forwardVelocity` with `backwardVelocity`); the backward passes add the
/// gradient of every parameter and ignore the text (the text encoder is frozen).
public final class UNet {
    /// The architecture; the defaults are the shipped model.
    public struct Config: Codable, Sendable, Equatable {
        /// Channels of the input and output (space-to-depth of RGB: 12).
        public var imageChannels = 12
        /// Height and width of the latents (32×32 images at 2×2 space-to-depth: 16).
        public var side = 16
        /// c1: channels at the full (16×16) resolution.
        public var channels = 48
        /// c2: channels at half resolution.
        public var innerChannels = 96
        /// Features of the time embedding.
        public var timeDim = 192
        /// Features of the sinusoidal timestep encoding fed to the time MLP.
        public var sinusoidDim = 48
        /// Dc: features per text token (cross-attention context).
        public var contextDim = 64
        /// Features of the pooled text embedding.
        public var pooledDim = 64
        /// Attention heads of every attention block.
        public var heads = 4
        /// GroupNorm groups (divides c1, c2 and c1 + c2).
        public var groups = 8

        /// The shipped architecture.
        public init() {}

        /// Any architecture (tests use tiny ones).
        public init(imageChannels: Int = 12, side: Int = 16, channels: Int, innerChannels: Int, timeDim: Int,
                    sinusoidDim: Int, contextDim: Int, pooledDim: Int, heads: Int, groups: Int) {
            (self.imageChannels, self.side, self.channels, self.innerChannels) = (imageChannels, side, channels, innerChannels)
            (self.timeDim, self.sinusoidDim, self.contextDim, self.pooledDim) = (timeDim, sinusoidDim, contextDim, pooledDim)
            (self.heads, self.groups) = (heads, groups)
        }

        /// Multiply-add FLOPs (2 per multiply-add) of one forward pass on one image of
        /// `side` × `side` latent pixels: convolutions, attention projections and products.
        public func forwardFlops(contextTokens: Int = 16) -> Double {
            let (c1, c2, ci) = (Double(channels), Double(innerChannels), Double(imageChannels))
            let full = Double(side * side), half = full / 4, tk = Double(contextTokens), dc = Double(contextDim)
            func conv(_ cin: Double, _ cout: Double, _ k: Double, _ pixels: Double) -> Double { 2 * pixels * cin * cout * k * k }
            func res(_ cin: Double, _ cout: Double, _ pixels: Double) -> Double {
                conv(cin, cout, 3, pixels) + conv(cout, cout, 3, pixels) + (cin == cout ? 0 : conv(cin, cout, 1, pixels))
            }
            func cross(_ c: Double, _ pixels: Double) -> Double { 2 * 2 * pixels * c * c + 2 * 2 * tk * dc * c + 2 * 2 * pixels * tk * c }
            func selfAttention(_ c: Double, _ pixels: Double) -> Double { 4 * 2 * pixels * c * c + 2 * 2 * pixels * pixels * c }
            return conv(ci, c1, 3, full) + res(c1, c1, full) + cross(c1, full)
                + res(c1, c2, half) + selfAttention(c2, half) + cross(c2, half)
                + res(c2, c2, half)
                + res(c2 + c1, c1, full) + cross(c1, full)
                + conv(c1, ci, 3, full)
        }
    }

    public let config: Config
    /// Every parameter of the denoiser, names prefixed `unet.`.
    public let store: ParameterStore
    let time: TimeEmbedding
    let convIn: Conv2d
    private let position: ParameterStore.Parameter  // pos: (c1, side, side)
    let res1: ResidualBlock
    let cross1: AttentionBlock
    private let pool = AvgPool2x()
    let res2: ResidualBlock
    let self2: AttentionBlock
    let cross2: AttentionBlock
    let mid: ResidualBlock
    private let up = Upsample2x()
    let res3: ResidualBlock
    let cross3: AttentionBlock
    private let normOut: GroupNorm  // with SiLU fused in
    let convOut: Conv2d
    private let schedule = NoiseSchedule()
    private var epsCoefficients: [(x: Float, v: Float)]?  // (B): ε̂ = x·√(1−ᾱ) + v̂·√ᾱ per item

    /// A freshly initialised denoiser in its own store, drawn from `rng`.
    public init(config: Config = Config(), rng: inout RandomGenerator) {
        let c = config
        precondition(c.channels % c.groups == 0 && c.innerChannels % c.groups == 0,
                     "UNet: \(c.groups) groups must divide \(c.channels) and \(c.innerChannels) channels")
        self.config = c
        let s = ParameterStore(reserve: 1 << 20)
        store = s
        time = TimeEmbedding(s, name: "unet.temb", sinusoidDim: c.sinusoidDim, dim: c.timeDim,
                             pooledDim: c.pooledDim, rng: &rng)
        convIn = Conv2d(s, name: "unet.conv_in", inChannels: c.imageChannels, outChannels: c.channels,
                        kernel: 3, padding: 1, rng: &rng)
        // Random codes of the size of conv_in's outputs tell the pixels apart from the first step.
        position = s.register("unet.pos_embed", shape: [c.channels, c.side, c.side],
                              values: Tensor(randomNormal: [c.channels, c.side, c.side], std: 0.3, rng: &rng).data)
        res1 = ResidualBlock(s, name: "unet.down.res", inChannels: c.channels, outChannels: c.channels,
                             timeDim: c.timeDim, groups: c.groups, rng: &rng)
        cross1 = AttentionBlock(s, name: "unet.down.cross", channels: c.channels, contextDim: c.contextDim,
                                heads: c.heads, groups: c.groups, rng: &rng)
        res2 = ResidualBlock(s, name: "unet.inner.res", inChannels: c.channels, outChannels: c.innerChannels,
                             timeDim: c.timeDim, groups: c.groups, rng: &rng)
        self2 = AttentionBlock(s, name: "unet.inner.self", channels: c.innerChannels, contextDim: nil,
                               heads: c.heads, groups: c.groups, rng: &rng)
        cross2 = AttentionBlock(s, name: "unet.inner.cross", channels: c.innerChannels, contextDim: c.contextDim,
                                heads: c.heads, groups: c.groups, rng: &rng)
        mid = ResidualBlock(s, name: "unet.mid.res", inChannels: c.innerChannels, outChannels: c.innerChannels,
                            timeDim: c.timeDim, groups: c.groups, rng: &rng)
        res3 = ResidualBlock(s, name: "unet.up.res", inChannels: c.innerChannels + c.channels,
                             outChannels: c.channels, timeDim: c.timeDim, groups: c.groups, rng: &rng)
        cross3 = AttentionBlock(s, name: "unet.up.cross", channels: c.channels, contextDim: c.contextDim,
                                heads: c.heads, groups: c.groups, rng: &rng)
        normOut = GroupNorm(s, name: "unet.norm_out", channels: c.channels, groups: c.groups, silu: true)
        convOut = Conv2d(s, name: "unet.conv_out", inChannels: c.channels, outChannels: c.imageChannels,
                         kernel: 3, padding: 1, rng: &rng)
        s.set(convOut.weight, Tensor(zeros: convOut.weight.shape))
    }

    /// ε̂: (B, 12, H, W) for noisy latents x: (B, 12, H, W) at `timesteps` (B), conditioned on
    /// per-token text embeddings `context` (B, Tk, Dc) with their padding `mask`, and the
    /// pooled text `pooled` (B, Dp).
    public func forward(_ x: Tensor, timesteps: [Float], context: Tensor, mask: KeyPaddingMask,
                        pooled: Tensor) -> Tensor {
        var eps = forwardVelocity(x, timesteps: timesteps, context: context, mask: mask, pooled: pooled)  // v̂ → ε̂
        let coefficients = timesteps.map { t in
            let abar = schedule.alphaBar(at: Int(t.rounded()))
            return (x: Float((1 - abar).squareRoot()), v: Float(abar.squareRoot()))
        }
        let n = x.count / max(x.shape[0], 1)
        for (i, k) in coefficients.enumerated() {
            for j in (i * n)..<((i + 1) * n) { eps.data[j] = k.x * x.data[j] + k.v * eps.data[j] }
        }
        epsCoefficients = coefficients
        return eps
    }

    /// Adds every parameter's gradient for dL/dε̂: (B, 12, H, W) of the last `forward` and
    /// returns dL/dx.
    @discardableResult
    public func backward(_ dEps: Tensor) -> Tensor {
        guard let coefficients = epsCoefficients else { preconditionFailure("UNet.backward before forward") }
        epsCoefficients = nil
        var dv = dEps  // dL/dv̂ = √ᾱ·dL/dε̂
        let n = dEps.count / coefficients.count
        for (i, k) in coefficients.enumerated() { for j in (i * n)..<((i + 1) * n) { dv.data[j] *= k.v } }
        var dx = backwardVelocity(dv)
        for (i, k) in coefficients.enumerated() { for j in (i * n)..<((i + 1) * n) { dx.data[j] += k.x * dEps.data[j] } }
        return dx
    }

    /// The network's own output v̂: (B, 12, H, W), for the same inputs as `forward`.
    public func forwardVelocity(_ x: Tensor, timesteps: [Float], context: Tensor, mask: KeyPaddingMask,
                                pooled: Tensor) -> Tensor {
        let c = config
        precondition(x.rank == 4 && Array(x.shape[1...]) == [c.imageChannels, c.side, c.side] && c.side % 2 == 0,
                     "UNet expects (B, \(c.imageChannels), \(c.side), \(c.side)), got \(x.shape)")
        let b = x.shape[0]
        precondition(timesteps.count == b && context.shape.first == b && mask.batch == b && pooled.shape == [b, c.pooledDim],
                     "UNet: batch \(b) with \(timesteps.count) timesteps, context \(context.shape), pooled \(pooled.shape)")
        let temb = time.forward(timesteps: timesteps, pooled: pooled)                    // temb: (B, T)
        var h0 = convIn.forward(x)                                                       // h0: (B, c1, H, W)
        let pos = store.value(position), n = position.count                              // pos: (c1, H, W)
        h0.data.withUnsafeMutableBufferPointer { h in
            for i in 0..<b { for j in 0..<n { h[i * n + j] += pos[j] } }
        }
        let h1 = cross1.forward(res1.forward(h0, temb: temb), context: context, mask: mask)  // h1: (B, c1, H, W)
        var h = res2.forward(pool.forward(h1), temb: temb)                               // h: (B, c2, H/2, W/2)
        h = cross2.forward(self2.forward(h), context: context, mask: mask)
        h = mid.forward(h, temb: temb)
        h = res3.forward(concatChannels(up.forward(h), h1), temb: temb)                  // h: (B, c1, H, W)
        h = cross3.forward(h, context: context, mask: mask)
        return convOut.forward(normOut.forward(h))                                      // v̂: (B, 12, H, W)
    }

    /// Adds every parameter's gradient for dL/dv̂: (B, 12, H, W) of the last `forwardVelocity`
    /// and returns dL/dx.
    @discardableResult
    public func backwardVelocity(_ dV: Tensor) -> Tensor {
        var dh = normOut.backward(convOut.backward(dV))                       // dh: (B, c1, H, W)
        dh = cross3.backward(dh)
        var (dcat, dtemb) = res3.backward(dh)                                 // dcat: (B, c2 + c1, H, W), dtemb: (B, T)
        let (dup, dskip) = splitChannels(dcat, first: config.innerChannels)   // dskip: (B, c1, H, W)
        let (dmid, dtMid) = mid.backward(up.backward(dup))                    // dmid: (B, c2, H/2, W/2)
        let (dpool, dtInner) = res2.backward(self2.backward(cross2.backward(dmid)))  // dpool: (B, c1, H/2, W/2)
        dcat = pool.backward(dpool)                                           // (B, c1, H, W)
        dcat.add(dskip)
        let (dh0, dtDown) = res1.backward(cross1.backward(dcat))              // dh0: (B, c1, H, W)
        dtemb.add(dtMid)
        dtemb.add(dtInner)
        dtemb.add(dtDown)
        time.backward(dtemb)
        let dpos = store.grad(position), n = position.count
        for i in 0..<dh0.shape[0] { for j in 0..<n { dpos[j] += dh0.data[i * n + j] } }
        return convIn.backward(dh0)
    }

    /// dL/dcontext (B, Tk, Dc) and dL/dpooled (B, Dp) of the last `backward`: the gradient
    /// the white-box attacks push on into the text encoder.
    public var conditioningGradient: (context: Tensor, pooled: Tensor) {
        guard var dc = cross1.contextGradient, let d2 = cross2.contextGradient, let d3 = cross3.contextGradient,
              let dp = time.pooledGradient else { preconditionFailure("UNet.conditioningGradient before backward") }
        dc.add(d2)
        dc.add(d3)
        return (dc, dp)
    }

    /// Overwrites every parameter with those of `other`, a denoiser of the same config.
    public func copyParameters(from other: UNet) {
        precondition(other.config == config, "UNet.copyParameters: configs differ")
        store.values.update(fromContentsOf: other.store.values)
    }
}
