import Numerics
import XCTest

/// Checks a layer's analytic gradients against central finite differences.
///
/// The loss is L = Σ y·g for a fixed random g, accumulated in Double, so dL/dy = g.
/// Layers compute in Float32, so the differences use step h = 2e-2 with a five-point
/// stencil (a smaller step drowns in Float32 rounding: error ≈ eps·|L|/h) and the relative error is taken
/// against max(|analytic|, |numeric|, 1e-2·largest gradient): a tiny gradient is judged by
/// the scale of the whole tensor, not by its own noise. A wrong formula gives errors of
/// order 1; correct ones stay below 1e-2 at these sizes.
struct GradCheck {
    static let step: Float = 2e-2
    static let tolerance = 1e-2

    /// Checks dL/dx and dL/dθ for every parameter in `store` (at most `samples` entries of
    /// each tensor, spread evenly). Returns the largest relative error seen.
    @discardableResult
    static func check(
        _ name: String,
        store: ParameterStore,
        input: Tensor,
        samples: Int = 48,
        seed: UInt64 = 7,
        expectPass: Bool = true,
        forward: (Tensor) -> Tensor,
        backward: (Tensor) -> Tensor,
        file: StaticString = #filePath, line: UInt = #line
    ) -> Double {
        run(name, store: store, input: input, samples: samples, seed: seed, expectPass: expectPass,
            forward: { forward($0!) }, backward: { backward($0) }, file: file, line: line)
    }

    /// Checks dL/dθ only, for layers whose input has no gradient (token ids): `forward`
    /// recomputes the output from the layer's fixed input, `backward` adds parameter grads.
    @discardableResult
    static func checkParameters(
        _ name: String,
        store: ParameterStore,
        samples: Int = 48,
        seed: UInt64 = 7,
        expectPass: Bool = true,
        forward: () -> Tensor,
        backward: (Tensor) -> Void,
        file: StaticString = #filePath, line: UInt = #line
    ) -> Double {
        run(name, store: store, input: nil, samples: samples, seed: seed, expectPass: expectPass,
            forward: { _ in forward() }, backward: { backward($0); return nil }, file: file, line: line)
    }

    /// The shared check; with `input` nil, dL/dx is skipped.
    private static func run(
        _ name: String, store: ParameterStore, input: Tensor?, samples: Int, seed: UInt64, expectPass: Bool,
        forward: (Tensor?) -> Tensor, backward: (Tensor) -> Tensor?,
        file: StaticString, line: UInt
    ) -> Double {
        var rng = RandomGenerator(seed: seed)
        let y0 = forward(input)
        let g = Tensor(randomNormal: y0.shape, rng: &rng)
        func loss(_ x: Tensor?) -> Double {
            let y = forward(x)
            var s = 0.0
            for i in y.data.indices { s += Double(y.data[i]) * Double(g.data[i]) }
            return s
        }

        store.zeroGrads()
        _ = forward(input)
        let dx = backward(g)
        if let input {
            XCTAssertEqual(dx?.shape, input.shape, "\(name): dx shape", file: file, line: line)
        }
        let paramGrads = Array(store.grads)

        var worst = 0.0
        var worstWhere = ""
        func compare(_ analytic: [Float], _ indices: [Int], _ numeric: (Int) -> Double, _ label: String) {
            let scale = analytic.lazy.map { Double(abs($0)) }.max() ?? 0
            for i in indices {
                let a = Double(analytic[i]), n = numeric(i)
                let err = abs(a - n) / max(abs(a), abs(n), 1e-2 * scale, 1e-6)
                if err > worst { worst = err; worstWhere = "\(label)[\(i)] analytic \(a) numeric \(n)" }
            }
        }
        /// Five-point central difference: f' = (−f(2h) + 8f(h) − 8f(−h) + f(−2h)) / 12h.
        /// Its O(h⁴) truncation error allows a step large enough to rise above Float32
        /// rounding, which a two-point difference cannot do through a deep network.
        func derivative(_ f: (Float) -> Double) -> Double {
            (-f(2 * step) + 8 * f(step) - 8 * f(-step) + f(-2 * step)) / (12 * Double(step))
        }
        func spread(_ count: Int) -> [Int] {
            count <= samples ? Array(0..<count) : (0..<samples).map { $0 * count / samples }
        }

        if let input, let dx {
            compare(dx.data, spread(input.count), { i in
                derivative { offset in
                    var x = input
                    x.data[i] += offset
                    return loss(x)
                }
            }, "x")
        }

        for p in store.parameters {
            let analytic = Array(paramGrads[p.offset..<(p.offset + p.count)])
            compare(analytic, spread(p.count), { i in
                let v = store.value(p)
                let saved = v[i]
                defer { v[i] = saved }
                return derivative { offset in
                    v[i] = saved + offset
                    return loss(input)
                }
            }, p.name)
        }
        print("gradcheck \(name): max relative error \(String(format: "%.2e", worst)) at \(worstWhere)")
        if expectPass { XCTAssertLessThan(worst, tolerance, "\(name): worst at \(worstWhere)", file: file, line: line) }
        return worst
    }
}
