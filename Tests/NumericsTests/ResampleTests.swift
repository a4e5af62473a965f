import GradCheckSupport
import Numerics
import XCTest

final class ResampleTests: XCTestCase {
    func testUpsampleGradient() {
        var rng = RandomGenerator(seed: 41)
        let up = Upsample2x()
        let x = Tensor(randomNormal: [2, 3, 3, 4], rng: &rng)
        GradCheck.check("upsample2x", store: ParameterStore(), input: x, forward: up.forward, backward: up.backward)
    }

    func testAvgPoolGradient() {
        var rng = RandomGenerator(seed: 42)
        let pool = AvgPool2x()
        let x = Tensor(randomNormal: [2, 3, 4, 6], rng: &rng)
        GradCheck.check("avgpool2x", store: ParameterStore(), input: x, forward: pool.forward, backward: pool.backward)
    }

    func testValues() {
        let x = Tensor(shape: [1, 1, 2, 2], data: [1, 2, 3, 4])
        let up = Upsample2x().forward(x)
        XCTAssertEqual(up.shape, [1, 1, 4, 4])
        XCTAssertEqual(up.data, [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
        XCTAssertEqual(AvgPool2x().forward(x).data, [2.5])
        // Averaging a nearest-neighbour upsampling gives the original back.
        XCTAssertEqual(AvgPool2x().forward(up), x)
    }
}
