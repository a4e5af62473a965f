import Foundation
import RL
import XCTest

final class PPOClipLossTests: XCTestCase {
    // Δ = log π − log π_old and A, covering every branch at ε = 0.2:
    // A > 0 with ρ above and below the range, A < 0 above and below, and both signs inside.
    let deltas: [Float] = [0.5, -0.5, 0.5, -0.5, 0.05, -0.1]
    let advantages: [Float] = [1, 1, -2, -2, 0.7, -1.5]
    let old: [Float] = [-1.3, 0.4, 2.0, -0.2, 0.9, -3.1]
    let eps: Float = 0.2

    var logProbs: [Float] { zip(old, deltas).map { $0 + $1 } }

    func testLossAndDiagnosticsMatchTheFormula() {
        let result = PPOClipLoss(logProbs: logProbs, oldLogProbs: old, advantages: advantages, clipRange: eps)
        let r = deltas.map { exp(Double($0)) }
        // max(−Aρ, −A·clip(ρ)) entry by entry, written out per branch.
        let terms = [-1 * 1.2, -1 * r[1], 2 * r[2], 2 * 0.8, -0.7 * r[4], 1.5 * r[5]]
        XCTAssertEqual(Double(result.loss), terms.reduce(0, +) / 6, accuracy: 1e-6)
        XCTAssertEqual(result.statistics.approxKL, 0.5 * (4 * 0.25 + 0.0025 + 0.01) / 6, accuracy: 1e-7)
        XCTAssertEqual(result.statistics.clipFraction, 4.0 / 6)
        XCTAssertEqual(result.statistics.ratioMean, r.reduce(0, +) / 6, accuracy: 1e-6)
        XCTAssertEqual(result.gradient[0], 0, "A > 0, ρ > 1+ε: clipped, no gradient")
        XCTAssertEqual(result.gradient[3], 0, "A < 0, ρ < 1−ε: clipped, no gradient")
    }

    /// d loss / d log π against central differences of the (Double) loss, in every branch.
    func testGradientMatchesFiniteDifferences() {
        let base = logProbs
        let analytic = PPOClipLoss(logProbs: base, oldLogProbs: old, advantages: advantages, clipRange: eps).gradient
        func loss(_ lp: [Float]) -> Double {
            PPOClipLoss(logProbs: lp, oldLogProbs: old, advantages: advantages, clipRange: eps).statistics.loss
        }
        var worst = 0.0
        for i in base.indices {
            var plus = base, minus = base
            plus[i] += 1e-3
            minus[i] -= 1e-3
            let numeric = (loss(plus) - loss(minus)) / Double(plus[i] - minus[i])
            worst = max(worst, abs(numeric - Double(analytic[i])))
            XCTAssertEqual(Double(analytic[i]), numeric, accuracy: 1e-5, "entry \(i)")
        }
        print("gradcheck ppo-clip loss wrt log π: max abs error \(String(format: "%.2e", worst))")
    }

    func testRatioOneGivesZeroKLAndNoClipping() {
        let result = PPOClipLoss(logProbs: old, oldLogProbs: old, advantages: advantages, clipRange: eps)
        XCTAssertEqual(result.statistics.approxKL, 0)
        XCTAssertEqual(result.statistics.clipFraction, 0)
        XCTAssertEqual(result.ratios, [Float](repeating: 1, count: old.count))
        // At ρ = 1 the loss is −mean(A) and its gradient −A/M.
        XCTAssertEqual(Double(result.loss), -Double(advantages.reduce(0, +)) / 6, accuracy: 1e-6)
        for (g, a) in zip(result.gradient, advantages) { XCTAssertEqual(g, -a / 6, accuracy: 1e-7) }
    }
}
