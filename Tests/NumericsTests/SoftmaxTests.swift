import Numerics
import XCTest

final class SoftmaxTests: XCTestCase {
    func testLargeLogitsStayFiniteAndRowsSumToOne() {
        let y = Softmax().forward(Tensor(shape: [2, 3], data: [1000, 1001, 999, -5, 0, 5]))
        let e = [exp(-1.0), 1, exp(-2.0)], total = e.reduce(0, +)
        for c in 0..<3 { XCTAssertEqual(Double(y.data[c]), e[c] / total, accuracy: 1e-6) }
        XCTAssertEqual(Double(y.data[3...5].reduce(0, +)), 1, accuracy: 1e-6)
    }

    func testSoftmaxGradient() {
        var rng = RandomGenerator(seed: 60)
        let softmax = Softmax()
        GradCheck.check("softmax", store: ParameterStore(), input: Tensor(randomNormal: [3, 7], std: 2, rng: &rng),
                        forward: softmax.forward, backward: softmax.backward)
    }
}
