/// Multi-head attention over the pixels of a feature map: (B, C, H, W) is read as H·W
/// tokens of C channels, attended (to themselves or to a context), and laid back out.
///
/// Only the layout change and the attention; the UNet adds its own normalization and
/// residual around it. Follows the `Linear` convention.
public final class SpatialAttention {
    /// The attention over the H·W pixel tokens.
    public let attention: MultiHeadAttention
    private var spatial: (height: Int, width: Int)?

    /// `contextDim` nil: self-attention over pixels; otherwise cross-attention to a
    /// (B, Tk, contextDim) context.
    public init(_ store: ParameterStore, name: String, channels: Int, contextDim: Int? = nil, heads: Int,
                rng: inout RandomGenerator) {
        attention = MultiHeadAttention(store, name: name, dim: channels, contextDim: contextDim, heads: heads, rng: &rng)
    }

    /// y: (B, C, H, W) from x: (B, C, H, W); `context` (B, Tk, Dc) and its `mask` (B, Tk) for
    /// cross-attention, both nil for self-attention.
    public func forward(_ x: Tensor, context: Tensor? = nil, mask: KeyPaddingMask? = nil) -> Tensor {
        precondition(x.rank == 4, "SpatialAttention expects (B, C, H, W), got \(x.shape)")
        spatial = (x.shape[2], x.shape[3])
        let tokens = nchwToTokens(x)  // tokens: (B, H·W, C)
        let y = attention.forward(tokens, context: context, mask: mask)  // y: (B, H·W, C)
        return tokensToNCHW(y, height: x.shape[2], width: x.shape[3])
    }

    /// dL/dx: (B, C, H, W) and, for cross-attention, dL/dcontext: (B, Tk, Dc).
    public func backward(_ dy: Tensor) -> (dx: Tensor, dcontext: Tensor?) {
        guard let (height, width) = spatial else { preconditionFailure("SpatialAttention.backward before forward") }
        spatial = nil
        let (dTokens, dcontext) = attention.backward(nchwToTokens(dy))  // dTokens: (B, H·W, C)
        return (tokensToNCHW(dTokens, height: height, width: width), dcontext)
    }
}

/// (B, C, H, W) → (B, H·W, C): each item's (C, H·W) matrix transposed.
public func nchwToTokens(_ x: Tensor) -> Tensor {
    precondition(x.rank == 4, "nchwToTokens expects (B, C, H, W), got \(x.shape)")
    let (b, c, hw) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
    var y = Tensor(uninitialized: [b, hw, c])  // y: (B, H·W, C), all written
    transposeBatch(x, into: &y, batch: b, rows: c, cols: hw)
    return y
}

/// (B, H·W, C) → (B, C, H, W): the inverse of `nchwToTokens`.
public func tokensToNCHW(_ x: Tensor, height: Int, width: Int) -> Tensor {
    precondition(x.rank == 3 && x.shape[1] == height * width,
                 "tokensToNCHW expects (B, \(height * width), C), got \(x.shape)")
    let (b, c) = (x.shape[0], x.shape[2])
    var y = Tensor(uninitialized: [b, c, height, width])  // y: (B, C, H, W), all written
    transposeBatch(x, into: &y, batch: b, rows: height * width, cols: c)
    return y
}

/// y[i] = x[i]ᵀ for each of `batch` (rows, cols) matrices.
private func transposeBatch(_ x: Tensor, into y: inout Tensor, batch: Int, rows: Int, cols: Int) {
    x.data.withUnsafeBufferPointer { xp in
        y.data.withUnsafeMutableBufferPointer { yp in
            let (x0, y0) = (xp.baseAddress!, yp.baseAddress!)
            parallelRanges(batch, grain: max(1, (1 << 14) / (rows * cols))) { items in
                for i in items {
                    let src = x0 + i * rows * cols, dst = y0 + i * rows * cols
                    for r in 0..<rows {
                        for c in 0..<cols { dst[c * rows + r] = src[r * cols + c] }
                    }
                }
            }
        }
    }
}
