import Numerics

/// The denoiser's conditioning vector from the timestep and the pooled text embedding:
///
///     e    = Linear₂(SiLU(Linear₁(sinusoidal(t)))) + Linear_p(pooled)
///     temb = SiLU(e)
///
/// As in SDXL, the pooled text is added to the time embedding; the final SiLU is the one
/// SD applies inside each residual block, moved here because `ResidualBlock` feeds the
/// embedding straight into its Linear. Follows the layer convention of `Linear`.
final class TimeEmbedding {
    let sinusoidDim: Int
    let dim: Int
    private let time1: Linear
    private let act1 = SiLU()
    private let time2: Linear
    private let pooledProjection: Linear
    private let act2 = SiLU()

    init(_ store: ParameterStore, name: String, sinusoidDim: Int, dim: Int, pooledDim: Int,
         rng: inout RandomGenerator) {
        self.sinusoidDim = sinusoidDim
        self.dim = dim
        time1 = Linear(store, name: "\(name).time1", inFeatures: sinusoidDim, outFeatures: dim, rng: &rng)
        time2 = Linear(store, name: "\(name).time2", inFeatures: dim, outFeatures: dim, rng: &rng)
        pooledProjection = Linear(store, name: "\(name).pooled", inFeatures: pooledDim, outFeatures: dim, rng: &rng)
    }

    /// Its three linear layers by short name.
    var linears: [(name: String, layer: Linear)] { [("time1", time1), ("time2", time2), ("pooled", pooledProjection)] }

    /// timesteps: (B) training-step indices as floats, pooled: (B, Dp) → temb: (B, dim).
    func forward(timesteps: [Float], pooled: Tensor) -> Tensor {
        precondition(pooled.shape.first == timesteps.count, "TimeEmbedding: pooled \(pooled.shape) for \(timesteps.count) timesteps")
        var e = time2.forward(act1.forward(time1.forward(
            sinusoidalTimestepEmbedding(timesteps, dim: sinusoidDim))))  // e: (B, dim)
        e.add(pooledProjection.forward(pooled))
        return act2.forward(e)
    }

    /// dL/dpooled: (B, Dp) of the last `backward` (the text encoder is frozen in training;
    /// the white-box attacks descend it).
    private(set) var pooledGradient: Tensor?

    /// Adds the parameter gradients from dL/dtemb: (B, dim).
    func backward(_ dtemb: Tensor) {
        let de = act2.backward(dtemb)  // de: (B, dim)
        pooledGradient = pooledProjection.backward(de)
        _ = time1.backward(act1.backward(time2.backward(de)))
    }
}

/// A pre-norm residual attention block over a feature map: y = x + Attention(GroupNorm(x)),
/// self-attention over the pixels or cross-attention to the text tokens. The attention's
/// projections are `Linear` layers (the targets of LoRA adapters). Follows the layer
/// convention of `Linear`.
final class AttentionBlock {
    private let norm: GroupNorm
    let attention: SpatialAttention
    let isCross: Bool

    /// `contextDim` nil: self-attention; otherwise cross-attention to a (B, Tk, contextDim) context.
    init(_ store: ParameterStore, name: String, channels: Int, contextDim: Int?, heads: Int, groups: Int,
         rng: inout RandomGenerator) {
        norm = GroupNorm(store, name: "\(name).norm", channels: channels, groups: groups)
        attention = SpatialAttention(store, name: "\(name).attn", channels: channels, contextDim: contextDim,
                                     heads: heads, rng: &rng)
        isCross = contextDim != nil
    }

    /// x: (B, C, H, W) → (B, C, H, W); `context` (B, Tk, Dc) and `mask` only for cross-attention.
    func forward(_ x: Tensor, context: Tensor? = nil, mask: KeyPaddingMask? = nil) -> Tensor {
        precondition(isCross == (context != nil), "AttentionBlock: context must be given exactly for cross-attention")
        var y = attention.forward(norm.forward(x), context: context, mask: mask)  // y: (B, C, H, W)
        y.add(x)
        return y
    }

    /// dL/dcontext: (B, Tk, Dc) of the last cross-attention `backward` (the text encoder is
    /// frozen in training; the white-box attacks descend it).
    private(set) var contextGradient: Tensor?

    /// dy: (B, C, H, W) → dx.
    func backward(_ dy: Tensor) -> Tensor {
        let (da, dcontext) = attention.backward(dy)
        contextGradient = dcontext
        var dx = norm.backward(da)  // dx: (B, C, H, W)
        dx.add(dy)
        return dx
    }
}

/// (B, C₁, H, W) and (B, C₂, H, W) → (B, C₁+C₂, H, W): the UNet's skip concatenation.
func concatChannels(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.rank == 4 && b.rank == 4 && a.shape[0] == b.shape[0] && a.shape[2...] == b.shape[2...],
                 "concatChannels: \(a.shape) and \(b.shape)")
    let batch = a.shape[0], na = a.count / batch, nb = b.count / batch
    var data = [Float]()
    data.reserveCapacity(a.count + b.count)
    for i in 0..<batch {
        data += a.data[(i * na)..<((i + 1) * na)]
        data += b.data[(i * nb)..<((i + 1) * nb)]
    }
    return Tensor(shape: [batch, a.shape[1] + b.shape[1], a.shape[2], a.shape[3]], data: data)
}

/// The adjoint of `concatChannels`: (B, C₁+C₂, H, W) → its first C₁ and last C₂ channels.
func splitChannels(_ x: Tensor, first c1: Int) -> (Tensor, Tensor) {
    precondition(x.rank == 4 && c1 <= x.shape[1], "splitChannels: \(c1) channels of \(x.shape)")
    let batch = x.shape[0], plane = x.shape[2] * x.shape[3], c2 = x.shape[1] - c1
    let n = x.count / batch, na = c1 * plane
    var a = [Float](), b = [Float]()
    a.reserveCapacity(batch * na)
    b.reserveCapacity(batch * c2 * plane)
    for i in 0..<batch {
        a += x.data[(i * n)..<(i * n + na)]
        b += x.data[(i * n + na)..<((i + 1) * n)]
    }
    return (Tensor(shape: [batch, c1, x.shape[2], x.shape[3]], data: a),
            Tensor(shape: [batch, c2, x.shape[2], x.shape[3]], data: b))
}
