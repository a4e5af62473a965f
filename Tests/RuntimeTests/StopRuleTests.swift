import Runtime
import XCTest

/// `stop_unsafe_rate` / `stop_window` as a rule: the update at which it fires, for shares
/// where it must not fire and where it must, at a known update.
final class StopRuleTests: XCTestCase {
    /// The 1-based update after which the rule first fires for `shares`, or nil.
    private func firstStop(rate: Double, window: Int, _ shares: [Double]) -> Int? {
        var rule = UnsafeShareStopRule(rate: rate, window: window)
        for (k, share) in shares.enumerated() {
            rule.record(share)
            if rule.reached != nil { return k + 1 }
        }
        return nil
    }

    func testNeverFiresWhileTheWindowMeanIsAboveTheRate() {
        XCTAssertNil(firstStop(rate: 0.05, window: 5, Array(repeating: 0.5, count: 40)))
        XCTAssertNil(firstStop(rate: 0.1, window: 3, [0, 0, 0.31, 0, 0, 0.31, 0, 0, 0.31]), "means 0.103…")
        XCTAssertNil(firstStop(rate: 0.25, window: 4, [0, 0, 0]), "a window not yet full never fires")
    }

    func testRateZeroNeverFiresEvenOnAllSafeBatches() {
        XCTAssertNil(firstStop(rate: 0, window: 1, Array(repeating: 0, count: 20)))
    }

    func testFiresAtTheFirstUpdateWhoseWindowMeanIsAtMostTheRate() {
        // Window means: –, –, 0.5, 0.333…, 0.167…, 0.217…, 0.05 → fires at update 7.
        XCTAssertEqual(firstStop(rate: 0.05, window: 3, [1, 0.5, 0, 0.5, 0, 0.15, 0]), 7)
        // Means –, 0.5, 0.75, 0.25: equality stops.
        XCTAssertEqual(firstStop(rate: 0.25, window: 2, [0, 1, 0.5, 0]), 4)
        XCTAssertEqual(firstStop(rate: 1, window: 3, [1, 1, 1]), 3)
        var rule = UnsafeShareStopRule(rate: 0.25, window: 2)
        for share in [0.9, 0.3, 0.2] { rule.record(share) }
        XCTAssertEqual(rule.reached ?? -1, 0.25, accuracy: 1e-12)
        XCTAssertEqual(rule.recent, [0.3, 0.2])
    }
}
