import Numerics

/// One sampled denoising trajectory as the learner consumes it.
public struct DDPOTrajectory: Sendable {
    /// The prompt: the key of its per-prompt reward statistics.
    public var prompt: String
    /// The prompt's conditioning, one row (the frozen text encoder's output).
    public var conditioning: Conditioning
    /// The N DDIM timesteps t_N > … > t_1.
    public var timesteps: [Int]
    /// latents: (N+1, D); row 0 is x_{t_N}, row i+1 the sample of step i, row N the final x_0.
    public var latents: Tensor
    /// N log-probs recorded by the sampling policy: entry i is log π_old(row i+1 | row i).
    public var logProbs: [Float]
    /// The reward of the final latent.
    public var reward: Float
    /// Its advantage-statistics group (`PromptStatTracker`): 0 for plain trajectories.
    public var group: Int

    public init(prompt: String, conditioning: Conditioning, timesteps: [Int], latents: Tensor, logProbs: [Float],
                reward: Float, group: Int = 0) {
        (self.prompt, self.conditioning, self.timesteps) = (prompt, conditioning, timesteps)
        (self.latents, self.logProbs, self.reward, self.group) = (latents, logProbs, reward, group)
    }

    /// N: denoising steps.
    public var steps: Int { timesteps.count }

    /// Row `i` of `latents` as a (1, latentShape...) tensor.
    func latent(_ i: Int, shape latentShape: [Int]) -> Tensor {
        let d = latents.shape[1]
        return Tensor(shape: [1] + latentShape, data: Array(latents.data[(i * d)..<((i + 1) * d)]))
    }

    /// Checks that the trajectory fits latents of `latentShape` and training timesteps 0..<T.
    func validate(index: Int, latentShape: [Int], trainingSteps: Int) throws(DDPOError) {
        func fail(_ reason: String) -> DDPOError { .invalidTrajectory(index: index, reason: reason) }
        let n = steps, d = latentShape.reduce(1, *)
        guard n >= 1 else { throw fail("no timesteps") }
        guard timesteps.allSatisfy({ (0..<trainingSteps).contains($0) }) else {
            throw fail("timesteps \(timesteps) outside 0..<\(trainingSteps)")
        }
        guard zip(timesteps, timesteps.dropFirst()).allSatisfy({ $0 > $1 }) else {
            throw fail("timesteps \(timesteps) not strictly decreasing")
        }
        guard latents.shape == [n + 1, d] else { throw fail("latents \(latents.shape), expected (\(n + 1), \(d))") }
        guard logProbs.count == n else { throw fail("\(logProbs.count) log-probs for \(n) steps") }
        guard conditioning.batch == 1 else { throw fail("conditioning has \(conditioning.batch) rows, expected 1") }
        guard reward.isFinite, logProbs.allSatisfy(\.isFinite), latents.data.allSatisfy(\.isFinite) else {
            throw fail("non-finite reward, log-prob or latent")
        }
    }
}
