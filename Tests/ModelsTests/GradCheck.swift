import Numerics
import XCTest

/// Five-point central differences against analytic gradients, as NumericsTests' harness does
/// (test targets cannot share code): step h = 2e-2 in Float32, the loss accumulated in Double,
/// the relative error taken against max(|analytic|, |numeric|, 1e-2 · the tensor's largest
/// gradient, `floor`). A wrong formula gives errors of order 1; correct ones stay below 1e-2.
///
/// Whole models run many Float32 layers, so their difference quotients carry rounding noise
/// of about ε·|activations|/h in absolute terms; `floor` (an absolute gradient size well above
/// that noise) keeps noise on near-zero gradients from passing for an error.
enum GradCheck {
    static let step: Float = 2e-2
    static let tolerance = 1e-2

    /// Checks every parameter of `store` (at most `samples` entries of each, spread evenly).
    /// `lossAndBackward` runs forward and backward once (gradients added to the store) and
    /// returns the loss; `loss` recomputes the loss alone.
    static func checkParameters(_ name: String, store: ParameterStore, samples: Int = 24, step: Float = step,
                                floor: Double = 1e-6, lossAndBackward: () -> Void, loss: () -> Double,
                                file: StaticString = #filePath, line: UInt = #line) {
        store.zeroGrads()
        lossAndBackward()
        let grads = Array(store.grads)
        var worst = (error: 0.0, at: "")
        for p in store.parameters {
            let v = store.value(p)
            let result = compare(Array(grads[p.offset..<(p.offset + p.count)]), samples: samples, floor: floor,
                                 label: p.name) { i in
                let saved = v[i]
                defer { v[i] = saved }
                return derivative(step: step) { offset in
                    v[i] = saved + offset
                    return loss()
                }
            }
            if result.error > worst.error { worst = result }
        }
        report(name, worst, file: file, line: line)
    }

    /// Checks dL/dx of one input tensor: `numericLoss(x)` is the loss at input x.
    static func checkInput(_ name: String, input: Tensor, analytic: Tensor, samples: Int = 48,
                           loss: (Tensor) -> Double, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(analytic.shape, input.shape, "\(name): gradient shape", file: file, line: line)
        let result = compare(analytic.data, samples: samples, floor: 1e-6, label: "x") { i in
            derivative(step: step) { offset in
                var x = input
                x.data[i] += offset
                return loss(x)
            }
        }
        report(name, result, file: file, line: line)
    }

    /// Σ y·g in Double: a loss whose gradient with respect to y is g.
    static func dot(_ y: Tensor, _ g: Tensor) -> Double {
        zip(y.data, g.data).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// f'(0) = (−f(2h) + 8f(h) − 8f(−h) + f(−2h)) / 12h: O(h⁴) truncation, so h can be large
    /// enough to rise above Float32 rounding.
    private static func derivative(step h: Float, _ f: (Float) -> Double) -> Double {
        (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * Double(h))
    }

    private static func compare(_ analytic: [Float], samples: Int, floor: Double, label: String,
                                numeric: (Int) -> Double) -> (error: Double, at: String) {
        let scale = analytic.lazy.map { Double(abs($0)) }.max() ?? 0
        let indices = analytic.count <= samples ? Array(analytic.indices) : (0..<samples).map { $0 * analytic.count / samples }
        var worst = (error: 0.0, at: "")
        for i in indices {
            let a = Double(analytic[i]), n = numeric(i)
            let error = abs(a - n) / max(abs(a), abs(n), 1e-2 * scale, floor)
            if error > worst.error { worst = (error, "\(label)[\(i)] analytic \(a) numeric \(n)") }
        }
        return worst
    }

    private static func report(_ name: String, _ worst: (error: Double, at: String), file: StaticString, line: UInt) {
        print("gradcheck \(name): max relative error \(String(format: "%.2e", worst.error))")
        XCTAssertLessThan(worst.error, tolerance, "\(name): worst at \(worst.at)", file: file, line: line)
    }
}

extension ParameterStore {
    /// Redraws the parameters whose names end in one of `suffixes` as N(0, 1) entries.
    ///
    /// Finite differences need activations well above the step h: embedding tables start at
    /// N(0, 0.02²), so a 1e-2 step moves a token row by half its scale and the layer norm
    /// after it turns the difference quotient into noise. The same holds for a feature
    /// vector that is unit-normalised while its norm is still tiny.
    func redrawUnitScale(endingIn suffixes: [String], rng: inout RandomGenerator) {
        for p in parameters where suffixes.contains(where: p.name.hasSuffix) {
            set(p, Tensor(randomNormal: p.shape, rng: &rng))
        }
    }
}
