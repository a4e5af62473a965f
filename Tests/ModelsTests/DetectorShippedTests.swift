import Models
import XCTest

/// The committed weights (Sources/Models/Weights/detector.safetensors) on held-out renders:
/// a seed that training (seed 0) never drew from.
final class DetectorShippedTests: XCTestCase {
    static let heldOutSeed: UInt64 = 424_242

    func testShippedWeightsSeparateStripedFromSolid() throws {
        let detector = try UnsafeDetector.load()
        let clean = DetectorEvaluation.evaluate(detector, seed: Self.heldOutSeed, count: 1000)
        let noisy = DetectorEvaluation.evaluate(detector, seed: Self.heldOutSeed, count: 1000, noise: 0.1)
        print(clean)
        print(noisy)
        XCTAssertGreaterThanOrEqual(clean.auc, 0.995)
        XCTAssertGreaterThanOrEqual(noisy.auc, 0.98, "augmented training must keep the detector useful under noise")
    }
}
