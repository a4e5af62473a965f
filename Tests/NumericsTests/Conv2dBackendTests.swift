import Numerics
import XCTest

/// Every `Conv2d` backend (oneDNN on NCHW, oneDNN blocked, im2col + sgemm) against the
/// definition of the convolution and of its gradients, summed in Double, on random shapes,
/// odd ones included. The backends sum in different orders, so none is bit-identical to the
/// definition; each entry must lie within the worst-case error of a Float32 sum of its K
/// products in any order, γ_K·Σ|products| with γ_K = K·u/(1 − K·u), u = 2⁻²⁴ (Higham,
/// *Accuracy and Stability*, §3.1). A wrong tap, channel, stride or padding is off by the size
/// of a product itself, 1/γ_K ≥ 10⁴ times that bound at these sizes.
final class Conv2dBackendTests: XCTestCase {
    /// (forward, backward) pairs: each backend alone, and the mixed pair the defaults use for
    /// few input channels (the backward reads only the stored input, not the forward's layout).
    private static let backends: [(forward: Conv2d.Backend, backward: Conv2d.Backend)] =
        [(.oneDNN, .oneDNN), (.oneDNNBlocked, .oneDNNBlocked), (.im2col, .im2col), (.oneDNN, .oneDNNBlocked)]

    private struct Shape: CustomStringConvertible {
        let batch: Int, cin: Int, cout: Int, kernel: Int, stride: Int, padding: Int, h: Int, w: Int, bias: Bool
        var ho: Int { (h + 2 * padding - kernel) / stride + 1 }
        var wo: Int { (w + 2 * padding - kernel) / stride + 1 }
        var description: String {
            "B\(batch) \(cin)->\(cout) k\(kernel) s\(stride) p\(padding) \(h)x\(w)\(bias ? "" : " no bias")"
        }
    }

    /// Random shapes (odd channel counts, kernels 1, 2, 3 and 5, strides 1–3, non-square
    /// inputs) and the denoiser's own.
    private func shapes() -> [Shape] {
        var rng = RandomGenerator(seed: 71)
        func pick(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(rng.next() % UInt64(range.count)) }
        var shapes = (0..<30).map { _ -> Shape in
            let kernel = [1, 2, 3, 5][pick(0...3)]
            let padding = pick(0...(kernel / 2)), stride = pick(1...3)
            return Shape(batch: pick(1...4), cin: pick(1...19), cout: pick(1...21), kernel: kernel, stride: stride,
                         padding: padding, h: pick(kernel...11), w: pick(kernel...11), bias: pick(0...3) > 0)
        }
        // The geometries im2col lowers differently: same-size stride 1 (block copies), strided,
        // unpadded with odd sizes (row loops), 1×1 strided.
        shapes += [(3, 1, 1, 6, 5), (3, 2, 1, 7, 8), (3, 1, 0, 5, 6), (5, 2, 2, 9, 6), (1, 1, 0, 4, 3), (1, 2, 0, 5, 5)].map {
            Shape(batch: 3, cin: 3, cout: 4, kernel: $0.0, stride: $0.1, padding: $0.2, h: $0.3, w: $0.4, bias: true)
        }
        shapes += [Shape(batch: 3, cin: 48, cout: 96, kernel: 3, stride: 1, padding: 1, h: 8, w: 8, bias: true),
                   Shape(batch: 2, cin: 144, cout: 48, kernel: 1, stride: 1, padding: 0, h: 16, w: 16, bias: true),
                   Shape(batch: 2, cin: 12, cout: 48, kernel: 3, stride: 1, padding: 1, h: 16, w: 16, bias: true)]
        return shapes
    }

