import GradCheckSupport
import Numerics
import XCTest

final class SiLUTests: XCTestCase {
    func testGradient() {
        var rng = RandomGenerator(seed: 31)
        let act = SiLU()
        let x = Tensor(randomNormal: [3, 7], std: 2, rng: &rng)
        GradCheck.check("silu", store: ParameterStore(), input: x, forward: act.forward, backward: act.backward)
    }

    func testValues() {
        let y = SiLU().forward(Tensor(shape: [3], data: [0, 1, -2]))
        XCTAssertEqual(y.data[0], 0)
        XCTAssertEqual(y.data[1], Float(1 / (1 + exp(-1.0))), accuracy: 1e-6)
        XCTAssertEqual(y.data[2], Float(-2 / (1 + exp(2.0))), accuracy: 1e-6)
    }
}
