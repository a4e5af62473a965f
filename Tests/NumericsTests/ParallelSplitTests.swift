import Numerics
import XCTest

/// The element-wise loops split their work across threads (`parallelRanges`); each item writes
/// only its own outputs and reductions keep the serial order, so a layer must give bit-identical
/// outputs and gradients with its loops on 1 thread (the serial oracle) and on several. The
/// GEMMs keep one BLAS thread throughout: OpenBLAS's own split changes its rounding.
final class ParallelSplitTests: XCTestCase {
    /// (forward output, dL/dx, parameter gradients) of `layer` on x and dy with `threads` threads.
    private func run(threads: Int, store: ParameterStore, _ pass: () -> (Tensor, Tensor)) -> [[Float]] {
        let saved = (blasThreads, elementwiseThreads)
        defer { (blasThreads, elementwiseThreads) = saved }
        blasThreads = 1
        elementwiseThreads = threads
        store.zeroGrads()
        let (y, dx) = pass()
        return [y.data, dx.data, Array(store.grads)]
    }

    private func assertSplitInvariant(_ name: String, store: ParameterStore, _ pass: () -> (Tensor, Tensor)) {
        let serial = run(threads: 1, store: store, pass)
        for threads in [2, 3] {
            let split = run(threads: threads, store: store, pass)
            for (part, label) in ["output", "dx", "parameter gradients"].enumerated() {
                let differing = zip(split[part], serial[part]).filter { $0.bitPattern != $1.bitPattern }.count
                XCTAssertEqual(split[part].count, serial[part].count, "\(name): \(label) sizes")
                XCTAssertEqual(differing, 0, "\(name) on \(threads) threads: \(differing) of \(serial[part].count) \(label) differ from 1 thread")
            }
        }
    }

    func testGroupNormIsIdenticalOnEveryThreadCount() {
        var rng = RandomGenerator(seed: 41)
        let store = ParameterStore()
        let x = Tensor(randomNormal: [6, 48, 16, 16], rng: &rng), dy = Tensor(randomNormal: [6, 48, 16, 16], rng: &rng)
        for silu in [false, true] {
            let norm = GroupNorm(store, name: "n\(silu)", channels: 48, groups: 8, silu: silu)
            store.set(norm.weight, Tensor(randomNormal: [48], rng: &rng))
            store.set(norm.bias, Tensor(randomNormal: [48], rng: &rng))
            assertSplitInvariant(silu ? "GroupNorm+SiLU" : "GroupNorm", store: store) { (norm.forward(x), norm.backward(dy)) }
        }
    }

    func testSiLUIsIdenticalOnEveryThreadCount() {
        var rng = RandomGenerator(seed: 42)
        let act = SiLU()
        let x = Tensor(randomNormal: [4, 48, 16, 16], rng: &rng), dy = Tensor(randomNormal: [4, 48, 16, 16], rng: &rng)
        assertSplitInvariant("SiLU", store: ParameterStore()) { (act.forward(x), act.backward(dy)) }
    }

    func testConvolutionsAreIdenticalOnEveryThreadCount() {
        var rng = RandomGenerator(seed: 43)
        for (k, stride, padding) in [(3, 1, 1), (3, 2, 1), (1, 1, 0)] {
            let store = ParameterStore()
            let conv = Conv2d(store, name: "c", inChannels: 32, outChannels: 48, kernel: k, stride: stride,
                              padding: padding, rng: &rng)
            store.set(conv.bias!, Tensor(randomNormal: [48], rng: &rng))
            let x = Tensor(randomNormal: [5, 32, 16, 16], rng: &rng)
            let (ho, wo) = conv.outputSize(height: 16, width: 16)
            let dy = Tensor(randomNormal: [5, 48, ho, wo], rng: &rng)
            assertSplitInvariant("Conv2d k\(k) s\(stride) p\(padding)", store: store) { (conv.forward(x), conv.backward(dy)) }
        }
    }

    func testSpatialAttentionLayoutIsIdenticalOnEveryThreadCount() {
        var rng = RandomGenerator(seed: 44)
        let x = Tensor(randomNormal: [7, 48, 16, 16], rng: &rng)
        assertSplitInvariant("nchwToTokens/tokensToNCHW", store: ParameterStore()) {
            let tokens = nchwToTokens(x)
            return (tokens, tokensToNCHW(tokens, height: 16, width: 16))
        }
    }

    func testAttentionBlocksAreIdenticalOnEveryThreadCount() {
        var rng = RandomGenerator(seed: 45)
        for contextDim in [nil, 32] {
            let store = ParameterStore()
            let attention = MultiHeadAttention(store, name: "a", dim: 48, contextDim: contextDim, heads: 4, rng: &rng)
            let x = Tensor(randomNormal: [5, 64, 48], rng: &rng), dy = Tensor(randomNormal: [5, 64, 48], rng: &rng)
            let context = contextDim.map { Tensor(randomNormal: [5, 12, $0], rng: &rng) }
            let mask = contextDim.map { _ in KeyPaddingMask(lengths: [12, 7, 1, 0, 9], keys: 12) }
            assertSplitInvariant(contextDim == nil ? "self-attention" : "masked cross-attention", store: store) {
                let y = attention.forward(x, context: context, mask: mask)
                let (dx, dcontext) = attention.backward(dy)
                // The context's gradient rides along with dx, so it is compared too.
                return (y, Tensor(shape: [dx.count + (dcontext?.count ?? 0)], data: dx.data + (dcontext?.data ?? [])))
            }
        }
    }
}
