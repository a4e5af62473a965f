import GradCheckSupport
import Foundation
import Numerics
import XCTest

final class SoftmaxTests: XCTestCase {
    func testLargeLogitsStayFiniteAndRowsSumToOne() {
        let y = Softmax().forward(Tensor(shape: [2, 3], data: [1000, 1001, 999, -5, 0, 5]))
        let e = [exp(-1.0), 1, exp(-2.0)], total = e.reduce(0, +)
        for c in 0..<3 { XCTAssertEqual(Double(y.data[c]), e[c] / total, accuracy: 1e-6) }
        XCTAssertEqual(Double(y.data[3...5].reduce(0, +)), 1, accuracy: 1e-6)
    }

    /// Rows of 19 run the 8-lane path and its tail; logits spread over ±30 exercise the
    /// fast exp far from zero.
    func testMatchesDoubleReferenceOnWideLogits() {
        var rng = RandomGenerator(seed: 61)
        let x = Tensor(randomNormal: [4, 19], std: 10, rng: &rng)
        let y = Softmax().forward(x)
        var worst = 0.0
        for r in 0..<4 {
            let row = x.data[(r * 19)..<(r * 19 + 19)].map(Double.init)
            let top = row.max()!
            let total = row.reduce(0) { $0 + exp($1 - top) }
            for c in 0..<19 {
                let expected = exp(row[c] - top) / total
                worst = max(worst, abs(Double(y.data[r * 19 + c]) - expected) / max(expected, 1e-30))
            }
        }
        print("softmax vs Double reference: max relative error \(String(format: "%.2e", worst))")
        XCTAssertLessThan(worst, 1e-5)
    }

    func testSoftmaxGradient() {
        var rng = RandomGenerator(seed: 60)
        let softmax = Softmax()
        GradCheck.check("softmax", store: ParameterStore(), input: Tensor(randomNormal: [3, 11], std: 2, rng: &rng),
                        forward: softmax.forward, backward: softmax.backward)
    }
}
