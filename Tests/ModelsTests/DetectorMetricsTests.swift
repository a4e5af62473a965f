import Models
import XCTest

final class DetectorMetricsTests: XCTestCase {
    func testAUCOfPerfectAndReversedRankings() {
        XCTAssertEqual(ClassifierMetrics.rocAUC(scores: [0.1, 0.2, 0.8, 0.9], labels: [false, false, true, true]), 1)
        XCTAssertEqual(ClassifierMetrics.rocAUC(scores: [0.9, 0.8, 0.2, 0.1], labels: [false, false, true, true]), 0)
    }

    /// Positives {0.8, 0.4}, negatives {0.6, 0.2}: of the 4 pairs, 3 are ordered right → 0.75.
    func testAUCByHand() {
        XCTAssertEqual(ClassifierMetrics.rocAUC(scores: [0.8, 0.6, 0.4, 0.2], labels: [true, false, true, false]), 0.75)
    }

    /// Positives {0.5, 0.9}, negatives {0.5, 0.1}: pairs (0.5, 0.5) tie → ½, the other three are
    /// right → (3 + 0.5)/4. And all scores tied → 0.5.
    func testAUCCountsTiesAsHalf() {
        XCTAssertEqual(ClassifierMetrics.rocAUC(scores: [0.5, 0.9, 0.5, 0.1], labels: [true, true, false, false]), 0.875)
        XCTAssertEqual(ClassifierMetrics.rocAUC(scores: [0.3, 0.3, 0.3], labels: [true, false, false]), 0.5)
    }

    func testAUCNeedsBothClasses() {
        XCTAssertNil(ClassifierMetrics.rocAUC(scores: [0.1, 0.2], labels: [true, true]))
    }

    /// Bins [0.0, 0.1): p 0.05 (y 0); [0.3, 0.4): p 0.35, 0.35 (y 1, 0), mean p 0.35, mean y 0.5;
    /// [0.9, 1.0]: p 0.95, 1.0 (y 1, 1), mean p 0.975.
    /// ECE = (1·0.05 + 2·0.15 + 2·0.025) / 5 = 0.08.
    func testECEByHand() {
        let ece = ClassifierMetrics.expectedCalibrationError(probabilities: [0.05, 0.35, 0.35, 0.95, 1.0],
                                                             labels: [false, true, false, true, true])
        XCTAssertEqual(ece!, 0.08, accuracy: 1e-7)
    }

    /// Calibrated within every bin → 0; always 0.5 on a 90% positive set → 0.4.
    func testECEExtremes() {
        XCTAssertEqual(ClassifierMetrics.expectedCalibrationError(probabilities: [0, 0, 1, 0.5, 0.5],
                                                                  labels: [false, false, true, true, false]), 0)
        let labels = (0..<10).map { $0 < 9 }
        XCTAssertEqual(ClassifierMetrics.expectedCalibrationError(probabilities: [Float](repeating: 0.5, count: 10),
                                                                  labels: labels)!, 0.4, accuracy: 1e-12)
        XCTAssertNil(ClassifierMetrics.expectedCalibrationError(probabilities: [], labels: []))
    }
}
