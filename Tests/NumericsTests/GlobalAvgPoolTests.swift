import GradCheckSupport
import Numerics
import XCTest

final class GlobalAvgPoolTests: XCTestCase {
    func testValues() {
        let x = Tensor(shape: [1, 2, 2, 2], data: [1, 2, 3, 4, -1, 0, 0, 5])
        let pool = GlobalAvgPool()
        let y = pool.forward(x)
        XCTAssertEqual(y.shape, [1, 2])
        XCTAssertEqual(y.data, [2.5, 1])
        XCTAssertEqual(pool.backward(Tensor(shape: [1, 2], data: [4, -8])).data, [1, 1, 1, 1, -2, -2, -2, -2])
    }

    func testGradient() {
        var rng = RandomGenerator(seed: 43)
        let pool = GlobalAvgPool()
        let x = Tensor(randomNormal: [2, 3, 3, 5], rng: &rng)
        GradCheck.check("globalavgpool", store: ParameterStore(), input: x, forward: pool.forward, backward: pool.backward)
    }
}
