import Foundation
import Numerics

/// One DDIM step with η > 0 as a Gaussian policy π(x_t' | x_t, c) — the single function
/// that both samples a step (actors) and scores a stored one (the learner), so the two can
/// never drift apart. Formulas: ../shared/ALGORITHM.md, "Denoising as a policy".
public struct DDIMStep: Sendable {
    public let alphaBar: Double       // ᾱ_t
    public let alphaBarPrev: Double   // ᾱ_t'
    public let sigma: Double          // σ_t
    /// μ = a·x_t + b·ε: x̂_0 = (x_t − √(1−ᾱ_t)·ε)/√ᾱ_t substituted into
    /// μ = √ᾱ_t'·x̂_0 + √(1−ᾱ_t'−σ²)·ε.
    let a: Double, b: Double

    public init(schedule: NoiseSchedule, t: Int, tPrev: Int, eta: Double) {
        precondition(eta >= 0, "eta must be ≥ 0, got \(eta)")
        alphaBar = schedule.alphaBar(at: t)
        alphaBarPrev = schedule.alphaBar(at: tPrev)
        let variance = (1 - alphaBarPrev) / (1 - alphaBar) * (1 - alphaBar / alphaBarPrev)
        sigma = eta * max(variance, 0).squareRoot()
        let direction = max(1 - alphaBarPrev - sigma * sigma, 0).squareRoot()
        a = (alphaBarPrev / alphaBar).squareRoot()
        b = direction - (alphaBarPrev * (1 - alphaBar) / alphaBar).squareRoot()
    }

    /// The result of a step for a batch: x_t' and, when σ > 0, log π(x_t' | x_t) per sample
    /// (the mean over the sample's D elements; `nil` for deterministic η = 0 DDIM).
    public struct Output {
        public var next: Tensor          // x_t': (B, ...)
        public var logProb: [Float]?     // (B)
    }

    /// The mean μ of the step's Gaussian for predicted noise `eps`.
    public func mean(xt: Tensor, eps: Tensor) -> Tensor {
        precondition(xt.shape == eps.shape, "x_t \(xt.shape) and ε \(eps.shape) differ")
        var mu = xt  // μ: (B, ...)
        let (fa, fb) = (Float(a), Float(b))
        for i in mu.data.indices { mu.data[i] = fa * xt.data[i] + fb * eps.data[i] }
        return mu
    }

    /// Samples x_t' = μ + σ·z with z from `rng` and returns it with its log-prob.
    public func sample(xt: Tensor, eps: Tensor, rng: inout RandomGenerator) -> Output {
        var next = mean(xt: xt, eps: eps)
        guard sigma > 0 else { return Output(next: next, logProb: nil) }
        let mu = next
        let s = Float(sigma)
        for i in next.data.indices { next.data[i] += s * rng.nextGaussian() }
        return Output(next: next, logProb: logProb(of: next, mean: mu))
    }

    /// log π(x_t' | x_t) of a stored `next` under noise prediction `eps`.
    public func score(xt: Tensor, eps: Tensor, next: Tensor) -> [Float] {
        precondition(sigma > 0, "log-prob needs σ > 0 (η > 0)")
        precondition(next.shape == xt.shape, "x_t' \(next.shape) and x_t \(xt.shape) differ")
        return logProb(of: next, mean: mean(xt: xt, eps: eps))
    }

    /// d(log π)/dε for the same arguments as `score`, scaled per sample by `upstream`
    /// (dLoss/dlogπ, shape (B)): ∂/∂ε_i of mean_i[−(x'−μ)²/(2σ²)] = (x'_i−μ_i)·b/(σ²·D).
    public func scoreGradient(xt: Tensor, eps: Tensor, next: Tensor, upstream: [Float]) -> Tensor {
        let mu = mean(xt: xt, eps: eps)
        let batch = xt.shape[0], d = xt.count / batch
        precondition(upstream.count == batch, "upstream has \(upstream.count) entries for batch \(batch)")
        var grad = Tensor(zeros: xt.shape)  // dε: (B, ...)
        let scale = b / (sigma * sigma * Double(d))
        for n in 0..<batch {
            let f = Float(scale) * upstream[n]
            for i in (n * d)..<((n + 1) * d) { grad.data[i] = f * (next.data[i] - mu.data[i]) }
        }
        return grad
    }

    /// mean over each sample's D elements of −(x'−μ)²/(2σ²) − log σ − ½·log 2π, in Double.
    /// The mean, not the sum: a sum over D makes the PPO ratio explode (ALGORITHM.md).
    private func logProb(of next: Tensor, mean mu: Tensor) -> [Float] {
        let batch = next.shape[0], d = next.count / batch
        let constant = -log(sigma) - 0.5 * log(2 * Double.pi)
        let inv = 1 / (2 * sigma * sigma)
        return (0..<batch).map { n in
            var acc = 0.0
            for i in (n * d)..<((n + 1) * d) {
                let r = Double(next.data[i] - mu.data[i])
                acc += r * r
            }
            return Float(-acc * inv / Double(d) + constant)
        }
    }
}

/// Classifier-free guidance: ε = ε(x, ∅) + w·(ε(x, c) − ε(x, ∅)).
public func guidedNoise(unconditional: Tensor, conditional: Tensor, scale w: Float) -> Tensor {
    precondition(unconditional.shape == conditional.shape, "guidance inputs differ in shape")
    var out = unconditional
    for i in out.data.indices { out.data[i] += w * (conditional.data[i] - unconditional.data[i]) }
    return out
}
