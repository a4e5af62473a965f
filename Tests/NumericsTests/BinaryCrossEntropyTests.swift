import GradCheckSupport
import Foundation
import Numerics
import XCTest

final class BinaryCrossEntropyTests: XCTestCase {
    /// Against the textbook −y·log σ(z) − (1 − y)·log(1 − σ(z)), in Double, where it is safe.
    func testMatchesTheNaiveFormula() {
        let z = Tensor(shape: [2, 2], data: [-2, 0.5, 0, 3])
        let y = Tensor(shape: [2, 2], data: [0, 1, 1, 0.25])
        var expected = 0.0
        for (zi, yi) in zip(z.data, y.data) {
            let s = 1 / (1 + exp(-Double(zi)))
            expected -= Double(yi) * log(s) + (1 - Double(yi)) * log(1 - s)
        }
        let (value, gradient) = binaryCrossEntropyWithLogits(z, targets: y)
        XCTAssertEqual(Double(value), expected / 4, accuracy: 1e-6)
        for i in 0..<4 {
            let s = 1 / (1 + exp(-Double(z.data[i])))
            XCTAssertEqual(Double(gradient.data[i]), (s - Double(y.data[i])) / 4, accuracy: 1e-7)
        }
    }

    /// Huge logits: the naive form gives log 0 = −inf or exp overflow; the stable one gives |z| exactly.
    func testExtremeLogitsStayFinite() {
        let z = Tensor(shape: [4], data: [200, -200, 200, -200])
        let y = Tensor(shape: [4], data: [0, 1, 1, 0])
        let (value, gradient) = binaryCrossEntropyWithLogits(z, targets: y)
        XCTAssertEqual(value, 100, accuracy: 1e-4)  // (200 + 200 + 0 + 0) / 4
        XCTAssertEqual(gradient.data, [0.25, -0.25, 0, 0])
        XCTAssertEqual(sigmoid(-200), 0)
        XCTAssertEqual(sigmoid(200), 1)
    }

    /// Checked through the harness as a layer whose output is the scalar loss.
    func testGradient() {
        var rng = RandomGenerator(seed: 73)
        let z = Tensor(randomNormal: [3, 4], std: 2, rng: &rng)
        let y = Tensor(shape: [3, 4], data: (0..<12).map { _ in rng.nextUniform() })
        GradCheck.check("bce", store: ParameterStore(), input: z,
                        forward: { Tensor(shape: [1], data: [binaryCrossEntropyWithLogits($0, targets: y).value]) },
                        backward: { dy in
                            var g = binaryCrossEntropyWithLogits(z, targets: y).gradient
                            for i in g.data.indices { g.data[i] *= dy.data[0] }
                            return g
                        })
    }
}
