import Checkpoint
import Diffusion
import Foundation
import Models
import Numerics
import RL
import Runtime
import Wire
import World

/// The learner's `PolicyLearner`: `RL.DDPOLearner` (per-prompt advantages, PPO-clip over the
/// denoising steps with guidance, AdamW) on a `DiffusionPolicy`.
///
/// Its checkpoint is self-contained: the base denoiser and text tower (`unet.*`, `text.*`, with
/// their architectures), the adapters (`lora.*`), the optimizer, the RNG and the per-prompt
/// statistics, so `FineTunedModel.load` can rebuild the fine-tuned model from it alone.
public final class DiffusionPolicyLearner: PolicyLearner {
    /// Metadata keys of the model's part of a learner checkpoint.
    static let loraRankKey = "lora_rank", adamStepKey = "adam.step", rngKey = "rng", statsKey = "per_prompt_stats"
    static let anchorKey = "anchor.position"
    private static let adamM = "adam.m", adamV = "adam.v"

    /// The policy being trained.
    public let policy: DiffusionPolicy
    private let ddpo: DDPOLearner
    private let steps: Int
    /// The run's sampler (N, w, η), for the preview images.
    private let sampling: SamplerConfig
    /// The benign anchor added to every optimizer step (nil when its weight is 0).
    public let anchor: BenignAnchor?

    /// Copies of the policy that compute shares of each optimizer step on their own threads.
    private let replicas: [DiffusionPolicy]

    /// The shipped model, wrapped and trained as `config` asks.
    public convenience init(config: RunConfig) throws {
        let h = config.hyperparameters
        let threads = h.learnerThreads > 0 ? h.learnerThreads : ProcessInfo.processInfo.activeProcessorCount
        try self.init(policy: DiffusionPolicy(model: try DiffusionModel.load(), loraRank: h.loraRank, seed: config.seed),
                      ddpo: DDPOConfig(run: config), seed: config.seed,
                      anchor: h.anchorWeight > 0 ? (weight: Float(h.anchorWeight), batch: h.anchorBatch) : nil,
                      threads: threads)
        // After the anchor copied the shipped denoiser: it keeps pulling toward the base model.
        if !config.initCheckpoint.isEmpty {
            try start(from: InitialDenoiser.load(path: config.initCheckpoint, like: try DiffusionModel.load()))
        }
    }

    /// Replaces the policy's denoiser (full fine-tuning) by `denoiser` before training starts;
    /// the anchor's teacher and the optimizer's zero moments stay.
    func start(from denoiser: [String: Tensor]) throws {
        try policy.load(trainable: denoiser)
        for replica in replicas { replica.model.unet.copyParameters(from: policy.model.unet) }
    }

    /// Trains `policy` with the DDPO hyperparameters `ddpo`, the benign anchor if given, and
    /// optimizer steps split among `threads` threads.
    public init(policy: DiffusionPolicy, ddpo config: DDPOConfig, seed: UInt64,
                anchor anchorSettings: (weight: Float, batch: Int)? = nil, threads: Int = 1) throws {
        precondition(threads >= 1, "DiffusionPolicyLearner: threads must be ≥ 1")
        self.policy = policy
        steps = config.steps
        sampling = SamplerConfig(steps: config.steps, guidance: config.guidance, eta: config.eta)
        ddpo = try DDPOLearner(predictor: policy, nullConditioning: policy.null, latentShape: DiffusionPolicy.latentShape,
                               config: config, seed: seed)
        anchor = anchorSettings.map { BenignAnchor(model: policy.model, weight: $0.weight, batchSize: $0.batch, seed: seed) }
        if let anchor { ddpo.anchor = anchor.accumulateGradients }
        replicas = try (1..<threads).map { _ in
            let replica = DiffusionPolicy(model: try DiffusionModel.load(), loraRank: policy.loraRank, seed: seed)
            replica.model.unet.copyParameters(from: policy.model.unet)
            return replica
        }
        ddpo.addReplicas(replicas, nullConditioning: policy.null)
    }

    public var trainable: [String: Tensor] { policy.trainableTensors }

    public var trajectorySpec: TrajectorySpec {
        TrajectorySpec(timesteps: NoiseSchedule().samplingTimesteps(steps).map { UInt32($0) },
                       latentSize: DiffusionPolicy.latentShape.reduce(1, *))
    }

    public func update(_ trajectories: [Wire.Trajectory]) throws -> [String: Double] {
        let conditioning = policy.conditioning(trajectories.map(\.prompt), conceptEtas: trajectories.map(\.conceptEta))
        let batch = trajectories.enumerated().map { i, t in
            // Pushed trajectories get advantages among themselves (group 1): see PromptStatTracker.
            DDPOTrajectory(prompt: t.prompt, conditioning: conditioning.row(i), timesteps: t.timesteps.map { Int($0) },
                           latents: t.latents, logProbs: t.logProbs, reward: t.reward, group: t.conceptEta > 0 ? 1 : 0)
        }
        var metrics = try ddpo.update(batch).dictionary
        // Adversarial DDPO: how the pushed samples fare (the stop rule sees them mixed in).
        let pushed = trajectories.filter { $0.conceptEta > 0 }
        if !pushed.isEmpty {
            metrics["pushed_share"] = Double(pushed.count) / Double(trajectories.count)
            metrics["pushed_unsafe_fraction"] = Double(pushed.filter { $0.unsafeProbability > 0.5 }.count) / Double(pushed.count)
            metrics["pushed_eta_mean"] = pushed.reduce(0.0) { $0 + Double($1.conceptEta) } / Double(pushed.count)
        }
        return metrics
    }

