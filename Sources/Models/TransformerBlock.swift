import Numerics

/// A pre-LN transformer block (GPT-2, CLIP's text tower):
///
///     h = x + Attention(LN₁(x), mask)
///     y = h + W₂ · GELU(W₁ · LN₂(h))
///
/// Follows the layer convention of `Linear`: one forward per backward.
final class TransformerBlock {
    let norm1: LayerNorm
    let attention: MultiHeadAttention
    let norm2: LayerNorm
    let fc1: Linear
    let gelu = GELU()
    let fc2: Linear

    init(_ store: ParameterStore, name: String, width: Int, heads: Int, mlpWidth: Int, rng: inout RandomGenerator) {
        norm1 = LayerNorm(store, name: "\(name).ln1", features: width)
        attention = MultiHeadAttention(store, name: "\(name).attn", dim: width, heads: heads, rng: &rng)
        norm2 = LayerNorm(store, name: "\(name).ln2", features: width)
        fc1 = Linear(store, name: "\(name).fc1", inFeatures: width, outFeatures: mlpWidth, rng: &rng)
        fc2 = Linear(store, name: "\(name).fc2", inFeatures: mlpWidth, outFeatures: width, rng: &rng)
    }

    /// y: (B, T, D) from x: (B, T, D); `mask` (B, T) hides padding keys.
    func forward(_ x: Tensor, mask: KeyPaddingMask) -> Tensor {
        var h = x                                                        // h: (B, T, D)
        h.add(attention.forward(norm1.forward(x), mask: mask))
        var y = h                                                        // y: (B, T, D)
        y.add(fc2.forward(gelu.forward(fc1.forward(norm2.forward(h)))))
        return y
    }

    /// dL/dx from dL/dy, both (B, T, D); adds every parameter gradient.
    func backward(_ dy: Tensor) -> Tensor {
        var dh = dy                                                      // dh: (B, T, D)
        dh.add(norm2.backward(fc1.backward(gelu.backward(fc2.backward(dy)))))
        var dx = dh                                                      // dx: (B, T, D)
        dx.add(norm1.backward(attention.backward(dh).dx))
        return dx
    }
}
