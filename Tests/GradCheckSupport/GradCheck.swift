import Numerics
import XCTest

/// Checks analytic gradients against finite differences; shared by every test target.
///
/// The loss is L = Σ y·g for a fixed random g, accumulated in Double, so dL/dy = g. Layers
/// compute in Float32, so every loss carries rounding noise that depends on the BLAS kernel's
/// summation order, and a difference quotient divides that noise by h. The check therefore
/// measures its own noise instead of assuming one floor for every model:
///
/// - Each entry gets two five-point central differences, D(h) and D(h/2). Their truncation
///   errors are O(h⁴) and tiny; their rounding errors are independent, the second about twice
///   the first, so Δ = D(h) − D(h/2) is the numeric derivative's own error, measured.
/// - σ, the Float32 noise of D(h) for this loss, is estimated robustly over all the check's
///   entries: median |Δ| / (0.6745·√5).
/// - An entry passes when |analytic − D(h)| ≤ tolerance·max(|a|, |n|, 1e-2·tensor scale, 1e-9)
///   + 4σ + |Δ|: the relative tolerance for a correct formula, plus the noise it measured.
/// - The check states its power: on each entry whose gradient is at least a tenth of its
///   tensor's largest, the smallest relative error it would catch (allowance / |n|). The median
///   of that must be ≤ `requiredPower`, so a check drowned in noise fails instead of passing
///   everything; a doubled or zeroed gradient is then always caught.
///
/// Entries: the largest-|analytic| quarter of `samples` per tensor (where the signal stands
/// farthest above the noise), its first and last entries, and a seeded random sample of the
/// rest (so an entry that the backward pass wrongly leaves at zero can be drawn).
public enum GradCheck {
    public static let step: Float = 2e-2
    /// Relative error a correct formula stays below, on top of the measured noise allowance.
    public static let tolerance = 1e-2
    /// The median entry must reveal a relative error of this size, or the check has no power.
    public static let requiredPower = 0.25

    /// What one check found; `passed` is what the assertions decided.
    public struct Report {
        public var entries: Int
        /// Largest |a − n| / max(|a|, |n|, 1e-2·scale): comparable with the old single-tolerance check.
        public var worstRelativeError: Double
        /// Largest |a − n| / allowance: below 1 passes.
        public var worstExcess: Double
        public var worstAt: String
        /// σ, the measured Float32 noise of one numeric derivative.
        public var noise: Double
        /// Median smallest relative error the check would catch on a substantial entry.
        public var power: Double
        public var passed: Bool { worstExcess < 1 && power <= GradCheck.requiredPower }
    }

    /// Checks dL/dx and dL/dθ for every parameter in `store` (at most `samples` entries of
    /// each tensor) for a layer y = forward(x).
    @discardableResult
    public static func check(
        _ name: String, store: ParameterStore, input: Tensor, samples: Int = 48, step: Float = step, seed: UInt64 = 7,
        expectPass: Bool = true, forward: (Tensor) -> Tensor, backward: (Tensor) -> Tensor,
        file: StaticString = #filePath, line: UInt = #line
    ) -> Report {
        var rng = RandomGenerator(seed: seed)
        let g = Tensor(randomNormal: forward(input).shape, rng: &rng)
        store.zeroGrads()
        _ = forward(input)
        let dx = backward(g)
        XCTAssertEqual(dx.shape, input.shape, "\(name): dx shape", file: file, line: line)
        var entries = inputEntries(input: input, analytic: dx, samples: samples, step: step, rng: &rng) {
            dot(forward($0), g)
        }
        entries += parameterEntries(store: store, names: nil, samples: samples, step: step, rng: &rng) {
            dot(forward(input), g)
        }
        return report(name, entries, expectPass: expectPass, file: file, line: line)
    }

