import GradCheckSupport
import Foundation
import Numerics
import XCTest

final class GELUTests: XCTestCase {
    func testTanhFormIsCloseToErfForm() {
        let xs: [Float] = stride(from: -6, through: 6, by: 0.25).map { $0 }
        let y = GELU().forward(Tensor(shape: [xs.count], data: xs))
        for (i, x) in xs.enumerated() {
            let exact = 0.5 * Double(x) * (1 + erf(Double(x) / 2.0.squareRoot()))
            XCTAssertEqual(Double(y.data[i]), exact, accuracy: 1e-3, "x = \(x)")
        }
    }

    func testGELUGradient() {
        var rng = RandomGenerator(seed: 50)
        let gelu = GELU()
        GradCheck.check("gelu", store: ParameterStore(), input: Tensor(randomNormal: [4, 12], std: 2, rng: &rng),
                        forward: gelu.forward, backward: gelu.backward)
    }
}
