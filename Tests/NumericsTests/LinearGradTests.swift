import GradCheckSupport
import Numerics
import XCTest

final class LinearGradTests: XCTestCase {
    func testLinearGradient() {
        var rng = RandomGenerator(seed: 3)
        let store = ParameterStore()
        let layer = Linear(store, name: "fc", inFeatures: 6, outFeatures: 4, rng: &rng)
        // Nonzero bias so its gradient path is exercised from a generic point.
        store.set(layer.bias!, Tensor(randomNormal: [4], rng: &rng))
        let x = Tensor(randomNormal: [2, 3, 6], rng: &rng)
        GradCheck.check("linear", store: store, input: x, forward: layer.forward, backward: layer.backward)
    }

    /// The harness itself must catch a wrong backward pass: a doubled dx.
    func testGradCheckCatchesADoubledGradient() {
        var rng = RandomGenerator(seed: 4)
        let store = ParameterStore()
        let layer = Linear(store, name: "fc", inFeatures: 5, outFeatures: 3, rng: &rng)
        let x = Tensor(randomNormal: [4, 5], rng: &rng)
        let report = GradCheck.check("linear-with-doubled-dx", store: store, input: x, expectPass: false,
                                     forward: layer.forward,
                                     backward: { dy in var dx = layer.backward(dy); for i in dx.data.indices { dx.data[i] *= 2 }; return dx })
        XCTAssertFalse(report.passed)
        XCTAssertGreaterThan(report.worstRelativeError, 0.3)
    }

    /// …and a weight gradient whose last entry the backward pass leaves at zero (a loop bound
    /// off by one), in a tensor larger than the sample.
    func testGradCheckCatchesAZeroedEntry() {
        var rng = RandomGenerator(seed: 5)
        let store = ParameterStore()
        let layer = Linear(store, name: "fc", inFeatures: 16, outFeatures: 8, rng: &rng)
        let x = Tensor(randomNormal: [4, 16], rng: &rng)
        let weight = layer.weight
        let report = GradCheck.check("linear-with-its-last-weight-gradient-zeroed", store: store, input: x, samples: 12,
                                     expectPass: false, forward: layer.forward, backward: { dy in
            let dx = layer.backward(dy)
            store.grad(weight)[weight.count - 1] = 0
            return dx
        })
        XCTAssertFalse(report.passed)
        XCTAssertGreaterThan(report.worstExcess, 10)
    }

    /// A step so small that Float32 rounding swamps the difference quotient: the harness must
    /// say it has no power instead of passing.
    func testGradCheckRefusesToJudgeAtTheNoiseFloor() {
        var rng = RandomGenerator(seed: 6)
        let store = ParameterStore()
        let layer = Linear(store, name: "fc", inFeatures: 6, outFeatures: 4, rng: &rng)
        let x = Tensor(randomNormal: [3, 6], rng: &rng)
        let report = GradCheck.check("linear-at-h-1e-7", store: store, input: x, step: 1e-7, expectPass: false,
                                     forward: layer.forward, backward: layer.backward)
        XCTAssertFalse(report.passed)
        XCTAssertGreaterThan(report.power, GradCheck.requiredPower)
    }
}
