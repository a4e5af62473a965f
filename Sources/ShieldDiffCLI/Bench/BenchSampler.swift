import ArgumentParser
import Foundation
import Models
import Numerics
import World

/// Images/s of the default guided sampler on 1 and on 2 cores.
///
/// Speed does not depend on the weights, so the shipped model is used when present and a
/// freshly initialised one of the shipped architecture otherwise. Two cores are measured both
/// ways — one worker with 2 OpenBLAS threads, and two workers with one thread each — and the
/// faster is the 2-core figure (two workers: GroupNorm, SiLU, im2col and the softmax are
/// single-threaded, so splitting the batch keeps both cores busy).
struct BenchSampler: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sampler",
        abstract: "Images/s of the default sampler (classifier-free guidance, batched) on 1 and 2 cores."
    )

    @Option(help: "Images per batch (the UNet batch is twice this).")
    var batch = 64

    @Option(help: "Timed repetitions per figure; the best one is reported.")
    var iterations = 2

    @Option(help: "DDIM steps N (default: the shipped sampler's).")
    var steps = SamplerConfig().steps

    func validate() throws {
        guard batch >= 2 else { throw ValidationError("--batch must be at least 2, got \(batch)") }
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1, got \(iterations)") }
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
    }

    func run() throws {
        printKernelHeader()
        let model: DiffusionModel
        if let shipped = try? DiffusionModel.load() {
            model = shipped
        } else {
            var rng = RandomGenerator(seed: 5)
            let textStore = ParameterStore()
            model = DiffusionModel(textStore: textStore, textEncoder: TextEncoder(textStore, rng: &rng),
                                   unet: UNet(rng: &rng))
        }
        var config = SamplerConfig()
        config.steps = steps
        let prompts = evaluationPrompts(PromptSet.benign.prompts, count: batch, seed: 1).map(\.text)
        print(String(format: "sampler: N=%d steps, guidance %.1f, η=%.1f, batch %d; UNet %.1f MFLOP/image forward, %d evaluations per image",
                     config.steps, config.guidance, config.eta, batch, model.unet.config.forwardFlops() / 1e6, 2 * config.steps))
        var figures: [BenchmarkFigure] = []
        for (label, workers, threads) in [("1 core (1 worker, 1 BLAS thread)", 1, 1),
                                          ("2 cores (1 worker, 2 BLAS threads)", 1, 2),
                                          ("2 cores (2 workers, 1 BLAS thread each)", 2, 1)] {
            blasThreads = threads
            let sampler = Sampler(model: model, config: config, workers: workers)
            let seconds = bestTime(iterations: iterations) { _ = sampler.sample(prompts: prompts, seed: 0) }
            figures.append(BenchmarkFigure(name: label, value: Double(batch) / seconds, unit: "images/s", seconds: seconds))
        }
        printTable(figures, reference: nil)
        print(String(format: "2 cores: %.2f images/s (best of both ways)", max(figures[1].value, figures[2].value)))
    }
}
