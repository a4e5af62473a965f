import ArgumentParser
import Foundation
import Numerics

/// `shielddiff bench …`: the benchmark commands whose figures the README and the issue
/// notes quote.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the speed of the project's hot paths.",
        subcommands: [BenchNumerics.self, BenchWire.self, BenchTransport.self, BenchAbuse.self, BenchDenoiser.self,
                      BenchSampler.self, BenchLearnerUpdate.self, BenchEvaluator.self]
    )
}

/// sgemm, conv2d and attention throughput at the denoiser's shapes.
struct BenchNumerics: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "numerics",
        abstract: "GFLOP/s of sgemm, and of conv2d and attention forward+backward at denoiser shapes, each as a fraction of sgemm."
    )

    @Option(help: "Timed repetitions per figure; the best one is reported.")
    var iterations = 5

    @Option(help: "Batch size of the layer benchmarks (the denoiser trains at 32 or more).")
    var batch = 32

    @Option(help: "OpenBLAS (and oneDNN) threads (default: OpenBLAS's own choice, one per core).")
    var threads: Int?

    @Option(help: "Batch of the forward pass in the table of the denoiser's convolutions (sampling batch).")
    var convForwardBatch = 128

    @Option(help: "Batch of the backward passes in the table of the denoiser's convolutions (training batch).")
    var convTrainBatch = 64

    @Flag(help: "Only the table of the denoiser's convolutions on each backend.")
    var convolutionsOnly = false

    @Option(help: "What the convolution table times: wall, or thread-cpu (the calling thread's CPU time; needs --threads 1).")
    var clock = BenchmarkClock.wall

    func validate() throws {
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1, got \(iterations)") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard convForwardBatch >= 1, convTrainBatch >= 1 else {
            throw ValidationError("--conv-forward-batch and --conv-train-batch must be at least 1")
        }
        if clock == .threadCPU && threads != 1 {
            throw ValidationError("--clock thread-cpu times one thread: it needs --threads 1")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() throws {
        printKernelHeader()
        if let threads { blasThreads = threads }
        print("OpenBLAS threads: \(blasThreads); best of \(iterations) runs each")
        if convolutionsOnly {
            denoiserConvolutionTable(forwardBatch: convForwardBatch, trainBatch: convTrainBatch, iterations: iterations,
                                     clock: clock)
            return
        }
        let peak = [512, 1024].map { sgemmBenchmark(size: $0, iterations: iterations) }
        let reference = peak.map(\.value).max()!
        var figures = peak
        for channels in [64, 128] {
            figures.append(convBenchmark(batch: batch, channels: channels, spatial: 16, iterations: iterations))
        }
        for channels in [64, 128] {
            figures.append(selfAttentionBenchmark(batch: batch, channels: channels, tokens: 256, heads: 4,
                                                  iterations: iterations))
            for context in [8, 16] {
                figures.append(crossAttentionBenchmark(batch: batch, channels: channels, tokens: 256,
                                                       contextTokens: context, contextChannels: 64, heads: 4,
                                                       iterations: iterations))
            }
        }
        printTable(figures, reference: reference)
        denoiserConvolutionTable(forwardBatch: convForwardBatch, trainBatch: convTrainBatch, iterations: iterations,
                                     clock: clock)
    }
}

/// protobuf-c encode and decode of a trajectory batch, next to memcpy.
struct BenchWire: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wire",
        abstract: "GB/s of protobuf-c encode and decode (with validation) of a trajectory batch, next to memcpy's."
    )

    @Option(help: "Trajectories in the batch.")
    var trajectories = 32

    @Option(help: "DDIM steps per trajectory (the batch holds steps+1 latents each).")
    var steps = 10

    @Option(help: "Floats per latent (16×16×12 = 3072 for the world's images).")
    var latentSize = 3072

    @Option(help: "Timed repetitions per figure; the best one is reported.")
    var iterations = 30

    func validate() throws {
        guard trajectories >= 1 else { throw ValidationError("--trajectories must be at least 1") }
        guard (1...1000).contains(steps) else { throw ValidationError("--steps must be in 1...1000, got \(steps)") }
        guard latentSize >= 1 else { throw ValidationError("--latent-size must be at least 1") }
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1") }
    }

    func run() throws {
        printKernelHeader()
        printTable(wireBenchmark(trajectories: trajectories, steps: steps, latentSize: latentSize,
                                 iterations: iterations), reference: nil)
    }
}

