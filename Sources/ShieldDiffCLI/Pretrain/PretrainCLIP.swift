import ArgumentParser
import Foundation
import Models

/// `shielddiff pretrain clip`: trains the mini-CLIP, reports its held-out ranking accuracy and
/// writes its weights. scripts/pretrain.sh copies the file into Sources/Models/Weights, where
/// it becomes the shipped default.
struct PretrainCLIP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clip",
        abstract: "Train the mini-CLIP (text and image towers) contrastively on the data distribution."
    )

    @Option(help: "Optimizer steps.")
    var steps = CLIPTrainingConfig().steps

    @Option(help: "Image–caption pairs per step (fresh draws every step).")
    var batchSize = CLIPTrainingConfig().batchSize

    @Option(help: "Seed of the initial weights and of the training data.")
    var seed = CLIPTrainingConfig().seed

    @Option(help: "Peak learning rate (linear warmup, cosine decay).")
    var learningRate = CLIPTrainingConfig().learningRate

    @Option(help: "Print a progress line every this many steps.")
    var logEvery = 50

    @Option(help: "Held-out renders for the final ranking check (0 skips it).")
    var evalRenders = 500

    @Option(help: "Seed of the held-out renders; must differ from --seed.")
    var evalSeed: UInt64 = 1_000_003

    @Option(help: "Where to write the weights (safetensors).")
    var out = "clip.safetensors"

    func validate() throws {
        guard steps > 0 else { throw ValidationError("--steps must be positive, got \(steps)") }
        guard batchSize >= 2 else { throw ValidationError("--batch-size must be at least 2 (negatives come from the batch), got \(batchSize)") }
        guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--learning-rate must be positive, got \(learningRate)") }
        guard logEvery > 0 else { throw ValidationError("--log-every must be positive, got \(logEvery)") }
        guard evalRenders >= 0 else { throw ValidationError("--eval-renders must not be negative, got \(evalRenders)") }
        guard evalSeed != seed else { throw ValidationError("--eval-seed must differ from --seed: the check must use held-out renders") }
        guard !out.isEmpty else { throw ValidationError("--out must name a file") }
    }

    func run() throws {
        var config = CLIPTrainingConfig()
        config.steps = steps
        config.batchSize = batchSize
        config.seed = seed
        config.learningRate = learningRate
        config.warmupSteps = min(config.warmupSteps, steps / 10)
        let trainer = CLIPTrainer(config: config)
        say("mini-CLIP: \(trainer.model.store.count) parameters, \(steps) steps of batch \(batchSize), seed \(seed)")
        let start = Date()
        let bar = ProgressBar("pretrain clip")
        try trainer.train { s in
            bar.update(fraction: Double(s.step) / Double(steps), counts: "step \(s.step)/\(steps)")
            guard s.step % logEvery == 0 || s.step == steps else { return }
            let elapsed = Date().timeIntervalSince(start)
            say(String(format: "step %5d/%d  loss %.4f  batch acc %.3f  |g| %.3f  lr %.2e  scale %.1f  %.2f steps/s  %.0fs",
                         s.step, steps, s.loss, s.accuracy, s.gradNorm, s.learningRate, s.scale,
                         Double(s.step) / elapsed, elapsed))
        }
        bar.finish()
        let seconds = Date().timeIntervalSince(start)
        let url = URL(fileURLWithPath: out)
        // The file is a function of the flags alone (no timings), so a rerun reproduces it byte for byte.
        try trainer.model.save(to: url, metadata: [
            "clip.training": String(decoding: try JSONEncoder().encode(config), as: UTF8.self),
        ])
        say(String(format: "trained in %.1f s; wrote %@", seconds, url.path))
        if evalRenders > 0 {
            say(CLIPRanking.evaluate(trainer.model, seed: evalSeed, renders: evalRenders).description)
        }
    }
}
