import Diffusion
import Numerics

/// The denoiser as the RL code sees it: an ε-prediction network with a trainable store.
/// The UNet conforms through an adapter; RL never depends on its concrete type.
public protocol NoisePredictor: AnyObject {
    /// ε: (B, C, H, W) for latents x: (B, C, H, W) at integer timesteps t: (B), row b
    /// conditioned on row b of `conditioning`. Keeps what `backwardNoise` needs; one
    /// `predictNoise` per `backwardNoise`, as for layers.
    func predictNoise(_ x: Tensor, timesteps: [Int], conditioning: Conditioning) -> Tensor
    /// Backward of the last `predictNoise` from dL/dε: (B, C, H, W). Adds the gradients of
    /// the trainable parameters into `trainable`; frozen weights get none.
    func backwardNoise(_ dEps: Tensor)
    /// The parameters RL updates (LoRA adapters, or the whole denoiser) and their gradients.
    var trainable: ParameterStore { get }
}

/// Classifier-free guided noise, ε = ε(x, ∅) + w·(ε(x, c) − ε(x, ∅)), with both halves
/// evaluated as one batch of 2B rows (`Diffusion.GuidancePair`: the prompts' rows first), and
/// its backward. Sampler and learner both go through this.
public struct GuidedNoise {
    /// The denoiser.
    public let predictor: NoisePredictor
    /// The null prompt ∅ as a batch of one.
    public let null: Conditioning
    /// w: the guidance scale (1 = conditional only).
    public let scale: Float

    /// `null` must have exactly one row.
    public init(predictor: NoisePredictor, null: Conditioning, scale: Float) {
        precondition(null.batch == 1, "GuidedNoise: the null conditioning must be one row, got \(null.batch)")
        (self.predictor, self.null, self.scale) = (predictor, null, scale)
    }

    /// Guided ε: (B, C, H, W) for x: (B, C, H, W), timesteps (B) and `conditioning` (B rows).
    public func forward(_ x: Tensor, timesteps: [Int], conditioning: Conditioning) -> Tensor {
        let b = x.shape[0]
        precondition(timesteps.count == b && conditioning.batch == b,
                     "GuidedNoise: \(timesteps.count) timesteps and \(conditioning.batch) conditions for \(b) latents")
        let rows = Conditioning(concatenating: [conditioning] + Array(repeating: null, count: b))
        let eps = predictor.predictNoise(GuidancePair.input(x), timesteps: timesteps + timesteps, conditioning: rows)
        return GuidancePair.noise(eps, scale: scale)
    }

    /// Backward of the last `forward` from dL/dε: (B, C, H, W).
    public func backward(_ dEps: Tensor) {
        predictor.backwardNoise(GuidancePair.gradient(dEps, scale: scale))
    }
}
