import ArgumentParser
import Foundation
import Models

/// `shielddiff pretrain diffusion`: trains the denoiser on the data distribution, conditioned
/// on the frozen mini-CLIP text tower, and writes the self-contained diffusion checkpoint.
/// scripts/pretrain.sh copies it into Sources/Models/Weights, where it becomes the default.
struct PretrainDiffusion: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diffusion",
        abstract: "Train the text-conditioned denoiser (v-prediction loss, ε interface) with the mini-CLIP text tower frozen."
    )

    @Option(help: "Optimizer steps.")
    var steps = DiffusionTrainingConfig().steps

    @Option(help: "Image–caption pairs per step (fresh draws every step).")
    var batchSize = DiffusionTrainingConfig().batchSize

    @Option(help: "Seed of the initial weights, the data, timesteps, noise and prompt dropout.")
    var seed = DiffusionTrainingConfig().seed

    @Option(help: "Peak learning rate (linear warmup, cosine decay).")
    var learningRate = DiffusionTrainingConfig().learningRate

    @Option(help: "Threads a batch is split among (each with one BLAS thread); the run is reproducible per value.")
    var workers = DiffusionTrainingConfig().workers

    @Option(help: "c1: denoiser channels at 16×16.")
    var channels = UNet.Config().channels

    @Option(help: "c2: denoiser channels at 8×8.")
    var innerChannels = UNet.Config().innerChannels

    @Option(help: "mini-CLIP checkpoint whose text tower conditions the denoiser (default: the shipped clip.safetensors).")
    var clip: String?

    @Option(help: "Continue from this diffusion checkpoint (a later training stage): its text tower and denoiser, whose architecture overrides --channels and --inner-channels; --clip is then not used.")
    var initFrom: String?

    @Option(help: "Print a progress line every this many steps.")
    var logEvery = 50

    @Option(help: "Also write the checkpoint every this many steps (0: only at the end).")
    var saveEvery = 1000

    @Option(help: "Where to write the weights (safetensors).")
    var out = "diffusion.safetensors"

    func validate() throws {
        guard steps > 0 else { throw ValidationError("--steps must be positive, got \(steps)") }
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1, got \(workers)") }
        guard batchSize >= workers else { throw ValidationError("--batch-size must be at least --workers (\(workers)), got \(batchSize)") }
        guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--learning-rate must be positive, got \(learningRate)") }
        guard channels > 0, innerChannels > 0, channels % 8 == 0, innerChannels % 8 == 0 else {
            throw ValidationError("--channels and --inner-channels must be positive multiples of 8 (GroupNorm groups)")
        }
        guard logEvery > 0 else { throw ValidationError("--log-every must be positive, got \(logEvery)") }
        guard saveEvery >= 0 else { throw ValidationError("--save-every must not be negative, got \(saveEvery)") }
        guard !out.isEmpty else { throw ValidationError("--out must name a file") }
        guard initFrom == nil || clip == nil else { throw ValidationError("--init-from brings its own text tower; do not give --clip too") }
    }

    func run() throws {
        var config = DiffusionTrainingConfig()
        (config.steps, config.batchSize, config.seed) = (steps, batchSize, seed)
        (config.learningRate, config.workers) = (learningRate, workers)
        config.warmupSteps = min(config.warmupSteps, steps / 10)
        (config.model.channels, config.model.innerChannels) = (channels, innerChannels)
        config.model.timeDim = 4 * channels
        config.model.sinusoidDim = channels
        let trainer: DiffusionTrainer
        if let initFrom {
            let model = try DiffusionModel.load(from: URL(fileURLWithPath: initFrom))
            config.model = model.unet.config
            trainer = DiffusionTrainer(config: config, continuing: model)
        } else {
            trainer = DiffusionTrainer(config: config, clip: try MiniCLIP.load(from: clip.map { URL(fileURLWithPath: $0) }))
        }
        let url = URL(fileURLWithPath: out)
        say(String(format: "diffusion: %d parameters, %.1f MFLOP/image forward; %d steps of batch %d on %d workers, seed %llu",
                   trainer.model.unet.store.count, config.model.forwardFlops() / 1e6, steps, batchSize, workers, seed))
        let start = Date()
        let bar = ProgressBar("pretrain diffusion")
        var window = (loss: 0.0, count: 0)
        try trainer.train { s in
            window = (window.loss + Double(s.loss), window.count + 1)
            bar.update(fraction: Double(s.step) / Double(steps), counts: "step \(s.step)/\(steps)")
            if s.step % logEvery == 0 || s.step == steps {
                let elapsed = Date().timeIntervalSince(start)
                let rate = Double(s.step) / elapsed
                say(String(format: "step %5d/%d  v-loss %.4f  |g| %.3f  lr %.2e  %.2f steps/s  %.0fs  ETA %.0fs",
                           s.step, steps, window.loss / Double(window.count),
                           s.gradNorm, s.learningRate, rate, elapsed, Double(steps - s.step) / rate))
                window = (0, 0)
            }
            if saveEvery > 0, s.step % saveEvery == 0, s.step < steps {
                do { try trainer.save(to: url) } catch { say("warning: could not write \(url.path): \(error)") }
            }
        }
        bar.finish()
        let seconds = Date().timeIntervalSince(start)
        try trainer.save(to: url, metadata: ["diffusion.train_seconds": String(format: "%.1f", seconds)])
        say(String(format: "trained in %.1f s; wrote %@", seconds, url.path))
    }
}