/// The runtime's transport: learner ingest over tcp loopback, and weight broadcast latency.
struct BenchTransport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transport",
        abstract: "Trajectories/s a learner ingests from replaying actors, and the time until 8 actors hold a new version, plaintext and CURVE."
    )

    @Option(help: "Replay actors (threads with their own sockets) feeding the learner.")
    var actors = 2

    @Option(help: "Trajectories per replayed batch.")
    var trajectories = 32

    @Option(help: "DDIM steps per trajectory.")
    var steps = 10

    @Option(help: "Floats per latent.")
    var latentSize = 3072

    @Option(help: "Batches each replay actor keeps in flight.")
    var window = 2

    @Option(help: "Seconds the ingest rate is measured (after 0.5 s of warm-up).")
    var seconds = 3.0

    @Option(help: "Actors receiving the weight broadcasts.")
    var broadcastActors = 8

    @Option(help: "Weight relays the broadcast actors share (0: every actor subscribes to the learner itself), as one relay per node would be.")
    var relays = 0

    @Option(help: "Trainable floats per broadcast version (a LoRA of realistic size).")
    var weightFloats = 262_144

    @Option(help: "Versions timed in the broadcast benchmark (one every 100 ms).")
    var versions = 20

    @Option(help: "Transport security: none (plaintext), curve, or both side by side in one run.")
    var security = "both"

    @Option(help: "Ingest rounds per security mode, interleaved; the best of each is shown (the machine is shared).")
    var rounds = 3

    @Option(help: "Learner I/O thread counts to run CURVE ingest with, comma-separated (default: the learner's own choice).")
    var curveIoThreads = ""

    /// `--curve-io-threads` as counts (`[nil]`: the learner's own choice); nil if malformed.
    private var curveIOThreads: [Int?]? {
        if curveIoThreads.isEmpty { return [nil] }
        let counts = curveIoThreads.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ ($0 ?? 0) >= 1 && ($0 ?? 0) <= 16 }) else { return nil }
        return counts
    }

    func validate() throws {
        guard actors >= 1, trajectories >= 1, (1...1000).contains(steps), latentSize >= 1, window >= 1, seconds > 0 else {
            throw ValidationError("--actors, --trajectories, --latent-size, --window must be ≥ 1, --steps in 1...1000, --seconds > 0")
        }
        guard broadcastActors >= 1, weightFloats >= 2, versions >= 1 else {
            throw ValidationError("--broadcast-actors and --versions must be ≥ 1, --weight-floats ≥ 2")
        }
        guard (0...broadcastActors).contains(relays) else { throw ValidationError("--relays must be in 0...--broadcast-actors") }
        guard ["none", "curve", "both"].contains(security) else { throw ValidationError("--security: expected none, curve or both") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be ≥ 1") }
        guard curveIOThreads != nil else { throw ValidationError("--curve-io-threads: expected counts in 1...16 separated by commas, got '\(curveIoThreads)'") }
    }

    func run() throws {
        printKernelHeader()
        let modes = security == "both" ? [false, true] : [security == "curve"]
        let ingestModes = modes.flatMap { curve -> [(curve: Bool, ioThreads: Int?)] in
            curve ? (curveIOThreads ?? [nil]).map { (curve: true, ioThreads: $0) } : [(curve: false, ioThreads: nil)]
        }
        var best: [BenchmarkFigure?] = ingestModes.map { _ in nil }
        for _ in 0..<rounds {
            for (index, mode) in ingestModes.enumerated() {
                let figure = try ingestBenchmark(actors: actors, trajectories: trajectories, steps: steps, latentSize: latentSize,
                                                 window: window, seconds: seconds, curve: mode.curve, learnerIOThreads: mode.ioThreads)
                if figure.value > best[index]?.value ?? -1 { best[index] = figure }
            }
        }
        let ingest = best.map { $0! }
        var figures = ingest
        for curve in modes {
            figures += try broadcastBenchmark(actors: broadcastActors, floats: weightFloats, versions: versions,
                                              interval: .milliseconds(100), curve: curve, relays: relays)
        }
        printTable(figures, reference: nil)
        if modes.count == 2 {
            for figure in ingest.dropFirst() {
                print(String(format: "CURVE ingest cost: %.1f%% of the plaintext rate", 100 * (1 - figure.value / ingest[0].value)) + " (\(figure.name))")
            }
        }
    }
}

/// Prints figures as aligned rows, each with its share of `reference` (the sgemm peak).
func printTable(_ figures: [BenchmarkFigure], reference: Double?) {
    let width = figures.map(\.name.count).max() ?? 0
    for f in figures {
        var row = f.name.padding(toLength: width, withPad: " ", startingAt: 0)
        row += String(format: "  %8.2f %@  %9.3f ms", f.value, f.unit, f.seconds * 1000)
        if let reference, f.unit == "GFLOP/s" {
            row += String(format: "  %5.1f%% of sgemm", 100 * f.value / reference)
        }
        print(row)
    }
}
