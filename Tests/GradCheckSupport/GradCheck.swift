import Numerics
import XCTest

/// Checks analytic gradients against finite differences; shared by every test target.
///
/// The loss is L = Σ y·g for a fixed random g, accumulated in Double, so dL/dy = g.
/// Layers compute in Float32, so the derivative is a five-point central difference with
/// step h = 2e-2: its O(h⁴) truncation error allows a step large enough to rise above
/// Float32 rounding (error ≈ eps·|L|/h), which a two-point difference cannot do through a
/// deep network. The relative error is taken against max(|analytic|, |numeric|,
/// 1e-2·the tensor's largest gradient, `floor`): a tiny gradient is judged by the scale of
/// its tensor, not by its own rounding noise. A wrong formula gives errors of order 1;
/// correct ones stay below 1e-2 at the sizes the tests use.
public enum GradCheck {
    public static let step: Float = 2e-2
    public static let tolerance = 1e-2

    /// Checks dL/dx and dL/dθ for every parameter in `store` (at most `samples` entries of
    /// each tensor, spread evenly) for a layer y = forward(x). Returns the largest error.
    @discardableResult
    public static func check(
        _ name: String, store: ParameterStore, input: Tensor, samples: Int = 48, seed: UInt64 = 7,
        expectPass: Bool = true, forward: (Tensor) -> Tensor, backward: (Tensor) -> Tensor,
        file: StaticString = #filePath, line: UInt = #line
    ) -> Double {
        var rng = RandomGenerator(seed: seed)
        let g = Tensor(randomNormal: forward(input).shape, rng: &rng)
        store.zeroGrads()
        _ = forward(input)
        let dx = backward(g)
        XCTAssertEqual(dx.shape, input.shape, "\(name): dx shape", file: file, line: line)
        let inputResult = compareInput(input: input, analytic: dx, samples: samples) { dot(forward($0), g) }
        let paramResult = compareParameters(store: store, samples: samples, step: step, floor: 1e-6) {
            dot(forward(input), g)
        }
        return report(name, worse(inputResult, paramResult), expectPass: expectPass, file: file, line: line)
    }

    /// Checks dL/dθ only, for layers whose input has no gradient (token ids): `forward`
    /// recomputes the output from the layer's fixed input, `backward` adds parameter grads.
    @discardableResult
    public static func checkParameters(
        _ name: String, store: ParameterStore, samples: Int = 48, seed: UInt64 = 7,
        forward: () -> Tensor, backward: (Tensor) -> Void,
        file: StaticString = #filePath, line: UInt = #line
    ) -> Double {
        var rng = RandomGenerator(seed: seed)
        let g = Tensor(randomNormal: forward().shape, rng: &rng)
        return checkParameters(name, store: store, samples: samples,
                               lossAndBackward: { backward(g) }, loss: { dot(forward(), g) },
                               file: file, line: line)
    }

    /// Checks every parameter of `store` against a scalar loss: `lossAndBackward` runs forward
    /// and backward once (adding gradients to the store); `loss` recomputes the loss alone.
    /// `floor` is an absolute gradient size well above the rounding noise of a deep model,
    /// so that noise on near-zero gradients does not pass for an error.
    @discardableResult
    public static func checkParameters(
        _ name: String, store: ParameterStore, samples: Int = 24, step: Float = step, floor: Double = 1e-6,
        tolerance: Double = tolerance, lossAndBackward: () -> Void, loss: () -> Double,
        file: StaticString = #filePath, line: UInt = #line
    ) -> Double {
        store.zeroGrads()
        lossAndBackward()
        let result = compareParameters(store: store, samples: samples, step: step, floor: floor, loss: loss)
        return report(name, result, expectPass: true, tolerance: tolerance, file: file, line: line)
    }

    /// Checks dL/dx of one input tensor, given the analytic gradient and `loss(x)`.
    @discardableResult
    public static func checkInput(
        _ name: String, input: Tensor, analytic: Tensor, samples: Int = 48, loss: (Tensor) -> Double,
        file: StaticString = #filePath, line: UInt = #line
    ) -> Double {
        XCTAssertEqual(analytic.shape, input.shape, "\(name): gradient shape", file: file, line: line)
        let result = compareInput(input: input, analytic: analytic, samples: samples, loss: loss)
        return report(name, result, expectPass: true, file: file, line: line)
    }

    /// Σ y·g in Double: a loss whose gradient with respect to y is g.
    public static func dot(_ y: Tensor, _ g: Tensor) -> Double {
        zip(y.data, g.data).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// f'(0) = (−f(2h) + 8f(h) − 8f(−h) + f(−2h)) / 12h.
    public static func derivative(step h: Float = step, _ f: (Float) -> Double) -> Double {
        (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * Double(h))
    }

    typealias Worst = (error: Double, at: String)

    private static func compareInput(input: Tensor, analytic: Tensor, samples: Int,
                                     loss: (Tensor) -> Double) -> Worst {
        compare(analytic.data, samples: samples, floor: 1e-6, label: "x") { i in
            derivative { offset in
                var x = input
                x.data[i] += offset
                return loss(x)
            }
        }
    }

    private static func compareParameters(store: ParameterStore, samples: Int, step: Float, floor: Double,
                                          loss: () -> Double) -> Worst {
        let grads = Array(store.grads)
        var worst: Worst = (0, "")
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
            worst = worse(worst, result)
        }
        return worst
    }

    private static func compare(_ analytic: [Float], samples: Int, floor: Double, label: String,
                                numeric: (Int) -> Double) -> Worst {
        let scale = analytic.lazy.map { Double(abs($0)) }.max() ?? 0
        let indices = analytic.count <= samples
            ? Array(analytic.indices) : (0..<samples).map { $0 * analytic.count / samples }
        var worst: Worst = (0, "")
        for i in indices {
            let a = Double(analytic[i]), n = numeric(i)
            let error = abs(a - n) / max(abs(a), abs(n), 1e-2 * scale, floor)
            if error > worst.error { worst = (error, "\(label)[\(i)] analytic \(a) numeric \(n)") }
        }
        return worst
    }

    private static func worse(_ a: Worst, _ b: Worst) -> Worst { b.error > a.error ? b : a }

    private static func report(_ name: String, _ worst: Worst, expectPass: Bool, tolerance: Double = tolerance,
                               file: StaticString, line: UInt) -> Double {
        print("gradcheck \(name): max relative error \(String(format: "%.2e", worst.error)) at \(worst.at)")
        if expectPass {
            XCTAssertLessThan(worst.error, tolerance, "\(name): worst at \(worst.at)", file: file, line: line)
        }
        return worst.error
    }
}

extension ParameterStore {
    /// Redraws the parameters whose names end in one of `suffixes` as N(0, 1) entries.
    ///
    /// Finite differences need activations well above the step h: embedding tables start at
    /// N(0, 0.02²), so a 2e-2 step moves a token row by its whole scale and the layer norm
    /// after it turns the difference quotient into noise. The same holds for a feature
    /// vector that is unit-normalised while its norm is still tiny.
    public func redrawUnitScale(endingIn suffixes: [String], rng: inout RandomGenerator) {
        for p in parameters where suffixes.contains(where: p.name.hasSuffix) {
            set(p, Tensor(randomNormal: p.shape, rng: &rng))
        }
    }
}
