import Numerics

/// Forward+backward throughput of self-attention over `tokens` tokens of `channels` features,
/// at the best of `iterations` timed passes (after one warm-up pass; the machine is shared).
func selfAttentionBenchmark(batch: Int, channels: Int, tokens: Int, heads: Int, iterations: Int) -> BenchmarkFigure {
    var rng = RandomGenerator(seed: 1)
    let attn = MultiHeadAttention(ParameterStore(), name: "attn", dim: channels, heads: heads, rng: &rng)
    let x = Tensor(randomNormal: [batch, tokens, channels], rng: &rng)   // x: (B, T, C)
    let dy = Tensor(randomNormal: [batch, tokens, channels], rng: &rng)  // dy: (B, T, C)
    let flops = attentionFlops(batch: batch, dim: channels, queries: tokens, keys: tokens, contextDim: channels)
    let seconds = bestSeconds(iterations) {
        _ = attn.forward(x)
        _ = attn.backward(dy)
    }
    return BenchmarkFigure(name: "self-attention B=\(batch) T=\(tokens) C=\(channels) h=\(heads)",
                           gflops: flops / seconds / 1e9, seconds: seconds)
}

/// Forward+backward throughput of cross-attention from `tokens` queries to `contextTokens`
/// keys of `contextChannels` features, measured like `selfAttentionBenchmark`.
func crossAttentionBenchmark(batch: Int, channels: Int, tokens: Int, contextTokens: Int, contextChannels: Int,
                             heads: Int, iterations: Int) -> BenchmarkFigure {
    var rng = RandomGenerator(seed: 2)
    let attn = MultiHeadAttention(ParameterStore(), name: "xattn", dim: channels, contextDim: contextChannels,
                                  heads: heads, rng: &rng)
    let x = Tensor(randomNormal: [batch, tokens, channels], rng: &rng)                     // x: (B, Tq, C)
    let context = Tensor(randomNormal: [batch, contextTokens, contextChannels], rng: &rng)  // context: (B, Tk, Dc)
    let dy = Tensor(randomNormal: [batch, tokens, channels], rng: &rng)                    // dy: (B, Tq, C)
    let flops = attentionFlops(batch: batch, dim: channels, queries: tokens, keys: contextTokens,
                               contextDim: contextChannels)
    let seconds = bestSeconds(iterations) {
        _ = attn.forward(x, context: context)
        _ = attn.backward(dy)
    }
    return BenchmarkFigure(
        name: "cross-attention B=\(batch) Tq=\(tokens) Tk=\(contextTokens) C=\(channels) Dc=\(contextChannels) h=\(heads)",
        gflops: flops / seconds / 1e9, seconds: seconds)
}

/// Multiply-add FLOPs of one forward+backward pass: each projection 2·M·N·K, QKᵀ and PV
/// 2·B·Tq·Tk·D each (summed over heads), and backward counted as twice the forward.
private func attentionFlops(batch: Int, dim: Int, queries: Int, keys: Int, contextDim: Int) -> Double {
    let (b, d, tq, tk, dc) = (Double(batch), Double(dim), Double(queries), Double(keys), Double(contextDim))
    let projections = 2 * (2 * b * tq * d * d) + 2 * (2 * b * tk * dc * d)
    let scores = 2 * (2 * b * tq * tk * d)
    return 3 * (projections + scores)
}
