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

    /// The harness itself must catch a wrong backward pass.
    func testGradCheckCatchesAWrongGradient() {
        var rng = RandomGenerator(seed: 4)
        let store = ParameterStore()
        let layer = Linear(store, name: "fc", inFeatures: 5, outFeatures: 3, rng: &rng)
        let x = Tensor(randomNormal: [4, 5], rng: &rng)
        let worst = GradCheck.check("linear-with-doubled-dx", store: store, input: x, expectPass: false,
                                    forward: layer.forward,
                                    backward: { dy in var dx = layer.backward(dy); for i in dx.data.indices { dx.data[i] *= 2 }; return dx })
        XCTAssertGreaterThan(worst, 0.3)
    }
}
