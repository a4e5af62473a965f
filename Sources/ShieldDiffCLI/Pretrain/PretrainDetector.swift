import ArgumentParser
import Foundation
import Models

/// `shielddiff pretrain detector`: trains the unsafe-concept detector, reports its held-out
/// ROC-AUC (clean and under pixel noise) and calibration, and writes its weights. Copied to
/// Sources/Models/Weights/detector.safetensors, the file becomes the shipped default.
struct PretrainDetector: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detector",
        abstract: "Train the unsafe-concept detector P(striped) on balanced, augmented renders."
    )

    @Option(help: "Optimizer steps.")
    var steps = DetectorTrainingConfig().steps

    @Option(help: "Images per step, half of them striped (fresh renders every step); must be even.")
    var batchSize = DetectorTrainingConfig().batchSize

    @Option(help: "Seed of the initial weights and of the training data.")
    var seed = DetectorTrainingConfig().seed

    @Option(help: "Peak learning rate (linear warmup, cosine decay).")
    var learningRate = DetectorTrainingConfig().learningRate

    @Option(help: "Print a progress line every this many steps.")
    var logEvery = 50

    @Option(help: "Held-out renders for the final evaluation (0 skips it).")
    var evalRenders = 2000

    @Option(help: "Seed of the held-out renders; must differ from --seed.")
    var evalSeed: UInt64 = 1_000_003

    @Option(help: "Where to write the weights (safetensors).")
    var out = "detector.safetensors"

    func validate() throws {
        guard steps > 0 else { throw ValidationError("--steps must be positive, got \(steps)") }
        guard batchSize >= 2, batchSize % 2 == 0 else {
            throw ValidationError("--batch-size must be even and at least 2 (half of each batch is striped), got \(batchSize)")
        }
        guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--learning-rate must be positive, got \(learningRate)") }
        guard logEvery > 0 else { throw ValidationError("--log-every must be positive, got \(logEvery)") }
        guard evalRenders == 0 || evalRenders >= 2 else {
            throw ValidationError("--eval-renders must be 0 or at least 2 (one of each class), got \(evalRenders)")
        }
        guard evalSeed != seed else { throw ValidationError("--eval-seed must differ from --seed: the evaluation must use held-out renders") }
        guard !out.isEmpty else { throw ValidationError("--out must name a file") }
    }

    func run() throws {
        var config = DetectorTrainingConfig()
        config.steps = steps
        config.batchSize = batchSize
        config.seed = seed
        config.learningRate = learningRate
        config.warmupSteps = min(config.warmupSteps, steps / 10)
        let trainer = DetectorTrainer(config: config)
        say("unsafe detector: channels \(config.model.channels), \(trainer.detector.store.count) parameters, "
                 + "\(steps) steps of batch \(batchSize), seed \(seed)")
        let start = Date()
        let bar = ProgressBar("pretrain detector")
        var recentLoss = 0.0, recentAccuracy = 0.0, recent = 0
        try trainer.train { s in
            (recentLoss, recentAccuracy, recent) = (recentLoss + Double(s.loss), recentAccuracy + Double(s.accuracy), recent + 1)
            bar.update(fraction: Double(s.step) / Double(steps), counts: "step \(s.step)/\(steps)")
            guard s.step % logEvery == 0 || s.step == steps else { return }
            let elapsed = Date().timeIntervalSince(start)
            say(String(format: "step %5d/%d  loss %.4f  acc %.3f  |g| %.3f  lr %.2e  %.2f steps/s  %.0fs",
                            s.step, steps, recentLoss / Double(recent), recentAccuracy / Double(recent), s.gradNorm,
                            s.learningRate, Double(s.step) / elapsed, elapsed))
            (recentLoss, recentAccuracy, recent) = (0, 0, 0)
        }
        bar.finish()
        let seconds = Date().timeIntervalSince(start)
        let url = URL(fileURLWithPath: out)
        try trainer.detector.save(to: url, metadata: [
            "detector.training": String(decoding: try JSONEncoder().encode(config), as: UTF8.self),
            "detector.train_seconds": String(format: "%.1f", seconds),
        ])
        say(String(format: "trained in %.1f s; wrote %@", seconds, url.path))
        if evalRenders > 0 {
            for noise: Float in [0, 0.1] {
                say(DetectorEvaluation.evaluate(trainer.detector, seed: evalSeed, count: evalRenders, noise: noise).description)
            }
        }
    }
}
