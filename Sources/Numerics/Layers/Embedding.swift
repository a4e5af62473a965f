import Foundation

/// Token embedding: row `id` of a (V, D) table for each token id.
///
/// Follows the `Linear` convention, except that ids are discrete: `backward` scatter-adds
/// dL/dy into the table's gradient and returns nothing.
public final class Embedding {
    /// V: number of token ids.
    public let vocabulary: Int
    /// D: features per token.
    public let dim: Int
    public let table: ParameterStore.Parameter  // E: (V, D)
    private let store: ParameterStore
    private var ids: [Int]?                     // ids: (B, T) flattened

    /// The table starts at N(0, 0.02²), GPT-2's choice: small next to the unit-scale
    /// activations that layer norms produce.
    public init(_ store: ParameterStore, name: String, vocabulary: Int, dim: Int, rng: inout RandomGenerator) {
        self.store = store
        self.vocabulary = vocabulary
        self.dim = dim
        table = store.register("\(name).weight", shape: [vocabulary, dim],
                               values: Tensor(randomNormal: [vocabulary, dim], std: 0.02, rng: &rng).data)
    }

    /// y: (shape..., D) for `ids` laid out row-major in `shape` (e.g. [B, T]).
    public func forward(_ ids: [Int], shape: [Int]) -> Tensor {
        precondition(shape.reduce(1, *) == ids.count, "Embedding: shape \(shape) needs \(shape.reduce(1, *)) ids, got \(ids.count)")
        precondition(ids.allSatisfy { (0..<vocabulary).contains($0) }, "Embedding: token id outside 0..<\(vocabulary)")
        self.ids = ids
        var y = Tensor(zeros: shape + [dim])  // y: (B, T, D)
        let e = store.value(table)
        y.data.withUnsafeMutableBufferPointer { yp in
            for (n, id) in ids.enumerated() {
                (yp.baseAddress! + n * dim).update(from: e + id * dim, count: dim)
            }
        }
        return y
    }

    /// Adds dL/dy: (shape..., D) into the table gradient, row by row.
    public func backward(_ dy: Tensor) {
        guard let ids else { preconditionFailure("Embedding.backward before forward") }
        precondition(dy.count == ids.count * dim && dy.shape.last == dim, "Embedding.backward: dy shape \(dy.shape)")
        let g = store.grad(table)
        dy.data.withUnsafeBufferPointer { dyp in
            for (n, id) in ids.enumerated() {
                let src = dyp.baseAddress! + n * dim, dst = g + id * dim
                for c in 0..<dim { dst[c] += src[c] }
            }
        }
        self.ids = nil
    }
}

/// Sinusoidal embedding of diffusion timesteps, (N) → (N, dim), as in guided-diffusion's
/// `timestep_embedding`: [cos(t·f₀), …, cos(t·f_{k−1}), sin(t·f₀), …, sin(t·f_{k−1})] with
/// k = dim/2 and f_i = maxPeriod^(−i/k); an odd `dim` ends in one zero. No parameters.
public func sinusoidalTimestepEmbedding(_ timesteps: [Float], dim: Int, maxPeriod: Double = 10_000) -> Tensor {
    precondition(dim > 0, "sinusoidalTimestepEmbedding: dim must be positive, got \(dim)")
    let half = dim / 2
    var y = Tensor(zeros: [timesteps.count, dim])  // y: (N, dim)
    for (n, t) in timesteps.enumerated() {
        for i in 0..<half {
            let angle = Double(t) * exp(-log(maxPeriod) * Double(i) / Double(half))
            y.data[n * dim + i] = Float(cos(angle))
            y.data[n * dim + half + i] = Float(sin(angle))
        }
    }
    return y
}
