import RL
import Runtime

extension DDPOConfig {
    /// The DDPO hyperparameters of a run (`hyperparameters.*`).
    public init(run config: RunConfig) {
        self.init()
        let h = config.hyperparameters
        learningRate = Float(h.lr)
        weightDecay = Float(h.weightDecay)
        maxGradNorm = Float(h.maxGradNorm)
        clipRange = Float(h.clipEpsilon)
        advantageClip = Float(h.advClip)
        buffer = h.buffer
        minCount = h.minCount
        innerEpochs = h.innerEpochs
        timestepFraction = h.timestepFraction
        minTrainedSigma = h.minTrainedSigma
        guidance = Float(h.guidance)
        eta = h.eta
        steps = h.steps
        trajectoriesPerStep = h.trajectoriesPerStep > 0 ? h.trajectoriesPerStep : config.trajectoriesPerUpdate
    }
}
