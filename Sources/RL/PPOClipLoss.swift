import Foundation

/// The PPO-clip objective over M (sample, step) entries (ALGORITHM.md, "The update"):
///
///     ρ    = exp(log π_θ − log π_old)
///     loss = mean(max(−A·ρ, −A·clip(ρ, 1−ε, 1+ε)))
///
/// with its gradient d loss / d log π_θ and the diagnostics logged with every update.
public struct PPOClipLoss: Sendable {
    /// The loss, mean over the entries.
    public let loss: Float
    /// d loss / d log π_θ per entry: −A·ρ/M where the unclipped branch is the max, else 0
    /// (the clipped branch is constant in ρ outside [1−ε, 1+ε]).
    public let gradient: [Float]
    /// ρ per entry.
    public let ratios: [Float]
    /// Sums over the entries, for diagnostics pooled over several minibatches.
    public let statistics: PPOStatistics

    /// Evaluates the objective; all arrays have one entry per (sample, step).
    public init(logProbs: [Float], oldLogProbs: [Float], advantages: [Float], clipRange eps: Float) {
        let m = logProbs.count
        precondition(oldLogProbs.count == m && advantages.count == m,
                     "PPOClipLoss: \(m) log-probs, \(oldLogProbs.count) old log-probs, \(advantages.count) advantages")
        let (lo, hi) = (1 - Double(eps), 1 + Double(eps))
        var gradient = [Float](repeating: 0, count: m), ratios = gradient
        var stats = PPOStatistics()
        for i in 0..<m {
            let delta = Double(logProbs[i]) - Double(oldLogProbs[i])
            let ratio = exp(delta), a = Double(advantages[i])
            let unclipped = -a * ratio, clipped = -a * min(max(ratio, lo), hi)
            stats.lossSum += max(unclipped, clipped)
            stats.squaredLogRatioSum += delta * delta
            stats.ratioSum += ratio
            if abs(ratio - 1) > Double(eps) { stats.clipped += 1 }
            ratios[i] = Float(ratio)
            gradient[i] = unclipped >= clipped ? Float(-a * ratio / Double(m)) : 0
        }
        stats.entries = m
        loss = m == 0 ? 0 : Float(stats.lossSum / Double(m))
        (self.gradient, self.ratios, statistics) = (gradient, ratios, stats)
    }
}

/// Running sums of the PPO diagnostics over any number of (sample, step) entries.
public struct PPOStatistics: Sendable, Equatable {
    /// Entries summed.
    public var entries = 0
    /// Σ max(−A·ρ, −A·clip(ρ)).
    public var lossSum = 0.0
    /// Σ (log π_θ − log π_old)².
    public var squaredLogRatioSum = 0.0
    /// Σ ρ.
    public var ratioSum = 0.0
    /// Entries with |ρ − 1| > ε.
    public var clipped = 0

    public init() {}

    /// mean PPO-clip loss.
    public var loss: Double { mean(lossSum) }
    /// approx_kl = ½·mean((log π_θ − log π_old)²).
    public var approxKL: Double { 0.5 * mean(squaredLogRatioSum) }
    /// clipfrac = mean(|ρ − 1| > ε).
    public var clipFraction: Double { mean(Double(clipped)) }
    /// mean ρ.
    public var ratioMean: Double { mean(ratioSum) }

    /// Pools two sets of sums.
    public static func + (l: PPOStatistics, r: PPOStatistics) -> PPOStatistics {
        var s = l
        s.entries += r.entries
        s.lossSum += r.lossSum
        s.squaredLogRatioSum += r.squaredLogRatioSum
        s.ratioSum += r.ratioSum
        s.clipped += r.clipped
        return s
    }

    private func mean(_ sum: Double) -> Double { entries == 0 ? 0 : sum / Double(entries) }
}