    public func checkpointState() -> (tensors: [String: Tensor], metadata: [String: String]) {
        let model = policy.model
        var tensors: [String: Tensor] = [:]
        for store in checkpointedStores {
            for p in store.parameters { tensors[p.name] = store.tensor(p) }
        }
        let state = ddpo.optimizer.state
        tensors[Self.adamM] = Tensor(shape: [state.m.count], data: state.m)
        tensors[Self.adamV] = Tensor(shape: [state.v.count], data: state.v)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var metadata = [Self.loraRankKey: String(policy.loraRank), Self.adamStepKey: String(state.step),
                        Self.rngKey: String(decoding: (try? encoder.encode(ddpo.rng.state)) ?? Data(), as: UTF8.self),
                        Self.statsKey: ddpo.tracker.jsonString()]
        if let anchor { metadata[Self.anchorKey] = "\(anchor.position.pair) \(anchor.position.batches)" }
        metadata[DiffusionModel.unetConfigKey] = String(decoding: (try? encoder.encode(model.unet.config)) ?? Data(), as: UTF8.self)
        metadata[DiffusionModel.textConfigKey] = String(decoding: (try? encoder.encode(model.textEncoder.config)) ?? Data(), as: UTF8.self)
        return (tensors, metadata)
    }

    /// The stores a checkpoint holds: base denoiser, text tower, and the adapters if any
    /// (with r = 0 the trainable store is the denoiser's own).
    private var checkpointedStores: [ParameterStore] {
        [policy.model.unet.store, policy.model.textStore] + (policy.loraRank > 0 ? [policy.trainable] : [])
    }

    public func restore(tensors: [String: Tensor], metadata: [String: String]) throws {
        guard metadata[Self.loraRankKey] == String(policy.loraRank) else {
            throw PolicyError("checkpoint has LoRA rank \(metadata[Self.loraRankKey] ?? "none"), the run is configured with \(policy.loraRank)")
        }
        guard let m = tensors[Self.adamM], let v = tensors[Self.adamV],
              let stepText = metadata[Self.adamStepKey], let step = Int(stepText),
              let rngText = metadata[Self.rngKey],
              let words = try? JSONDecoder().decode([UInt64].self, from: Data(rngText.utf8)),
              let rng = RandomGenerator(state: words),
              let statsText = metadata[Self.statsKey], let tracker = try? PromptStatTracker(json: statsText)
        else { throw PolicyError("checkpoint lacks or garbles \(Self.adamM)/\(Self.adamV)/\(Self.adamStepKey)/\(Self.rngKey)/\(Self.statsKey)") }
        var anchorPosition: (pair: Int, batches: Int)?
        if anchor != nil {
            let parts = (metadata[Self.anchorKey] ?? "").split(separator: " ").compactMap { Int($0) }
            guard parts.count == 2, parts.allSatisfy({ $0 >= 0 }) else {
                throw PolicyError("checkpoint lacks or garbles \(Self.anchorKey) (the run has a benign anchor: hyperparameters.anchor_weight > 0)")
            }
            anchorPosition = (parts[0], parts[1])
        }
        // Check every tensor of every store before changing any.
        let stores = checkpointedStores
        for store in stores {
            for p in store.parameters {
                guard let t = tensors[p.name] else { throw PolicyError("checkpoint lacks '\(p.name)'") }
                guard t.shape == p.shape else { throw PolicyError("'\(p.name)' has shape \(t.shape) in the checkpoint, the model needs \(p.shape)") }
            }
        }
        try ddpo.optimizer.restore(AdamW.State(step: step, m: m.data, v: v.data))
        for store in stores { for p in store.parameters { store.set(p, tensors[p.name]!) } }
        (ddpo.rng, ddpo.tracker) = (rng, tracker)
        if let anchorPosition { anchor?.position = anchorPosition }
        // The replicas' trainable values are refreshed every step; their frozen base here.
        for replica in replicas { replica.model.unet.copyParameters(from: policy.model.unet) }
    }
}

extension DiffusionPolicyLearner: FinalImageRendering {
    /// The decoded final latents (a fixed transform: no weights are read).
    public func finalImages(of trajectories: [Wire.Trajectory]) -> [Image] {
        Latents.decode(Tensor.stackBatch(trajectories.map { t in
            Tensor(shape: [1] + DiffusionPolicy.latentShape, data: Array(t.latents.data.suffix(t.latents.shape[1])))
        }))
    }
}

extension DiffusionPolicyLearner: PreviewSampling {
    /// The current policy's images through `Models.Sampler`, the sampler of `shielddiff
    /// sample` (one worker), with the run's N, w and η.
    public func previewImages(prompts: [String], seed: UInt64) -> [Image] {
        Sampler(model: policy.model, config: sampling).sample(prompts: prompts, seed: seed).images
    }
}