    /// Checks dL/dθ only, for layers whose input has no gradient (token ids): `forward`
    /// recomputes the output from the layer's fixed input, `backward` adds parameter grads.
    @discardableResult
    public static func checkParameters(
        _ name: String, store: ParameterStore, samples: Int = 48, seed: UInt64 = 7,
        forward: () -> Tensor, backward: (Tensor) -> Void,
        file: StaticString = #filePath, line: UInt = #line
    ) -> Report {
        var rng = RandomGenerator(seed: seed)
        let g = Tensor(randomNormal: forward().shape, rng: &rng)
        return checkParameters(name, store: store, samples: samples, seed: seed &+ 1,
                               lossAndBackward: { backward(g) }, loss: { dot(forward(), g) },
                               file: file, line: line)
    }

    /// Checks the parameters of `store` (those named in `parameters`, or all) against a scalar
    /// loss: `lossAndBackward` runs forward and backward once (adding gradients to the store);
    /// `loss` recomputes the loss alone.
    @discardableResult
    public static func checkParameters(
        _ name: String, store: ParameterStore, parameters: [String]? = nil, samples: Int = 24,
        step: Float = step, seed: UInt64 = 7, expectPass: Bool = true,
        lossAndBackward: () -> Void, loss: () -> Double,
        file: StaticString = #filePath, line: UInt = #line
    ) -> Report {
        var rng = RandomGenerator(seed: seed)
        store.zeroGrads()
        lossAndBackward()
        let entries = parameterEntries(store: store, names: parameters, samples: samples, step: step, rng: &rng,
                                       loss: loss)
        return report(name, entries, expectPass: expectPass, file: file, line: line)
    }

    /// Checks dL/dx of one input tensor, given the analytic gradient and `loss(x)`.
    @discardableResult
    public static func checkInput(
        _ name: String, input: Tensor, analytic: Tensor, samples: Int = 48, step: Float = step, seed: UInt64 = 7,
        loss: (Tensor) -> Double, file: StaticString = #filePath, line: UInt = #line
    ) -> Report {
        XCTAssertEqual(analytic.shape, input.shape, "\(name): gradient shape", file: file, line: line)
        var rng = RandomGenerator(seed: seed)
        let entries = inputEntries(input: input, analytic: analytic, samples: samples, step: step, rng: &rng,
                                   loss: loss)
        return report(name, entries, expectPass: true, file: file, line: line)
    }

