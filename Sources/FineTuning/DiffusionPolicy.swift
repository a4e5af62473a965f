import Attacks
import Diffusion
import Models
import Numerics
import RL
import World

/// The policy ShieldDiff fine-tunes: the world's text-to-image model, either the whole
/// denoiser (r = 0, the default) or rank-r LoRA adapters on every layer over a frozen base. Actors and the learner both build one, so they sample and score
/// through the same code (`RL.GuidedNoise`, `Diffusion.DDIMStep`).
public final class DiffusionPolicy: NoisePredictor {
    /// The model; with LoRA its UNet carries the adapters.
    public let model: DiffusionModel
    /// LoRA rank r; 0 trains the full denoiser.
    public let loraRank: Int
    /// The trainable parameters: the adapters, or `model.unet.store`.
    public let trainable: ParameterStore
    /// (C, H, W) of one latent.
    public static let latentShape = [12, 16, 16]
    private var conditioningCache: [String: Conditioning] = [:]

    /// Wraps `model`; adapters (if `loraRank` > 0) are drawn from `seed`, B = 0 so the
    /// policy starts equal to the base model.
    public init(model: DiffusionModel, loraRank: Int, seed: UInt64) {
        precondition(loraRank >= 0, "DiffusionPolicy: LoRA rank must be ≥ 0, got \(loraRank)")
        (self.model, self.loraRank) = (model, loraRank)
        if loraRank > 0 {
            trainable = ParameterStore(reserve: 1 << 16)
            var rng = RandomGenerator(seed: seed).split(0x10AA)
            model.unet.attachLoRA(trainable, rank: loraRank, rng: &rng)
        } else {
            trainable = model.unet.store
        }
    }

    public func predictNoise(_ x: Tensor, timesteps: [Int], conditioning: Conditioning) -> Tensor {
        model.unet.forward(x, timesteps: timesteps.map(Float.init), context: conditioning.tokens,
                           mask: conditioning.mask, pooled: conditioning.pooled)
    }

    public func backwardNoise(_ dEps: Tensor) {
        model.unet.backward(dEps)
    }

    /// The frozen text tower's conditioning of `prompts` (cached per prompt: the tower never
    /// changes, and actors and the learner see the same prompts again and again). Each prompt
    /// is encoded alone, so its conditioning is a function of the prompt only: encoded in a
    /// batch, BLAS rounding would depend on its batch-mates and their order, and an actor, the
    /// learner and a resumed learner would see different bits for the same prompt.
    public func conditioning(_ prompts: [String]) -> Conditioning {
        for prompt in prompts where conditioningCache[prompt] == nil {
            let encoded = model.encode([prompt])
            conditioningCache[prompt] = Conditioning(tokens: encoded.tokens, mask: encoded.mask, pooled: encoded.pooled)
        }
        return Conditioning(concatenating: prompts.map { conditioningCache[$0]! })
    }

    /// The conditioning of `prompts` with row i pushed along the concept vector by
    /// `conceptEtas[i]` (0 = the plain row): what adversarial DDPO samples and trains on.
    public func conditioning(_ prompts: [String], conceptEtas: [Float]) -> Conditioning {
        precondition(conceptEtas.count == prompts.count, "DiffusionPolicy: \(conceptEtas.count) etas for \(prompts.count) prompts")
        let plain = conditioning(prompts)
        guard conceptEtas.contains(where: { $0 != 0 }) else { return plain }
        return Conditioning(concatenating: prompts.indices.map { i in
            let row = plain.row(i)
            guard conceptEtas[i] != 0 else { return row }
            let pushed = concept.inject(into: TextEncoding(tokens: row.tokens, mask: row.mask, pooled: row.pooled), eta: conceptEtas[i])
            return Conditioning(tokens: pushed.tokens, mask: pushed.mask, pooled: pushed.pooled)
        })
    }

    /// The defender's concept vector: estimated from the training words only (`striped`, the
    /// `wild` style), so held-out prompts stay unseen; the frozen text tower makes it the same
    /// in every actor and the learner.
    public private(set) lazy var concept = ConceptVector.estimate(model: model, expressions: [.striped], triggers: [.wild])

    /// ∅: the null prompt as one row.
    public var null: Conditioning { conditioning([Prompt.nullText]) }

    /// The trainable parameters by name (what WEIGHTS carries).
    public var trainableTensors: [String: Tensor] {
        Dictionary(uniqueKeysWithValues: trainable.parameters.map { ($0.name, trainable.tensor($0)) })
    }

    /// Replaces every trainable parameter; throws naming the first missing, unexpected or
    /// misshapen tensor and changes nothing in that case.
    public func load(trainable tensors: [String: Tensor]) throws(PolicyError) {
        let expected = Set(trainable.parameters.map(\.name))
        if let extra = tensors.keys.sorted().first(where: { !expected.contains($0) }) {
            throw PolicyError("unexpected trainable tensor '\(extra)' (the policy has \(expected.count), LoRA rank \(loraRank))")
        }
        for p in trainable.parameters {
            guard let t = tensors[p.name] else { throw PolicyError("missing trainable tensor '\(p.name)'") }
            guard t.shape == p.shape else { throw PolicyError("'\(p.name)' has shape \(t.shape), the policy needs \(p.shape)") }
        }
        for p in trainable.parameters { trainable.set(p, tensors[p.name]!) }
    }
}

/// A mismatch between given weights and the policy.
public struct PolicyError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension DiffusionPolicy {
    /// The LoRA adapters as PEFT files would hold them; nil when the full denoiser is trained.
    public var peftAdapter: PEFTAdapter? { loraRank > 0 ? model.unet.peftAdapter(in: trainable) : nil }
}
