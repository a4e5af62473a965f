import GradCheckSupport
import Numerics
import XCTest

final class GroupNormTests: XCTestCase {
    func testGradient() {
        var rng = RandomGenerator(seed: 21)
        let store = ParameterStore()
        let norm = GroupNorm(store, name: "gn", channels: 6, groups: 3)
        // Generic affine parameters so dγ and dβ are exercised away from (1, 0).
        store.set(norm.weight, Tensor(randomNormal: [6], rng: &rng))
        store.set(norm.bias, Tensor(randomNormal: [6], rng: &rng))
        let x = Tensor(randomNormal: [2, 6, 3, 4], rng: &rng)
        GradCheck.check("groupnorm", store: store, input: x, forward: norm.forward, backward: norm.backward)
    }

    /// With γ = 1, β = 0 each (image, group) comes out with mean 0 and variance 1.
    func testNormalizesEachGroup() {
        var rng = RandomGenerator(seed: 22)
        let norm = GroupNorm(ParameterStore(), name: "gn", channels: 4, groups: 2, eps: 0)
        var x = Tensor(randomNormal: [2, 4, 3, 3], rng: &rng)
        for i in x.data.indices { x.data[i] = 5 + 3 * x.data[i] }
        let y = norm.forward(x)
        for group in 0..<4 {
            let slice = y.data[(group * 18)..<((group + 1) * 18)].map(Double.init)
            let mean = slice.reduce(0, +) / 18
            let variance = slice.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 18
            XCTAssertEqual(mean, 0, accuracy: 1e-5, "group \(group)")
            XCTAssertEqual(variance, 1, accuracy: 1e-4, "group \(group)")
        }
    }

    func testFusedSiLUGradient() {
        var rng = RandomGenerator(seed: 23)
        let store = ParameterStore()
        let norm = GroupNorm(store, name: "gn", channels: 6, groups: 3, silu: true)
        store.set(norm.weight, Tensor(randomNormal: [6], rng: &rng))
        store.set(norm.bias, Tensor(randomNormal: [6], rng: &rng))
        let x = Tensor(randomNormal: [2, 6, 3, 4], rng: &rng)
        GradCheck.check("groupnorm+silu", store: store, input: x, forward: norm.forward, backward: norm.backward)
    }

    /// The fused layer is the plain one followed by `SiLU`, bit for bit: output, dx, dγ and dβ.
    func testFusedSiLUIsGroupNormThenSiLUBitForBit() {
        var rng = RandomGenerator(seed: 24)
        let (gamma, beta) = (Tensor(randomNormal: [48], rng: &rng), Tensor(randomNormal: [48], rng: &rng))
        let x = Tensor(randomNormal: [3, 48, 8, 8], rng: &rng), dy = Tensor(randomNormal: [3, 48, 8, 8], rng: &rng)
        func run(fused: Bool) -> [[Float]] {
            let store = ParameterStore()
            let norm = GroupNorm(store, name: "gn", channels: 48, groups: 8, silu: fused)
            store.set(norm.weight, gamma)
            store.set(norm.bias, beta)
            let act = SiLU()
            let y = fused ? norm.forward(x) : act.forward(norm.forward(x))
            let dx = fused ? norm.backward(dy) : norm.backward(act.backward(dy))
            return [y.data, dx.data, Array(store.grads)]
        }
        let (fused, separate) = (run(fused: true), run(fused: false))
        for (part, label) in ["output", "dx", "dγ and dβ"].enumerated() {
            XCTAssertEqual(fused[part].map(\.bitPattern), separate[part].map(\.bitPattern), label)
        }
    }
}
