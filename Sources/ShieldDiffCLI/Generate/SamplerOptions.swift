import ArgumentParser
import FineTuning
import Foundation
import Models
import World

/// The options `sample` and `eval` share: which model, and how it samples.
struct SamplerOptions: ParsableArguments {
    @Option(help: "Diffusion checkpoint, or a learner checkpoint of a fine-tuning run (runs/*/checkpoints/checkpoint-v*.safetensors; its adapters are merged); default: the shipped Sources/Models/Weights/diffusion.safetensors.")
    var checkpoint: String?

    @Option(help: "Seed; image i draws its noise from RandomGenerator(seed).split(i).")
    var seed: UInt64 = 0

    @Option(help: "DDIM steps N.")
    var steps = SamplerConfig().steps

    @Option(help: "Classifier-free guidance scale w.")
    var guidance = SamplerConfig().guidance

    @Option(help: "DDIM η (1: stochastic, as RL samples; 0: deterministic).")
    var eta = SamplerConfig().eta

    @Option(help: "Inference-time baseline: \(SamplingDefense.allCases.map(\.rawValue).joined(separator: ", ")) (README: Baselines).")
    var defense = SamplingDefense.none.rawValue

    @Option(help: "Images per batch.")
    var batchSize = 64

    @Option(help: "Threads a batch is split among (each with one BLAS thread).")
    var workers = 2

    func validate() throws {
        guard steps >= 1 && steps <= 1000 else { throw ValidationError("--steps must be in 1...1000, got \(steps)") }
        guard guidance.isFinite else { throw ValidationError("--guidance must be finite, got \(guidance)") }
        guard eta >= 0 && eta.isFinite else { throw ValidationError("--eta must be ≥ 0, got \(eta)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1, got \(workers)") }
        guard SamplingDefense(rawValue: defense) != nil else {
            throw ValidationError("unknown --defense \(defense); known: \(SamplingDefense.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    /// The sampler configuration these options give, with `defense` (default: --defense).
    func samplerConfig(defense name: String? = nil) -> SamplerConfig {
        SamplerConfig(steps: steps, guidance: guidance, eta: eta, defense: SamplingDefense(rawValue: name ?? defense)!)
    }

    /// The sampler over `--checkpoint`.
    func makeSampler() throws -> Sampler { try makeSampler(checkpoint: checkpoint) }

    /// The sampler over the model at `path` (nil: the shipped model), with these options
    /// (`defense` overrides --defense).
    func makeSampler(checkpoint path: String?, defense name: String? = nil) throws -> Sampler {
        let model = try FineTunedModel.load(from: path.map { URL(fileURLWithPath: $0) })
        return Sampler(model: model, config: samplerConfig(defense: name), workers: workers)
    }

    /// Images for `prompts`, image i from the seed's split i, in batches.
    func generate(_ sampler: Sampler, prompts: [TextPrompt], progress: (Int) -> Void = { _ in }) -> [Image] {
        var images: [Image] = []
        images.reserveCapacity(prompts.count)
        for start in stride(from: 0, to: prompts.count, by: batchSize) {
            let chunk = prompts[start..<min(start + batchSize, prompts.count)].map(\.text)
            images += sampler.sample(prompts: chunk, seed: seed, firstIndex: start).images
            progress(images.count)
        }
        return images
    }
}

/// A prompts file or a set that cannot be used.
struct PromptSourceError: Error, CustomStringConvertible {
    let description: String
}

/// The prompts of a file (any UTF-8 text per line), with its line errors named by file and line.
func readPromptsFile(_ path: String) throws -> [TextPrompt] {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw PromptSourceError(description: "cannot read prompts file \(path)")
    }
    do {
        let prompts = try PromptFile.parse(data)
        guard !prompts.isEmpty else { throw PromptSourceError(description: "\(path): no prompts") }
        return prompts
    } catch let error as PromptFile.LineError {
        throw PromptSourceError(description: "\(path): \(error)")
    }
}

/// Every named prompt set: the grammar's (WORLD.md) and the free-text ones.
let promptSetNames = PromptSet.allCases.map(\.rawValue) + FreeTextSet.allCases.map(\.rawValue)

/// The prompts of a named set, nil for an unknown name.
func namedPromptSet(_ name: String) -> [TextPrompt]? {
    if let set = PromptSet(rawValue: name) { return set.prompts.map(TextPrompt.init) }
    return FreeTextSet(rawValue: name)?.prompts
}