    func testEveryBackendMatchesTheDefinitionOnRandomShapes() {
        var rng = RandomGenerator(seed: 72)
        for shape in shapes() {
            let store = ParameterStore()
            let conv = Conv2d(store, name: "c", inChannels: shape.cin, outChannels: shape.cout, kernel: shape.kernel,
                              stride: shape.stride, padding: shape.padding, bias: shape.bias, rng: &rng)
            if let b = conv.bias { store.set(b, Tensor(randomNormal: [shape.cout], rng: &rng)) }
            let x = Tensor(randomNormal: [shape.batch, shape.cin, shape.h, shape.w], rng: &rng)
            let dy = Tensor(randomNormal: [shape.batch, shape.cout, shape.ho, shape.wo], rng: &rng)
            let exact = definition(shape, x: x.data, w: store.tensor(conv.weight).data,
                                   b: conv.bias.map { store.tensor($0).data }, dy: dy.data)
            for backend in Self.backends {
                conv.backends = backend
                conv.frozen = false
                store.zeroGrads()
                let y = conv.forward(x)
                let dx = conv.backward(dy)
                let label = "\(backend) \(shape)"
                XCTAssertEqual(y.shape, [shape.batch, shape.cout, shape.ho, shape.wo], label)
                XCTAssertEqual(dx.shape, x.shape, label)
                assertWithin(y.data, exact.y, label + " y")
                assertWithin(dx.data, exact.dx, label + " dx")
                assertWithin(gradient(conv.weight, store), exact.dw, label + " dW")
                if let b = conv.bias { assertWithin(gradient(b, store), exact.db!, label + " db") }
                // Frozen: the same dx, and no parameter gradient at all.
                conv.frozen = true
                store.zeroGrads()
                _ = conv.forward(x)
                assertWithin(conv.backward(dy).data, exact.dx, label + " frozen dx")
                XCTAssertEqual(store.grads.filter { $0 != 0 }.count, 0, label + ": frozen backward wrote gradients")
            }
        }
    }

    /// On oneDNN an image's output does not depend on the batch around it, bit for bit, on 1
    /// and 2 threads, so the sampler's images do not change with their batch. (im2col does not
    /// have this: OpenBLAS's rounding changes with the product's width, n images × pixels.)
    func testAnImagesOutputDoesNotDependOnItsBatch() {
        var rng = RandomGenerator(seed: 75)
        let saved = blasThreads
        defer { blasThreads = saved }
        for (cin, cout, k) in [(16, 16, 3), (24, 8, 3), (8, 16, 1), (8, 12, 3)] {
            let store = ParameterStore()
            let conv = Conv2d(store, name: "c", inChannels: cin, outChannels: cout, kernel: k, padding: k / 2, rng: &rng)
            let x = Tensor(randomNormal: [8, cin, 8, 8], rng: &rng)
            let image = Tensor(shape: [1, cin, 8, 8], data: Array(x.data[(2 * cin * 64)..<(3 * cin * 64)]))
            for backend in Self.backends where backend.forward != .im2col {
                conv.backends = backend
                for threads in [1, 2] {
                    blasThreads = threads
                    let all = conv.forward(x).data[(2 * cout * 64)..<(3 * cout * 64)]
                    let alone = conv.forward(image).data
                    let differing = zip(all, alone).filter { $0.bitPattern != $1.bitPattern }.count
                    XCTAssertEqual(differing, 0, "\(backend) \(cin)->\(cout) k\(k) on \(threads) threads: image 2 alone differs")
                }
            }
        }
    }

    /// Gradients add onto what the store holds (several backward passes per optimizer step).
    func testBackwardAccumulatesParameterGradients() {
        var rng = RandomGenerator(seed: 73)
        let store = ParameterStore()
        let conv = Conv2d(store, name: "c", inChannels: 5, outChannels: 7, kernel: 3, padding: 1, rng: &rng)
        let x = Tensor(randomNormal: [2, 5, 6, 6], rng: &rng), dy = Tensor(randomNormal: [2, 7, 6, 6], rng: &rng)
        for backend in Self.backends {
            conv.backends = backend
            store.zeroGrads()
            _ = conv.forward(x)
            _ = conv.backward(dy)
            let once = Array(store.grads)
            _ = conv.forward(x)
            _ = conv.backward(dy)
            let worst = zip(store.grads, once).map { abs($0 - 2 * $1) / max(abs($1), 1e-3) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-5, "\(backend): the second backward must add the same gradients again")
        }
    }

    /// A backend switched between passes, and a batch or thread count that changes, get their
    /// own primitives: results stay those of the definition.
    func testPrimitivesFollowBatchAndThreadChanges() {
        var rng = RandomGenerator(seed: 74)
        let store = ParameterStore()
        let conv = Conv2d(store, name: "c", inChannels: 16, outChannels: 24, kernel: 3, padding: 1, rng: &rng)
        store.set(conv.bias!, Tensor(randomNormal: [24], rng: &rng))
        let saved = blasThreads
        defer { blasThreads = saved }
        for (batch, threads) in [(3, 1), (5, 2), (3, 2), (5, 1), (3, 1)] {
            blasThreads = threads
            let shape = Shape(batch: batch, cin: 16, cout: 24, kernel: 3, stride: 1, padding: 1, h: 9, w: 7, bias: true)
            let x = Tensor(randomNormal: [batch, 16, 9, 7], rng: &rng)
            let exact = definition(shape, x: x.data, w: store.tensor(conv.weight).data, b: store.tensor(conv.bias!).data,
                                   dy: [Float](repeating: 0, count: batch * 24 * 63))
            for backend in Self.backends {
                conv.backends = backend
                assertWithin(conv.forward(x).data, exact.y, "\(backend) B\(batch) on \(threads) threads")
            }
        }
    }

