import RL
import XCTest

final class PromptStatTrackerTests: XCTestCase {
    /// Hand-computed: "a" reaches min_count and uses its own statistics, "b" falls back to
    /// the batch's; the next batch evicts a's oldest reward.
    func testPerPromptStatisticsFallbackAndEviction() throws {
        var tracker = try PromptStatTracker(buffer: 3, minCount: 2, advantageClip: 10)
        let first = try tracker.advantages(prompts: ["a", "b", "a"], rewards: [1, 10, 3])
        // a: [1, 3], mean 2, std 1.   batch: [1, 10, 3], mean 14/3, variance (11²+16²+5²)/27 = 402/27.
        let batchStd = (402.0 / 27).squareRoot()
        XCTAssertEqual(Double(first[0]), -1 / (1 + 1e-6), accuracy: 1e-6)
        XCTAssertEqual(Double(first[2]), 1 / (1 + 1e-6), accuracy: 1e-6)
        XCTAssertEqual(Double(first[1]), (10 - 14.0 / 3) / (batchStd + 1e-6), accuracy: 1e-5)

        let second = try tracker.advantages(prompts: ["a", "a"], rewards: [5, 7])
        // a keeps [3, 5, 7]: mean 5, variance 8/3.
        XCTAssertEqual(tracker.history["a"], [3, 5, 7])
        XCTAssertEqual(tracker.history["b"], [10])
        XCTAssertEqual(Double(second[0]), 0, accuracy: 1e-6)
        XCTAssertEqual(Double(second[1]), 2 / ((8.0 / 3).squareRoot() + 1e-6), accuracy: 1e-5)
    }

    /// Groups never share statistics: each group's batch fallback is its own, and a prompt's
    /// history in group 1 is kept apart from the same prompt's in group 0.
    func testGroupsHaveTheirOwnBatchStatisticsAndHistories() throws {
        var tracker = try PromptStatTracker(buffer: 4, minCount: 3, advantageClip: 10)
        let a = try tracker.advantages(prompts: ["p", "q", "p", "q"], rewards: [1, 3, -2, -4], groups: [0, 0, 1, 1])
        // Group 0: [1, 3], mean 2, std 1. Group 1: [−2, −4], mean −3, std 1. (One batch: mean −0.5.)
        for (got, want) in zip(a, [-1.0, 1, 1, -1]) { XCTAssertEqual(Double(got), want / (1 + 1e-6), accuracy: 1e-6) }
        XCTAssertEqual(tracker.history["p"], [1])
        XCTAssertEqual(tracker.history["[group 1] p"], [-2])
        // No groups is one group 0.
        var plain = try PromptStatTracker(buffer: 4, minCount: 3, advantageClip: 10), zeros = plain
        XCTAssertEqual(try plain.advantages(prompts: ["p", "q", "p"], rewards: [1, 3, -2]),
                       try zeros.advantages(prompts: ["p", "q", "p"], rewards: [1, 3, -2], groups: [0, 0, 0]))
        XCTAssertEqual(plain, zeros)
    }

    func testAdvantagesAreClamped() throws {
        var tracker = try PromptStatTracker(buffer: 4, minCount: 4, advantageClip: 0.5)
        // Fallback to batch stats: [0, 0, 0, 4] has mean 1, std √3 → A = [−0.577…, …, 1.732…].
        let a = try tracker.advantages(prompts: ["p", "q", "r", "s"], rewards: [0, 0, 0, 4])
        XCTAssertEqual(a, [-0.5, -0.5, -0.5, 0.5])
    }

    func testStateRoundTripsThroughJSONAndContinuesIdentically() throws {
        var tracker = try PromptStatTracker(buffer: 3, minCount: 2, advantageClip: 5)
        _ = try tracker.advantages(prompts: ["a", "b", "a", "c"], rewards: [0.1, -2.5, 0.7, 1e-3])
        var restored = try PromptStatTracker(json: tracker.jsonString())
        XCTAssertEqual(restored, tracker)
        let prompts = ["a", "b", "c", "c"], rewards: [Float] = [0.2, 0.3, -0.4, 0.9]
        XCTAssertEqual(try restored.advantages(prompts: prompts, rewards: rewards),
                       try tracker.advantages(prompts: prompts, rewards: rewards))
    }

    func testRejectsBadInputAndBadState() throws {
        var tracker = try PromptStatTracker(buffer: 2, minCount: 1, advantageClip: 5)
        XCTAssertThrowsError(try tracker.advantages(prompts: ["a", "b"], rewards: [1, .infinity])) {
            XCTAssertEqual($0 as? DDPOError, .nonFiniteReward(index: 1, value: .infinity))
        }
        XCTAssertEqual(tracker.history, [:], "a rejected batch must leave the state unchanged")
        XCTAssertThrowsError(try tracker.advantages(prompts: ["a", "b"], rewards: [1])) {
            XCTAssertEqual($0 as? DDPOError, .countMismatch(prompts: 2, rewards: 1))
        }
        XCTAssertThrowsError(try PromptStatTracker(buffer: 2, minCount: 3, advantageClip: 5))
        let overfull = #"{"advantageClip":5,"buffer":2,"history":{"a":[1,2,3]},"minCount":1}"#
        XCTAssertThrowsError(try PromptStatTracker(json: overfull)) { error in
            XCTAssertTrue("\(error)".contains("keeps 3 rewards, buffer is 2"), "\(error)")
        }
        XCTAssertThrowsError(try PromptStatTracker(json: "{"))
    }
}
