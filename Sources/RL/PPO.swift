import Diffusion
import Numerics

/// One denoising step of one trajectory: the step from latent row `step` to row `step + 1`.
public struct StepRef: Hashable, Sendable {
    /// Index into the trajectory batch.
    public var trajectory: Int
    /// Step index i in 0..<N (timestep t = timesteps[i]).
    public var step: Int

    public init(trajectory: Int, step: Int) { (self.trajectory, self.step) = (trajectory, step) }
}

/// The PPO-clip loss over denoising steps, through the guided denoiser:
/// log π_θ(x_t' | x_t, c) is recomputed with guidance exactly as in sampling, and its
/// gradient is chained loss → log π (`PPOClipLoss`) → ε (`DDIMStep.scoreGradient`) →
/// ε(x, c), ε(x, ∅) (`GuidedNoise.backward`) → the denoiser's trainable parameters.
/// Steps are processed `minibatchSize` pairs at a time (2× rows through the denoiser).
public struct PPOObjective {
    /// The guided denoiser.
    public let guided: GuidedNoise
    /// The noise schedule the trajectories were sampled with.
    public let schedule: NoiseSchedule
    /// DDIM η of the sampler.
    public let eta: Double
    /// PPO clip range ε.
    public let clipRange: Float
    /// (sample, step) pairs per denoiser pass.
    public let minibatchSize: Int
    /// (C, H, W) of one latent; D = C·H·W.
    public let latentShape: [Int]

    public init(guided: GuidedNoise, schedule: NoiseSchedule, eta: Double, clipRange: Float, minibatchSize: Int,
                latentShape: [Int]) {
        precondition(minibatchSize >= 1, "PPOObjective: minibatchSize must be ≥ 1")
        (self.guided, self.schedule, self.eta) = (guided, schedule, eta)
        (self.clipRange, self.minibatchSize, self.latentShape) = (clipRange, minibatchSize, latentShape)
    }

    /// log π_θ of each pair under the current weights; no gradients.
    public func logProbs(of pairs: [StepRef], in trajectories: [DDPOTrajectory]) -> [Float] {
        minibatches(pairs).flatMap { score($0, trajectories).logProbs }
    }

    /// The PPO loss over `pairs`, `advantages` given per trajectory. Adds d(mean loss over
    /// all pairs)/dθ into the predictor's trainable gradients (which the caller zeroes), so
    /// the split into minibatches does not change the result. `totalPairs` is the size of the
    /// whole step when `pairs` is one worker's share of it (the mean is over the whole step).
    /// Returns the pooled diagnostics.
    @discardableResult
    public func accumulateGradients(pairs: [StepRef], in trajectories: [DDPOTrajectory],
                                    advantages: [Float], totalPairs: Int? = nil) -> PPOStatistics {
        precondition(advantages.count == trajectories.count,
                     "PPOObjective: \(advantages.count) advantages for \(trajectories.count) trajectories")
        var total = PPOStatistics()
        for chunk in minibatches(pairs) {
            let scored = score(chunk, trajectories)
            let terms = PPOClipLoss(logProbs: scored.logProbs,
                                    oldLogProbs: chunk.map { trajectories[$0.trajectory].logProbs[$0.step] },
                                    advantages: chunk.map { advantages[$0.trajectory] }, clipRange: clipRange)
            total = total + terms.statistics
            // The chunk's gradient is of its own mean; rescale to the mean over all pairs.
            let share = Float(chunk.count) / Float(totalPairs ?? pairs.count)
            var dEps = Tensor(zeros: scored.eps.shape)  // dε: (M, C, H, W)
            let d = scored.eps.count / chunk.count
            for r in 0..<chunk.count {
                let g = scored.steps[r].scoreGradient(xt: row(scored.x, r), eps: row(scored.eps, r),
                                                      next: row(scored.next, r), upstream: [terms.gradient[r] * share])
                dEps.data.replaceSubrange((r * d)..<((r + 1) * d), with: g.data)
            }
            guided.backward(dEps)
        }
        return total
    }

    /// A minibatch's inputs, guided ε and log-probs under the current weights.
    private struct Scored {
        let x: Tensor        // x_t: (M, C, H, W)
        let next: Tensor     // x_t': (M, C, H, W)
        let eps: Tensor      // guided ε: (M, C, H, W)
        let steps: [DDIMStep]
        let logProbs: [Float]
    }

    private func score(_ chunk: [StepRef], _ trajectories: [DDPOTrajectory]) -> Scored {
        let d = latentShape.reduce(1, *), m = chunk.count
        var x = Tensor(zeros: [m] + latentShape), next = x
        for (r, p) in chunk.enumerated() {
            let latents = trajectories[p.trajectory].latents.data
            x.data.replaceSubrange((r * d)..<((r + 1) * d), with: latents[(p.step * d)..<((p.step + 1) * d)])
            next.data.replaceSubrange((r * d)..<((r + 1) * d), with: latents[((p.step + 1) * d)..<((p.step + 2) * d)])
        }
        let timesteps = chunk.map { trajectories[$0.trajectory].timesteps[$0.step] }
        let conditioning = Conditioning(concatenating: chunk.map { trajectories[$0.trajectory].conditioning })
        let eps = guided.forward(x, timesteps: timesteps, conditioning: conditioning)
        let steps = chunk.map { p in
            DDIMStep(schedule: schedule, t: trajectories[p.trajectory].timesteps[p.step],
                     steps: trajectories[p.trajectory].steps, eta: eta)
        }
        let logProbs = (0..<m).map { r in steps[r].score(xt: row(x, r), eps: row(eps, r), next: row(next, r))[0] }
        return Scored(x: x, next: next, eps: eps, steps: steps, logProbs: logProbs)
    }

    private func minibatches(_ pairs: [StepRef]) -> [[StepRef]] {
        stride(from: 0, to: pairs.count, by: minibatchSize).map { Array(pairs[$0..<min($0 + minibatchSize, pairs.count)]) }
    }
}

/// Row r of a (B, ...) tensor as a (1, ...) tensor.
func row(_ t: Tensor, _ r: Int) -> Tensor {
    let d = t.count / t.shape[0]
    return Tensor(shape: [1] + t.shape.dropFirst(), data: Array(t.data[(r * d)..<((r + 1) * d)]))
}
