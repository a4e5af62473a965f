import Diffusion
import Numerics

/// The text conditions of a guided batch of B images, stacked as one UNet batch of 2B:
/// items 0..<B carry the prompts, items B..<2B the null prompt.
public struct GuidanceContext: Sendable {
    /// B: images guided.
    public let batch: Int
    /// Per-token embeddings: (2B, Tk, Dc).
    public let tokens: Tensor
    /// Key padding mask: (2B, Tk).
    public let mask: KeyPaddingMask
    /// Pooled embeddings: (2B, Dp).
    public let pooled: Tensor

    /// From the prompts' and the null prompt's encodings, each of B items.
    public init(conditional c: TextEncoding, unconditional u: TextEncoding) {
        precondition(c.tokens.shape == u.tokens.shape && c.pooled.shape == u.pooled.shape,
                     "GuidanceContext: conditional \(c.tokens.shape) and unconditional \(u.tokens.shape) differ")
        batch = c.tokens.shape[0]
        tokens = .stackBatch([c.tokens, u.tokens])
        pooled = .stackBatch([c.pooled, u.pooled])
        mask = KeyPaddingMask(batch: 2 * batch, keys: c.mask.keys, attend: c.mask.attend + u.mask.attend)
    }

    private init(batch: Int, tokens: Tensor, mask: KeyPaddingMask, pooled: Tensor) {
        (self.batch, self.tokens, self.mask, self.pooled) = (batch, tokens, mask, pooled)
    }

    /// The conditions of images `range` only.
    public func slice(_ range: Range<Int>) -> GuidanceContext {
        let u = (range.lowerBound + batch)..<(range.upperBound + batch)
        let keys = mask.keys
        return GuidanceContext(batch: range.count,
                               tokens: .stackBatch([tokens.batchSlice(range), tokens.batchSlice(u)]),
                               mask: KeyPaddingMask(batch: 2 * range.count, keys: keys,
                                                    attend: Array(mask.attend[(range.lowerBound * keys)..<(range.upperBound * keys)])
                                                        + Array(mask.attend[(u.lowerBound * keys)..<(u.upperBound * keys)])),
                               pooled: .stackBatch([pooled.batchSlice(range), pooled.batchSlice(u)]))
    }
}

extension UNet {
    /// Classifier-free guided noise ε = ε(x, t, ∅) + w·(ε(x, t, c) − ε(x, t, ∅)) for latents
    /// x: (B, 12, H, W) all at timestep `t`, as one UNet batch of 2B (`Diffusion.GuidancePair`).
    public func guidedNoise(_ x: Tensor, timestep t: Int, conditioning c: GuidanceContext, scale w: Float) -> Tensor {
        let b = c.batch
        precondition(x.shape.first == b, "guidedNoise: latents \(x.shape) for \(b) conditions")
        let eps = forward(GuidancePair.input(x), timesteps: [Float](repeating: Float(t), count: 2 * b),
                          context: c.tokens, mask: c.mask, pooled: c.pooled)  // eps: (2B, 12, H, W)
        return GuidancePair.noise(eps, scale: w)
    }

    /// Adds every parameter's gradient for dL/dε of the last `guidedNoise` call with scale `w`.
    public func guidedBackward(_ dEps: Tensor, scale w: Float) {
        backward(GuidancePair.gradient(dEps, scale: w))
    }
}
