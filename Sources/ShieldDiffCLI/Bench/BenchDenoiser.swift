import ArgumentParser
import Foundation
import Models
import Numerics

/// Forward and forward+backward speed of the denoiser, to size it against the sampling and
/// pretraining budgets.
struct BenchDenoiser: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "denoiser",
        abstract: "Images/s and GFLOP/s of the UNet forward (sampling batch) and forward+backward (training batch)."
    )

    @Option(help: "Timed repetitions per figure; the best one is reported.")
    var iterations = 3

    @Option(help: "Batch of the forward pass (a guided sampling batch of B images is 2B).")
    var forwardBatch = 128

    @Option(help: "Batch of the forward+backward pass.")
    var trainBatch = 64

    @Option(help: "c1: channels at 16×16 (default: the shipped model's).")
    var channels = UNet.Config().channels

    @Option(help: "c2: channels at 8×8 (default: the shipped model's).")
    var innerChannels = UNet.Config().innerChannels

    @Option(help: "OpenBLAS threads (default: OpenBLAS's own choice, one per core).")
    var threads: Int?

    func validate() throws {
        guard iterations >= 1, forwardBatch >= 1, trainBatch >= 1 else {
            throw ValidationError("--iterations, --forward-batch and --train-batch must be at least 1")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() throws {
        printKernelHeader()
        if let threads { blasThreads = threads }
        var config = UNet.Config()
        (config.channels, config.innerChannels) = (channels, innerChannels)
        config.timeDim = 4 * channels
        var rng = RandomGenerator(seed: 3)
        let unet = UNet(config: config, rng: &rng)
        let flops = config.forwardFlops()
        print(String(format: "UNet c1=%d c2=%d: %d parameters, %.1f MFLOP per image forward; OpenBLAS threads %d",
                     channels, innerChannels, unet.store.count, flops / 1e6, blasThreads))
        func inputs(_ b: Int) -> (Tensor, [Float], Tensor, KeyPaddingMask, Tensor) {
            (Tensor(randomNormal: [b, 12, 16, 16], rng: &rng), (0..<b).map { Float($0 * 7 % 1000) },
             Tensor(randomNormal: [b, 16, config.contextDim], rng: &rng),
             KeyPaddingMask(lengths: (0..<b).map { 8 + $0 % 8 }, keys: 16),
             Tensor(randomNormal: [b, config.pooledDim], rng: &rng))
        }
        let f = inputs(forwardBatch)
        let forward = bestTime(iterations: iterations) {
            _ = unet.forward(f.0, timesteps: f.1, context: f.2, mask: f.3, pooled: f.4)
        }
        let t = inputs(trainBatch)
        let dy = Tensor(randomNormal: [trainBatch, 12, 16, 16], rng: &rng)
        let train = bestTime(iterations: iterations) {
            _ = unet.forward(t.0, timesteps: t.1, context: t.2, mask: t.3, pooled: t.4)
            unet.backward(dy)
        }
        let figures = [
            BenchmarkFigure(name: "forward B=\(forwardBatch) images/s", value: Double(forwardBatch) / forward,
                            unit: "img/s", seconds: forward),
            .gflops("forward B=\(forwardBatch)", flops: flops * Double(forwardBatch), seconds: forward),
            BenchmarkFigure(name: "forward+backward B=\(trainBatch) images/s", value: Double(trainBatch) / train,
                            unit: "img/s", seconds: train),
            .gflops("forward+backward B=\(trainBatch)", flops: 3 * flops * Double(trainBatch), seconds: train),
        ]
        printTable(figures, reference: nil)
    }
}
