import Dispatch
import Diffusion
import Numerics
import World

/// How images are sampled; the defaults are the shipped sampler (chosen by measurement, see
/// Sources/Models/Weights/README.md).
public struct SamplerConfig: Codable, Sendable, Equatable {
    /// N: DDIM steps.
    public var steps = 10
    /// w: classifier-free guidance scale (1: the conditional model alone).
    public var guidance: Float = 2
    /// η: 1 is the stochastic policy RL needs; 0 is deterministic DDIM (no log-probs).
    public var eta: Double = 1
    /// The inference-time baseline applied while sampling (none: plain guidance).
    public var defense = SamplingDefense.none

    /// The shipped sampler.
    public init() {}

    /// Any sampler.
    public init(steps: Int, guidance: Float, eta: Double, defense: SamplingDefense = .none) {
        (self.steps, self.guidance, self.eta, self.defense) = (steps, guidance, eta, defense)
    }
}

/// A sampled batch's denoising trajectory, the RL actor's record of its policy's actions.
public struct Trajectory: Sendable {
    /// x_{t_N}, x_{t_{N−1}}, …, x_{t_0}: N + 1 latents, each (B, 12, 16, 16).
    public var latents: [Tensor]
    /// t_N > … > t_1: the timestep each step starts from (step k goes latents[k] → latents[k+1]).
    public var timesteps: [Int]
    /// log π(latents[k+1] | latents[k], c) per step and sample: N arrays of B (empty for η = 0).
    public var logProbs: [[Float]]
}

/// Sampled images and, when asked for, their trajectory.
public struct SampleBatch {
    /// The decoded images, one per prompt.
    public var images: [Image]
    /// The trajectory (nil unless recorded).
    public var trajectory: Trajectory?
}

/// Guided DDIM sampling from a `DiffusionModel`, with per-step log-probs, through
/// `Diffusion.sampleDDIM`: the one sampling loop, which the actors' `RL.DDPOSampler` runs too,
/// on `Diffusion.DDIMStep`, the one function that also scores stored steps.
///
/// Image i's noise (its x_{t_N} and every step's z) comes from its own generator, so an
/// image depends only on its prompt and generator, never on the rest of its batch. With
/// `workers` > 1 the batch is split among that many threads, each with its own copy of the
/// denoiser, and OpenBLAS runs one thread per worker during the call.
public final class Sampler {
    public let model: DiffusionModel
    public var config: SamplerConfig
    public let schedule = NoiseSchedule()
    /// Threads a batch is split among.
    public let workers: Int
    private let replicas: [UNet]  // replicas[0] is model.unet

    public init(model: DiffusionModel, config: SamplerConfig = SamplerConfig(), workers: Int = 1) {
        precondition(workers >= 1, "Sampler needs at least one worker")
        precondition(config.steps >= 1 && config.eta >= 0, "SamplerConfig: steps ≥ 1 and η ≥ 0, got \(config)")
        self.model = model
        self.config = config
        self.workers = workers
        var rng = RandomGenerator(seed: 0)  // replica values are overwritten before every use
        replicas = [model.unet] + (1..<workers).map { _ in UNet(config: model.unet.config, rng: &rng) }
    }

    /// The per-image generators of images `firstIndex ..< firstIndex + count` of `seed`:
    /// image i draws from `RandomGenerator(seed: seed).split(i)`.
    public static func noise(seed: UInt64, firstIndex: Int = 0, count: Int) -> [RandomGenerator] {
        let root = RandomGenerator(seed: seed)
        return (0..<count).map { root.split(UInt64(firstIndex + $0)) }
    }

    /// The guided conditions of `prompts` (texts; "" is the null prompt), as the defense reads them.
    public func conditioning(_ prompts: [String]) -> GuidanceContext {
        GuidanceContext(conditional: model.encode(prompts.map(config.defense.promptText)),
                        unconditional: model.encode([String](repeating: config.defense.unconditionalText, count: prompts.count)))
    }

