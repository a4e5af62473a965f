import Foundation
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
