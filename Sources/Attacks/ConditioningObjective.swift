import Foundation
import Diffusion
import Models
import Numerics
import World

/// The white-box attacks' differentiable path: token embeddings (B, T, D) → the text
/// encoder → the denoiser's conditional ε̂ (B, 12, 16, 16), and back. Gradients flow through
/// the frozen text tower and the denoiser into the embeddings; the parameter gradients that
/// the two backward passes also accumulate are discarded.
public final class ConditioningObjective {
    public let model: DiffusionModel
    let schedule = NoiseSchedule()

    public init(model: DiffusionModel) { self.model = model }

    /// ε̂(x_t, t, encoder(embeddings)) for latents xt (B, 12, 16, 16) at `timesteps` (B).
    public func epsilon(embeddings: Tensor, lengths: [Int], xt: Tensor, timesteps: [Int]) -> Tensor {
        let e = model.textEncoder.encode(embeddings: embeddings, lengths: lengths)
        return model.unet.forward(xt, timesteps: timesteps.map(Float.init), context: e.tokens, mask: e.mask, pooled: e.pooled)
    }

    /// dL/d(embeddings) (B, T, D) for dL/dε̂ of the last `epsilon`.
    public func backward(_ dEps: Tensor) -> Tensor {
        model.unet.backward(dEps)
        let g = model.unet.conditioningGradient
        let dEmb = model.textEncoder.backward(tokens: g.context, pooled: g.pooled)
        model.unet.store.zeroGrads()
        model.textStore.zeroGrads()
        return dEmb
    }

    /// L = mean((ε̂ − target)²) and dL/d(embeddings).
    public func matchLoss(embeddings: Tensor, lengths: [Int], xt: Tensor, timesteps: [Int],
                          target: Tensor) -> (loss: Float, gradient: Tensor) {
        let eps = epsilon(embeddings: embeddings, lengths: lengths, xt: xt, timesteps: timesteps)
        var d = eps
        var loss: Float = 0
        let n = Float(eps.count)
        for i in d.data.indices {
            let r = eps.data[i] - target.data[i]
            loss += r * r / n
            d.data[i] = 2 * r / n
        }
        return (loss, backward(d))
    }

    /// Rows of the token table for token ids (B × T): (B, T, D).
    public func embed(_ ids: [[Int]]) -> Tensor {
        let table = model.textEncoder.tokenTable, d = table.shape[1], t = ids.first?.count ?? 0
        var out = Tensor(zeros: [ids.count, t, d])
        for (i, row) in ids.enumerated() {
            for (k, id) in row.enumerated() {
                for c in 0..<d { out.data[(i * t + k) * d + c] = table.data[id * d + c] }
            }
        }
        return out
    }

    /// Noised latents x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε, ε and t drawn from `rng` (t in 20 ..< 980).
    func noised(_ x0: [Tensor], rng: inout RandomGenerator) -> (xt: Tensor, noise: Tensor, timesteps: [Int]) {
        var xs: [Tensor] = [], ns: [Tensor] = [], ts: [Int] = []
        for x in x0 {
            let t = 20 + Int(rng.next() % 960)
            let abar = schedule.alphaBar(at: t)
            let e = Tensor(randomNormal: x.shape, rng: &rng)
            var xt = x
            for j in xt.data.indices { xt.data[j] = Float(abar.squareRoot()) * x.data[j] + Float((1 - abar).squareRoot()) * e.data[j] }
            xs.append(xt)
            ns.append(e)
            ts.append(t)
        }
        return (.stackBatch(xs), .stackBatch(ns), ts)
    }
}

/// Adam on a flat vector (the attacks' continuous prompts).
struct Adam {
    var m: [Float], v: [Float], t = 0
    let lr: Float, beta1: Float = 0.9, beta2: Float = 0.999

    init(count: Int, lr: Float) {
        (m, v, self.lr) = ([Float](repeating: 0, count: count), [Float](repeating: 0, count: count), lr)
    }

    mutating func step(_ x: inout [Float], _ g: [Float]) {
        t += 1
        let c1 = 1 - Float(pow(Double(beta1), Double(t))), c2 = 1 - Float(pow(Double(beta2), Double(t)))
        for i in x.indices {
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
            x[i] -= lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + 1e-8)
        }
    }
}
