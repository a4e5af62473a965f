import Foundation
import Models
import Numerics

/// Conv2d 3×3 (padding 1) forward + backward on (batch, channels, spatial, spatial) with
/// as many output channels. FLOPs: forward 2·B·Cout·H·W·Cin·9, backward twice that.
/// The figure is the best of `iterations` timed passes, after one warm-up pass.
func convBenchmark(batch: Int, channels: Int, spatial: Int, iterations: Int) -> BenchmarkFigure {
    var rng = RandomGenerator(seed: 1)
    let store = ParameterStore()
    let conv = Conv2d(store, name: "conv", inChannels: channels, outChannels: channels, kernel: 3, padding: 1, rng: &rng)
    let x = Tensor(randomNormal: [batch, channels, spatial, spatial], rng: &rng)
    let dy = Tensor(randomNormal: [batch, channels, spatial, spatial], rng: &rng)
    let forwardFlops = 2.0 * Double(batch * channels * spatial * spatial * channels * 9)
    let seconds = bestTime(iterations: iterations) {
        _ = conv.forward(x)
        _ = conv.backward(dy)
    }
    return .gflops("conv3x3 fwd+bwd B=\(batch) C=\(channels) \(spatial)x\(spatial)",
                   flops: 3 * forwardFlops, seconds: seconds)
}

/// Square sgemm of side `size`: 2·size³ FLOPs, best of `iterations` after one warm-up.
func sgemmBenchmark(size: Int, iterations: Int) -> BenchmarkFigure {
    var rng = RandomGenerator(seed: 2)
    let a = Tensor(randomNormal: [size, size], rng: &rng).data
    let b = Tensor(randomNormal: [size, size], rng: &rng).data
    var c = [Float](repeating: 0, count: size * size)
    let seconds = bestTime(iterations: iterations) {
        sgemm(m: size, n: size, k: size, a: a, lda: size, b: b, ldb: size, c: &c, ldc: size)
    }
    return .gflops("sgemm \(size)x\(size)x\(size)", flops: 2 * pow(Double(size), 3), seconds: seconds)
}

/// One convolution shape of the denoiser, and how many of its layers have it.
struct DenoiserConvolution {
    let inChannels: Int, outChannels: Int, kernel: Int, side: Int, layers: Int

    var name: String { "\(kernel)x\(kernel) \(inChannels)->\(outChannels) \(side)x\(side) (x\(layers))" }

    /// Multiply-add FLOPs of one forward pass over `batch` images (each backward half is as many).
    func forwardFlops(batch: Int) -> Double {
        2 * Double(batch * side * side * inChannels * outChannels * kernel * kernel)
    }
}

/// The UNet's convolutions (`UNet`'s diagram): conv_in, the residual blocks' 3×3 pairs and
/// 1×1 skips where channels change, conv_out.
func denoiserConvolutions(_ c: UNet.Config) -> [DenoiserConvolution] {
    let (ci, c1, c2, full, half) = (c.imageChannels, c.channels, c.innerChannels, c.side, c.side / 2)
    return [
        DenoiserConvolution(inChannels: ci, outChannels: c1, kernel: 3, side: full, layers: 1),       // conv_in
        DenoiserConvolution(inChannels: c1, outChannels: c1, kernel: 3, side: full, layers: 3),       // res1 ×2, res3.conv2
        DenoiserConvolution(inChannels: c1, outChannels: c2, kernel: 3, side: half, layers: 1),       // res2.conv1
        DenoiserConvolution(inChannels: c1, outChannels: c2, kernel: 1, side: half, layers: 1),       // res2.skip
        DenoiserConvolution(inChannels: c2, outChannels: c2, kernel: 3, side: half, layers: 3),       // res2.conv2, mid ×2
        DenoiserConvolution(inChannels: c1 + c2, outChannels: c1, kernel: 3, side: full, layers: 1),  // res3.conv1
        DenoiserConvolution(inChannels: c1 + c2, outChannels: c1, kernel: 1, side: full, layers: 1),  // res3.skip
        DenoiserConvolution(inChannels: c1, outChannels: ci, kernel: 3, side: full, layers: 1),       // conv_out
    ]
}

