import GradCheckSupport
import Numerics
import XCTest

final class LossTests: XCTestCase {
    func testMeanSquaredErrorValue() {
        let p = Tensor(shape: [2, 2], data: [1, 2, 3, 4])
        let t = Tensor(shape: [2, 2], data: [0, 2, 5, 1])
        let (value, gradient) = meanSquaredError(p, target: t)
        XCTAssertEqual(value, (1 + 0 + 4 + 9) / 4)
        XCTAssertEqual(gradient.data, [0.5, 0, -1, 1.5])
    }

    /// Checked through the harness as a layer whose output is the scalar loss.
    func testMeanSquaredErrorGradient() {
        var rng = RandomGenerator(seed: 71)
        let target = Tensor(randomNormal: [3, 4], rng: &rng)
        let p = Tensor(randomNormal: [3, 4], rng: &rng)
        GradCheck.check("mse", store: ParameterStore(), input: p,
                        forward: { Tensor(shape: [1], data: [meanSquaredError($0, target: target).value]) },
                        backward: { dy in
                            var g = meanSquaredError(p, target: target).gradient
                            for i in g.data.indices { g.data[i] *= dy.data[0] }
                            return g
                        })
    }
}
