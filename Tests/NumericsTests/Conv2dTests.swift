import GradCheckSupport
import Numerics
import XCTest

final class Conv2dTests: XCTestCase {
    /// A batch larger than one im2col chunk must give the same result as image by image.
    func testChunkedBatchMatchesSingleImages() {
        var rng = RandomGenerator(seed: 12)
        let store = ParameterStore()
        let conv = Conv2d(store, name: "c", inChannels: 64, outChannels: 8, kernel: 3, padding: 1, rng: &rng)
        conv.backends = (.im2col, .im2col)
        let x = Tensor(randomNormal: [13, 64, 16, 16], rng: &rng)  // 64·9·256 floats per image: several chunks
        let y = conv.forward(x)
        let plane = 64 * 256, outPlane = 8 * 256
        for n in [0, 6, 12] {
            let one = conv.forward(Tensor(shape: [1, 64, 16, 16], data: Array(x.data[(n * plane)..<((n + 1) * plane)])))
            let diff = zip(one.data, y.data[(n * outPlane)...]).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(diff, 1e-5, "image \(n)")
        }
    }

    /// Backward over several chunks: dW and db sum the single-image gradients, dx stacks them.
    func testChunkedBackwardMatchesSingleImages() {
        var rng = RandomGenerator(seed: 14)
        let store = ParameterStore()
        let conv = Conv2d(store, name: "c", inChannels: 64, outChannels: 8, kernel: 3, padding: 1, rng: &rng)
        conv.backends = (.im2col, .im2col)
        let x = Tensor(randomNormal: [13, 64, 16, 16], rng: &rng)
        let dy = Tensor(randomNormal: [13, 8, 16, 16], rng: &rng)
        store.zeroGrads()
        _ = conv.forward(x)
        let dx = conv.backward(dy)
        let batchGrads = Array(store.grads)

        store.zeroGrads()
        let plane = 64 * 256, outPlane = 8 * 256
        var stacked: [Float] = []
        for n in 0..<13 {
            _ = conv.forward(Tensor(shape: [1, 64, 16, 16], data: Array(x.data[(n * plane)..<((n + 1) * plane)])))
            stacked += conv.backward(Tensor(shape: [1, 8, 16, 16],
                                            data: Array(dy.data[(n * outPlane)..<((n + 1) * outPlane)]))).data
        }
        let dxDiff = zip(dx.data, stacked).map { abs($0 - $1) }.max() ?? 0
        XCTAssertEqual(dx.count, stacked.count)
        XCTAssertLessThan(dxDiff, 1e-5)
        let gradDiff = zip(batchGrads, Array(store.grads)).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        XCTAssertLessThan(gradDiff, 1e-4)
    }

    func testGradientPadded3x3() { checkGradient(kernel: 3, stride: 1, padding: 1, h: 5, w: 6) }
    func testGradientStride2() { checkGradient(kernel: 3, stride: 2, padding: 1, h: 6, w: 7) }
    func testGradientUnpadded() { checkGradient(kernel: 3, stride: 1, padding: 0, h: 5, w: 4) }
    func testGradientPointwise() { checkGradient(kernel: 1, stride: 1, padding: 0, h: 4, w: 5) }
    func testGradientWithoutBias() { checkGradient(kernel: 3, stride: 1, padding: 1, h: 4, w: 4, bias: false) }

    private func checkGradient(kernel: Int, stride: Int, padding: Int, h: Int, w: Int, bias: Bool = true,
                               line: UInt = #line) {
        for backend in [Conv2d.Backend.oneDNN, .oneDNNBlocked, .im2col] {
            var rng = RandomGenerator(seed: 13)
            let store = ParameterStore()
            let conv = Conv2d(store, name: "c", inChannels: 3, outChannels: 4, kernel: kernel, stride: stride,
                              padding: padding, bias: bias, rng: &rng)
            conv.backends = (backend, backend)
            if let b = conv.bias { store.set(b, Tensor(randomNormal: [4], rng: &rng)) }
            let x = Tensor(randomNormal: [2, 3, h, w], rng: &rng)
            GradCheck.check("conv2d \(backend) k\(kernel) s\(stride) p\(padding)\(bias ? "" : " no bias")", store: store,
                            input: x, forward: conv.forward, backward: conv.backward, line: line)
        }
    }
}