    /// Σ y·g in Double: a loss whose gradient with respect to y is g.
    public static func dot(_ y: Tensor, _ g: Tensor) -> Double {
        zip(y.data, g.data).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// One checked entry: the analytic value, D(h), D(h/2), and its tensor's largest |analytic|.
    struct Entry {
        var label: String
        var analytic: Double
        var numeric: Double
        var numericHalfStep: Double
        var scale: Double
    }

    /// D(h) and D(h/2) from f at ±h/2, ±h, ±2h, with D(h) = (−f(2h) + 8f(h) − 8f(−h) + f(−2h)) / 12h.
    static func derivatives(step h: Float, _ f: (Float) -> Double) -> (full: Double, half: Double) {
        let (p2, p1, ph) = (f(2 * h), f(h), f(h / 2))
        let (m2, m1, mh) = (f(-2 * h), f(-h), f(-h / 2))
        let full = (-p2 + 8 * p1 - 8 * m1 + m2) / (12 * Double(h))
        let half = (-p1 + 8 * ph - 8 * mh + m1) / (6 * Double(h))
        return (full, half)
    }

    /// The largest-|analytic| quarter of `samples`, the first and last entries (where a loop
    /// bound that is off by one leaves a gradient at zero), and a random draw of the others.
    static func pick(_ analytic: [Float], samples: Int, rng: inout RandomGenerator) -> [Int] {
        guard analytic.count > samples else { return Array(analytic.indices) }
        let largest = analytic.indices.sorted { abs(analytic[$0]) > abs(analytic[$1]) }.prefix(max(1, samples / 4))
        var chosen = Set<Int>(), picks: [Int] = []
        for i in [0, analytic.count - 1] + largest where chosen.insert(i).inserted { picks.append(i) }
        while picks.count < samples {
            let i = Int(rng.next() % UInt64(analytic.count))
            if chosen.insert(i).inserted { picks.append(i) }
        }
        return picks
    }

    static func entries(_ analytic: [Float], label: String, samples: Int, step: Float, rng: inout RandomGenerator,
                        derivatives: (Int) -> (full: Double, half: Double)) -> [Entry] {
        let scale = analytic.lazy.map { Double(abs($0)) }.max() ?? 0
        return pick(analytic, samples: samples, rng: &rng).map { i in
            let d = derivatives(i)
            return Entry(label: "\(label)[\(i)]", analytic: Double(analytic[i]), numeric: d.full,
                         numericHalfStep: d.half, scale: scale)
        }
    }

    private static func inputEntries(input: Tensor, analytic: Tensor, samples: Int, step: Float,
                                     rng: inout RandomGenerator, loss: (Tensor) -> Double) -> [Entry] {
        entries(analytic.data, label: "x", samples: samples, step: step, rng: &rng) { i in
            derivatives(step: step) { offset in
                var x = input
                x.data[i] += offset
                return loss(x)
            }
        }
    }

    private static func parameterEntries(store: ParameterStore, names: [String]?, samples: Int, step: Float,
                                         rng: inout RandomGenerator, loss: () -> Double) -> [Entry] {
        let grads = Array(store.grads)
        var all: [Entry] = []
        let chosen = names.map { names in
            names.map { name -> ParameterStore.Parameter in
                guard let p = store.parameter(named: name) else { preconditionFailure("no parameter \(name)") }
                return p
            }
        } ?? store.parameters
        for p in chosen {
            let v = store.value(p)
            all += entries(Array(grads[p.offset..<(p.offset + p.count)]), label: p.name, samples: samples,
                           step: step, rng: &rng) { i in
                let saved = v[i]
                defer { v[i] = saved }
                return derivatives(step: step) { offset in
                    v[i] = saved + offset
                    return loss()
                }
            }
        }
        return all
    }

    /// Judges the entries as the type's comment says, prints one line and asserts.
    static func evaluate(_ entries: [Entry]) -> Report {
        let deltas = entries.map { abs($0.numeric - $0.numericHalfStep) }.sorted()
        let median = deltas.isEmpty ? 0 : deltas[deltas.count / 2]
        let noise = median / (0.6745 * 5.0.squareRoot())
        var report = Report(entries: entries.count, worstRelativeError: 0, worstExcess: 0, worstAt: "", noise: noise,
                            power: 0)
        var detectable: [Double] = []
        for e in entries {
            let a = e.analytic, n = e.numeric
            let denominator = max(abs(a), abs(n), 1e-2 * e.scale, 1e-9)
            let allowance = tolerance * denominator + 4 * noise + abs(n - e.numericHalfStep)
            let excess = abs(a - n) / allowance
            report.worstRelativeError = max(report.worstRelativeError, abs(a - n) / denominator)
            if excess > report.worstExcess {
                report.worstExcess = excess
                report.worstAt = "\(e.label) analytic \(a) numeric \(n) (h/2: \(e.numericHalfStep))"
            }
            if abs(n) >= 0.1 * e.scale && abs(n) > 0 { detectable.append(allowance / abs(n)) }
        }
        detectable.sort()
        report.power = detectable.isEmpty ? .infinity : detectable[detectable.count / 2]
        return report
    }

    private static func report(_ name: String, _ entries: [Entry], expectPass: Bool,
                               file: StaticString, line: UInt) -> Report {
        let r = evaluate(entries)
        print("gradcheck \(name): \(r.entries) entries, max relative error \(String(format: "%.2e", r.worstRelativeError)), "
              + "Float32 noise σ \(String(format: "%.1e", r.noise)), worst error/allowance "
              + "\(String(format: "%.2f", r.worstExcess)) at \(r.worstAt); catches a relative error ≥ "
              + "\(String(format: "%.3f", r.power)) on the median entry")
        if expectPass {
            XCTAssertLessThan(r.worstExcess, 1, "\(name): worst at \(r.worstAt)", file: file, line: line)
            XCTAssertLessThanOrEqual(r.power, requiredPower,
                                     "\(name): the check is at its noise floor (σ \(r.noise)); use a larger step or input scale",
                                     file: file, line: line)
        }
        return r
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
