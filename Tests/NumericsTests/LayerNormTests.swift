import GradCheckSupport
import Numerics
import XCTest

final class LayerNormTests: XCTestCase {
    func testForwardNormalizesEachRow() {
        var rng = RandomGenerator(seed: 40)
        let store = ParameterStore()
        let ln = LayerNorm(store, name: "ln", features: 16)
        let x = Tensor(randomNormal: [3, 16], std: 5, rng: &rng)
        let y = ln.forward(x)
        for r in 0..<3 {
            let row = y.data[(r * 16)..<(r * 16 + 16)].map(Double.init)
            let mean = row.reduce(0, +) / 16
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 16
            XCTAssertEqual(mean, 0, accuracy: 1e-5)
            XCTAssertEqual(variance, 1, accuracy: 1e-3)
        }
    }

    func testLayerNormGradient() {
        var rng = RandomGenerator(seed: 41)
        let store = ParameterStore()
        let ln = LayerNorm(store, name: "ln", features: 6)
        store.set(ln.gamma, Tensor(randomNormal: [6], rng: &rng))
        store.set(ln.beta, Tensor(randomNormal: [6], rng: &rng))
        let x = Tensor(randomNormal: [2, 3, 6], rng: &rng)
        GradCheck.check("layer norm", store: store, input: x, forward: ln.forward, backward: ln.backward)
    }
}
