import Foundation
import Numerics
import Wire

/// protobuf-c encode and decode (with full validation) of one TrajectoryBatch envelope of
/// `trajectories` trajectories, each `steps` DDIM steps over latents of `latentSize` floats,
/// in GB/s of encoded message bytes, next to a plain memcpy of as many bytes; each figure
/// is the best of `iterations` timed runs.
func wireBenchmark(trajectories: Int, steps: Int, latentSize: Int, iterations: Int) -> [BenchmarkFigure] {
    let envelope = Envelope(sender: "actor-0", sequence: 1,
                            payload: .trajectoryBatch(benchmarkBatch(trajectories, steps, latentSize)))
    let bytes: [UInt8]
    do { bytes = try envelope.encoded() } catch { fatalError("wire benchmark: encoding failed: \(error)") }
    let gigabytes = Double(bytes.count) / 1e9
    let label = "TrajectoryBatch \(trajectories)×(\(steps + 1)×\(latentSize)), \(bytes.count) bytes"

    var sink = 0  // keeps results observable so no timed work is optimized away
    let encode = bestTime(iterations: iterations) {
        do { sink &+= try envelope.encoded().count } catch { fatalError("wire benchmark: \(error)") }
    }
    let decode = bestTime(iterations: iterations) {
        do { sink &+= Int(try Envelope(decoding: bytes).sequence) } catch { fatalError("wire benchmark: \(error)") }
    }
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 64)
    defer { copy.deallocate() }
    let memcpySeconds = bestTime(iterations: iterations) {
        bytes.withUnsafeBytes { source in _ = memcpy(copy.baseAddress!, source.baseAddress!, bytes.count) }
        sink &+= Int(copy[bytes.count / 2])
    }
    precondition(sink != 0 || bytes.isEmpty)

    func figure(_ name: String, _ seconds: Double) -> BenchmarkFigure {
        BenchmarkFigure(name: "\(name): \(label)", value: gigabytes / seconds, unit: "GB/s", seconds: seconds)
    }
    return [figure("wire encode", encode), figure("wire decode", decode),
            figure("wire encode+decode", encode + decode), figure("memcpy", memcpySeconds)]
}

/// A valid batch with random latents and timesteps spread evenly over 0..<1000 (steps ≤ 1000).
private func benchmarkBatch(_ count: Int, _ steps: Int, _ latentSize: Int) -> TrajectoryBatch {
    var rng = RandomGenerator(seed: 11)
    let timesteps = (0..<steps).map { UInt32((steps - $0) * (1000 / steps) - 1) }
    let trajectories = (0..<count).map { i in
        Trajectory(prompt: "a wild large red striped circle on the left on a gray background",
                   safePrompt: "a wild large red circle on the left on a gray background",
                   seed: UInt64(i), policyVersion: 1, timesteps: timesteps,
                   latents: Tensor(randomNormal: [steps + 1, latentSize], rng: &rng),
                   logProbs: (0..<steps).map { _ in -1 + 0.1 * rng.nextGaussian() },
                   reward: 0.5, alignment: 0.3, unsafeProbability: 0.1)
    }
    return TrajectoryBatch(actorID: "actor-0", batchID: 1, trajectories: trajectories)
}
