import Numerics
import XCTest

/// Central finite differences (in Double) against a model's analytic gradients, for the
/// detector's tests: the loss is L = Σ y·g for a fixed random g, so dL/dy = g.
///
/// The same method as NumericsTests' GradCheck (step 1e-2, since the model computes in
/// Float32; relative error against max(|analytic|, |numeric|, 1e-2·largest gradient)).
enum DetectorGradCheck {
    static let step: Float = 1e-2
    static let tolerance = 1e-2

    /// Checks dL/dx and dL/dθ for every parameter in `store` (at most `samples` entries of
    /// each, spread evenly) and returns the largest relative error.
    @discardableResult
    static func check(_ name: String, store: ParameterStore, input: Tensor, samples: Int = 32, seed: UInt64 = 7,
                      forward: (Tensor) -> Tensor, backward: (Tensor) -> Tensor,
                      file: StaticString = #filePath, line: UInt = #line) -> Double {
        var rng = RandomGenerator(seed: seed)
        let g = Tensor(randomNormal: forward(input).shape, rng: &rng)
        func loss(_ x: Tensor) -> Double {
            zip(forward(x).data, g.data).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        store.zeroGrads()
        _ = forward(input)
        let dx = backward(g)
        XCTAssertEqual(dx.shape, input.shape, "\(name): dx shape", file: file, line: line)
        let paramGrads = Array(store.grads)

        var worst = 0.0, worstWhere = ""
        func compare(_ analytic: ArraySlice<Float>, _ label: String, numeric: (Int) -> Double) {
            let scale = analytic.lazy.map { Double(abs($0)) }.max() ?? 0
            let count = analytic.count
            let indices = count <= samples ? Array(0..<count) : (0..<samples).map { $0 * count / samples }
            for i in indices {
                let a = Double(analytic[analytic.startIndex + i]), n = numeric(i)
                let err = abs(a - n) / max(abs(a), abs(n), 1e-2 * scale, 1e-6)
                if err > worst { (worst, worstWhere) = (err, "\(label)[\(i)] analytic \(a) numeric \(n)") }
            }
        }
        compare(dx.data[...], "x") { i in
            var xp = input, xm = input
            xp.data[i] += step
            xm.data[i] -= step
            return (loss(xp) - loss(xm)) / Double(2 * step)
        }
        for p in store.parameters {
            compare(paramGrads[p.offset..<(p.offset + p.count)], p.name) { i in
                let v = store.value(p), saved = v[i]
                v[i] = saved + step
                let lp = loss(input)
                v[i] = saved - step
                let lm = loss(input)
                v[i] = saved
                return (lp - lm) / Double(2 * step)
            }
        }
        print("gradcheck \(name): max relative error \(String(format: "%.2e", worst))")
        XCTAssertLessThan(worst, tolerance, "\(name): worst at \(worstWhere)", file: file, line: line)
        return worst
    }
}