/// Each denoiser convolution on each backend, in GFLOP/s: forward at the sampling batch,
/// forward + backward-data (frozen weights, as LoRA training runs them) and forward + full
/// backward at the training batch; then every pass's time summed over the UNet's layers.
/// Best of `iterations` after a warm-up, backends alternating shape by shape.
func denoiserConvolutionTable(forwardBatch: Int, trainBatch: Int, iterations: Int, clock: BenchmarkClock) {
    // The three backends on both passes, then each layer's default (`Conv2d.fastestBackends`).
    let backends: [(String, Conv2d.Backend?)] = [("im2col+sgemm", .im2col), ("oneDNN nchw", .oneDNN),
                                                 ("oneDNN blocked", .oneDNNBlocked), ("default", nil)]
    let passes = ["forward B=\(forwardBatch)", "fwd+bwd-data B=\(trainBatch)", "fwd+bwd B=\(trainBatch)"]
    var totals = [[Double]](repeating: [Double](repeating: 0, count: backends.count), count: passes.count)  // ms
    print("Convolutions at the denoiser's shapes, GFLOP/s by \(clock.rawValue) time (FLOPs: forward F, each backward half F):")
    let width = 30
    print("shape".padding(toLength: width, withPad: " ", startingAt: 0) + "pass".padding(toLength: 22, withPad: " ", startingAt: 0)
          + backends.map { $0.0.leftPadded(16) }.joined())
    var rng = RandomGenerator(seed: 4)
    for shape in denoiserConvolutions(UNet.Config()) {
        let store = ParameterStore()
        let conv = Conv2d(store, name: "conv", inChannels: shape.inChannels, outChannels: shape.outChannels,
                          kernel: shape.kernel, padding: shape.kernel / 2, rng: &rng)
        let xf = Tensor(randomNormal: [forwardBatch, shape.inChannels, shape.side, shape.side], rng: &rng)
        let xt = Tensor(randomNormal: [trainBatch, shape.inChannels, shape.side, shape.side], rng: &rng)
        let dy = Tensor(randomNormal: [trainBatch, shape.outChannels, shape.side, shape.side], rng: &rng)
        var rates = [[Double]](repeating: [], count: passes.count)
        for (b, backend) in backends.enumerated() {
            conv.backends = backend.1.map { ($0, $0) } ?? Conv2d.fastestBackends(kernel: shape.kernel,
                                                                                  inChannels: shape.inChannels)
            let seconds = [
                bestTime(iterations: iterations, clock: clock) { _ = conv.forward(xf) },
                bestTime(iterations: iterations, clock: clock) {
                    conv.frozen = true
                    _ = conv.forward(xt)
                    _ = conv.backward(dy)
                },
                bestTime(iterations: iterations, clock: clock) {
                    conv.frozen = false
                    _ = conv.forward(xt)
                    _ = conv.backward(dy)
                },
            ]
            let flops = [shape.forwardFlops(batch: forwardBatch), 2 * shape.forwardFlops(batch: trainBatch),
                         3 * shape.forwardFlops(batch: trainBatch)]
            for p in passes.indices {
                rates[p].append(flops[p] / seconds[p] / 1e9)
                totals[p][b] += Double(shape.layers) * seconds[p] * 1000
            }
        }
        for p in passes.indices {
            print((p == 0 ? shape.name : "").padding(toLength: width, withPad: " ", startingAt: 0)
                  + passes[p].padding(toLength: 22, withPad: " ", startingAt: 0)
                  + rates[p].map { String(format: "%.1f", $0).leftPadded(16) }.joined())
        }
    }
    print("Summed over the UNet's convolutions, ms (ratio to im2col+sgemm):")
    for p in passes.indices {
        let base = totals[p][0]
        print("all".padding(toLength: width, withPad: " ", startingAt: 0) + passes[p].padding(toLength: 22, withPad: " ", startingAt: 0)
              + totals[p].map { String(format: "%.1f (%.2fx)", $0, base / $0).leftPadded(16) }.joined())
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? " " + self : String(repeating: " ", count: width - count) + self }
}