    private func gradient(_ p: ParameterStore.Parameter, _ store: ParameterStore) -> [Float] {
        Array(store.grads[p.offset..<(p.offset + p.count)])
    }

    /// Entries of a result and the worst-case error bound of each.
    private struct Exact { let value: [Double], bound: [Double] }

    private func assertWithin(_ got: [Float], _ exact: Exact, _ label: String, line: UInt = #line) {
        XCTAssertEqual(got.count, exact.value.count, label, line: line)
        var worst = 0.0, at = 0
        for i in got.indices {
            let excess = abs(Double(got[i]) - exact.value[i]) / max(exact.bound[i], .leastNormalMagnitude)
            if excess > worst { (worst, at) = (excess, i) }
        }
        XCTAssertLessThanOrEqual(worst, 1, "\(label): entry \(at) is \(got[at]), exactly \(exact.value[at]), "
                                 + "allowed ±\(exact.bound[at])", line: line)
    }

    /// y, dx, dW, db of y = W ⋆ x + b by their definitions in Double, each with the bound
    /// γ_K·Σ|terms| for its own K (the bias counts as one more term).
    private func definition(_ s: Shape, x: [Float], w: [Float], b: [Float]?, dy: [Float])
        -> (y: Exact, dx: Exact, dw: Exact, db: Exact?) {
        let k = s.kernel
        var y = [Double](repeating: 0, count: s.batch * s.cout * s.ho * s.wo), yMag = y
        var dx = [Double](repeating: 0, count: x.count), dxMag = dx, dxTerms = [Int](repeating: 0, count: x.count)
        var dw = [Double](repeating: 0, count: w.count), dwMag = dw
        var db = [Double](repeating: 0, count: s.cout), dbMag = db
        for n in 0..<s.batch {
            for o in 0..<s.cout {
                for oh in 0..<s.ho {
                    for ow in 0..<s.wo {
                        let yi = ((n * s.cout + o) * s.ho + oh) * s.wo + ow
                        let g = Double(dy[yi])
                        y[yi] = Double(b?[o] ?? 0)
                        yMag[yi] = abs(y[yi])
                        db[o] += g
                        dbMag[o] += abs(g)
                        for c in 0..<s.cin {
                            for ki in 0..<k {
                                for kj in 0..<k {
                                    let ih = oh * s.stride + ki - s.padding, iw = ow * s.stride + kj - s.padding
                                    guard ih >= 0 && ih < s.h && iw >= 0 && iw < s.w else { continue }
                                    let xi = ((n * s.cin + c) * s.h + ih) * s.w + iw, wi = ((o * s.cin + c) * k + ki) * k + kj
                                    let xv = Double(x[xi]), wv = Double(w[wi])
                                    y[yi] += xv * wv
                                    yMag[yi] += abs(xv * wv)
                                    dx[xi] += g * wv
                                    dxMag[xi] += abs(g * wv)
                                    dxTerms[xi] += 1
                                    dw[wi] += g * xv
                                    dwMag[wi] += abs(g * xv)
                                }
                            }
                        }
                    }
                }
            }
        }
        func gamma(_ terms: Int) -> Double {
            let ku = Double(max(terms, 1)) * 0x1p-24
            return ku / (1 - ku)
        }
        // Each entry's own bound, plus the rounding of the exact value itself to Float32.
        func exact(_ v: [Double], _ mag: [Double], terms: (Int) -> Int) -> Exact {
            Exact(value: v, bound: v.indices.map { gamma(terms($0)) * mag[$0] + abs(v[$0]) * 0x1p-24 })
        }
        let yTerms = s.cin * k * k + 1, dwTerms = s.batch * s.ho * s.wo
        return (exact(y, yMag) { _ in yTerms }, exact(dx, dxMag) { dxTerms[$0] }, exact(dw, dwMag) { _ in dwTerms },
                b == nil ? nil : exact(db, dbMag) { _ in dwTerms })
    }
}