    /// Samples one image per prompt, image i from `noise[i]`.
    public func sample(prompts: [String], noise: [RandomGenerator], recordTrajectory: Bool = false) -> SampleBatch {
        precondition(prompts.count == noise.count && !prompts.isEmpty, "sample: \(prompts.count) prompts for \(noise.count) generators")
        let c = conditioning(prompts)
        let concept = config.defense.safeGuidance(steps: config.steps) == nil ? nil : model.encode([SamplingDefense.unsafeConcept])
        let b = prompts.count
        let parts = min(workers, b)
        let ranges = (0..<parts).map { w in (w * b / parts)..<((w + 1) * b / parts) }
        var results = [Trajectory?](repeating: nil, count: parts)
        if parts == 1 {
            var rngs = noise
            results[0] = run(replicas[0], conditioning: c, concept: concept, noise: &rngs)
        } else {
            for r in replicas.dropFirst() { r.copyParameters(from: model.unet) }
            let savedThreads = blasThreads
            blasThreads = 1
            let box = ResultBox(results)
            // Each worker touches only its own replica and its own images; `run` reads the
            // config and schedule, which nothing writes during the call.
            nonisolated(unsafe) let sampler = self
            DispatchQueue.concurrentPerform(iterations: parts) { w in
                var rngs = Array(noise[ranges[w]])
                box.set(w, sampler.run(sampler.replicas[w], conditioning: c.slice(ranges[w]), concept: concept, noise: &rngs))
            }
            blasThreads = savedThreads
            results = box.values
        }
        let done = results.map { $0! }
        let trajectory = Trajectory(
            latents: (0..<done[0].latents.count).map { k in .stackBatch(done.map { $0.latents[k] }) },
            timesteps: done[0].timesteps,
            logProbs: (0..<done[0].logProbs.count).map { k in done.flatMap { $0.logProbs[k] } })
        return SampleBatch(images: Latents.decode(trajectory.latents.last!),
                           trajectory: recordTrajectory ? trajectory : nil)
    }

    /// Samples images `firstIndex ..< firstIndex + prompts.count` of `seed` (see `noise`).
    public func sample(prompts: [String], seed: UInt64, firstIndex: Int = 0, recordTrajectory: Bool = false) -> SampleBatch {
        sample(prompts: prompts, noise: Sampler.noise(seed: seed, firstIndex: firstIndex, count: prompts.count),
               recordTrajectory: recordTrajectory)
    }

    /// The DDIM step from timestep t of an N-step sampler with this config's η.
    public func step(from t: Int) -> DDIMStep {
        DDIMStep(schedule: schedule, t: t, tPrev: schedule.previousTimestep(t, steps: config.steps), eta: config.eta)
    }

    /// The whole N-step loop for one worker's images (the one loop, `Diffusion.sampleDDIM`);
    /// `concept` (SLD only) is the unsafe concept's encoding.
    func run(_ unet: UNet, conditioning c: GuidanceContext, concept: TextEncoding?,
             noise rngs: inout [RandomGenerator]) -> Trajectory {
        let b = c.batch, latent = [12, 16, 16], w = config.guidance
        let x = Tensor.stackBatch((0..<b).map { Tensor(randomNormal: [1] + latent, rng: &rngs[$0]) })  // x: (B, 12, 16, 16)
        let sld = config.defense.safeGuidance(steps: config.steps)
        let timesteps = schedule.samplingTimesteps(config.steps)
        var momentum: Tensor?  // SLD's ν
        let path = sampleDDIM(from: x, schedule: schedule, steps: config.steps, eta: config.eta, rngs: &rngs) { x, t in
            if let sld, let concept {
                return unet.safeGuidedNoise(x, timestep: t, conditioning: c, concept: concept, scale: w,
                                            guidance: sld, step: timesteps.firstIndex(of: t)!, momentum: &momentum)
            }
            return unet.guidedNoise(x, timestep: t, conditioning: c, scale: w)
        }
        return Trajectory(latents: path.latents, timesteps: path.timesteps, logProbs: path.logProbs)
    }
}

/// Per-worker results written from `concurrentPerform`: each worker writes only its own
/// slot, and the array is read after every worker has finished.
private final class ResultBox: @unchecked Sendable {
    private(set) var values: [Trajectory?]
    private let lock = DispatchSemaphore(value: 1)
    init(_ values: [Trajectory?]) { self.values = values }
    func set(_ i: Int, _ t: Trajectory) {
        lock.wait()
        values[i] = t
        lock.signal()
    }
}
