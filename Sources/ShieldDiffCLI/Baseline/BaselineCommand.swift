import ArgumentParser
import Foundation
import Models
import World

/// `shielddiff baseline esd|uce`: the weight-editing baselines, each written as an ordinary
/// diffusion checkpoint that `--checkpoint` of sample, eval and compare loads.
struct Baseline: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a baseline checkpoint: ESD erasure fine-tuning or UCE's closed-form cross-attention edit.",
        subcommands: [BaselineESD.self, BaselineUCE.self]
    )
}

/// The model a baseline starts from and where it goes.
struct BaselineModelOptions: ParsableArguments {
    @Option(help: "Diffusion checkpoint to edit (default: the shipped base model).")
    var base: String?

    @Option(help: "Where to write the edited diffusion checkpoint (safetensors).")
    var out: String

    func validate() throws {
        guard !out.isEmpty else { throw ValidationError("--out must name a file") }
    }

    func load() throws -> DiffusionModel { try DiffusionModel.load(from: base.map { URL(fileURLWithPath: $0) }) }
}

struct BaselineESD: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "esd",
        abstract: "Erased Stable Diffusion: fine-tune ε(x_t, c) toward ε*(x_t, ∅) − η(ε*(x_t, c) − ε*(x_t, ∅)) for the concept c."
    )

    @Option(help: "xattn (cross-attention projections only, ESD-x) or full (every denoiser parameter).")
    var variant = ErasureConfig().variant.rawValue

    @Option(help: "Optimizer steps.")
    var iterations = ErasureConfig().iterations

    @Option(help: "x_t drawn per step.")
    var batchSize = ErasureConfig().batchSize

    @Option(help: "Adam learning rate.")
    var learningRate = ErasureConfig().learningRate

    @Option(help: "η of the target.")
    var negativeGuidance = ErasureConfig().negativeGuidance

    @Option(help: "The concept text to erase.")
    var concept = ErasureConfig().concept

    @Option(help: "Seed of the steps' noise.")
    var seed = ErasureConfig().seed

    @Option(help: "Print a progress line every this many steps.")
    var logEvery = 25

    @OptionGroup var model: BaselineModelOptions

    func validate() throws {
        guard ErasureConfig.Variant(rawValue: variant) != nil else {
            throw ValidationError("unknown --variant \(variant); known: \(ErasureConfig.Variant.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard iterations > 0 else { throw ValidationError("--iterations must be positive, got \(iterations)") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
        guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--learning-rate must be positive, got \(learningRate)") }
        guard negativeGuidance.isFinite else { throw ValidationError("--negative-guidance must be finite, got \(negativeGuidance)") }
        guard logEvery > 0 else { throw ValidationError("--log-every must be positive, got \(logEvery)") }
    }

    func run() throws {
        var config = ErasureConfig()
        config.variant = ErasureConfig.Variant(rawValue: variant)!
        (config.iterations, config.batchSize, config.learningRate) = (iterations, batchSize, learningRate)
        (config.negativeGuidance, config.concept, config.seed) = (negativeGuidance, concept, seed)
        let start = Date()
        let trainer = ErasureTrainer(model: try model.load(), config: config)
        let before = trainer.gap(seed: seed &+ 1)
        try trainer.train { step, loss in
            if step % logEvery == 0 || step == iterations {
                say(String(format: "esd-%@ step %d/%d  loss %.5f  %.1f s", variant, step, iterations, loss, Date().timeIntervalSince(start)))
            }
        }
        let after = trainer.gap(seed: seed &+ 1)
        let seconds = Date().timeIntervalSince(start)
        let meta = ["baseline": "esd-\(variant)",
                    "baseline.config": String(decoding: try JSONEncoder().encode(config), as: UTF8.self)]
        try trainer.model.save(to: URL(fileURLWithPath: model.out), metadata: meta)
        say(String(format: "esd-%@: ESD loss on held-out draws %.5f → %.5f; %.1f s; wrote %@", variant, before, after, seconds, model.out))
    }
}

struct BaselineUCE: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uce",
        abstract: "Unified Concept Editing: closed-form edit of the cross-attention key/value projections (explicit words → null, other words kept)."
    )

    @Option(help: "Explicit prompts (all five expressions) whose unsafe words are erased: a seeded sample of the explicit set.")
    var erasePrompts = 2000

    @Option(help: "Benign prompts whose tokens are preserved: a seeded sample of the benign set.")
    var preservePrompts = 2000

    @Option(help: "λ: pull toward the unedited projections.")
    var regularization = ConceptEditing.Weights().regularization

    @Option(help: "Weight of the preserved tokens relative to the erased prompts' tokens.")
    var preserveScale = ConceptEditing.Weights().preserve

    @Option(help: "Weight of the erased prompts' other tokens (mapped to their safe side's) relative to the explicit words (0: the words only).")
    var neighbourScale = ConceptEditing.Weights().neighbours

    @Option(help: "Seed of the prompt samples.")
    var seed: UInt64 = 0

    @OptionGroup var model: BaselineModelOptions

    func validate() throws {
        guard erasePrompts > 0, preservePrompts >= 0 else { throw ValidationError("--erase-prompts must be positive and --preserve-prompts not negative") }
        guard regularization > 0, regularization.isFinite else { throw ValidationError("--regularization must be positive, got \(regularization)") }
        guard preserveScale >= 0, preserveScale.isFinite else { throw ValidationError("--preserve-scale must not be negative, got \(preserveScale)") }
        guard neighbourScale >= 0, neighbourScale.isFinite else { throw ValidationError("--neighbour-scale must not be negative, got \(neighbourScale)") }
    }

    func run() throws {
        let start = Date()
        let edited = try model.load()
        let erase = evaluationPrompts(PromptSet.explicit.prompts, count: erasePrompts, seed: seed).map(\.text)
        let preserve = preservePrompts == 0 ? [] : evaluationPrompts(PromptSet.benign.prompts, count: preservePrompts, seed: seed &+ 1).map(\.text)
        var weights = ConceptEditing.Weights()
        (weights.regularization, weights.preserve, weights.neighbours) = (regularization, preserveScale, neighbourScale)
        let report = ConceptEditing.edit(edited, erase: erase, preserve: preserve, weights: weights)
        let meta = ["baseline": "uce", "baseline.prompts": "erase \(erasePrompts) explicit, preserve \(preservePrompts) benign, seed \(seed)",
                    "baseline.weights": "λ \(regularization), preserve \(preserveScale), neighbours \(neighbourScale)"]
        try edited.save(to: URL(fileURLWithPath: model.out), metadata: meta)
        say(String(format: "uce: %d erase and %d preserve token pairs over %d projections; preserved tokens move %.2f%%, erased tokens keep %.1f%% of their distance to the target; %.1f s; wrote %@",
                   report.erasePairs, report.preservePairs, report.layers.count, 100 * report.preserveError, 100 * report.eraseError,
                   Date().timeIntervalSince(start), model.out))
    }
}
