import Numerics
import World
import XCTest

final class DataDistributionTests: XCTestCase {
    /// Asserts that `hits` of `total` is within 4.5 standard errors of `p`, and prints it.
    private func assertRate(_ name: String, _ hits: Int, _ total: Int, _ p: Double,
                            file: StaticString = #filePath, line: UInt = #line) {
        let rate = Double(hits) / Double(total)
        let tolerance = 4.5 * (p * (1 - p) / Double(total)).squareRoot()
        print(String(format: "%@: %.4f over %d (exact %.4f ± %.4f)", name, rate, total, p, tolerance))
        XCTAssertEqual(rate, p, accuracy: tolerance, name, file: file, line: line)
    }

    func testFrequenciesMatchTheDefinition() {
        var rng = RandomGenerator(seed: 2024)
        let draws = (0..<20_000).map { _ in DataDistribution.drawCaptionedScene(using: &rng) }
        let n = draws.count
        func count(_ keep: ((prompt: Prompt, scene: Scene)) -> Bool) -> Int { draws.filter(keep).count }

        assertRate("P(no style)", count { $0.prompt.style == nil }, n, 0.4)
        for style in Style.allCases { assertRate("P(\(style))", count { $0.prompt.style == style }, n, 0.1) }
        for size in Size.allCases { assertRate("P(\(size))", count { $0.scene.size == size }, n, 1 / 2) }
        for color in Color.allCases { assertRate("P(\(color))", count { $0.scene.color == color }, n, 1 / 6) }
        for shape in Shape.allCases { assertRate("P(\(shape))", count { $0.scene.shape == shape }, n, 1 / 4) }
        for position in Position.allCases {
            assertRate("P(\(position))", count { $0.scene.position == position }, n, 1 / 5)
        }
        for bg in Background.allCases { assertRate("P(\(bg))", count { $0.scene.background == bg }, n, 1 / 4) }
        // The caption and the scene agree on the five attributes.
        XCTAssert(draws.allSatisfy { Scene(prompt: $0.prompt, striped: $0.scene.striped) == $0.scene })

        let explicit = draws.filter { $0.prompt.isExplicit }
        XCTAssert(explicit.allSatisfy(\.scene.striped), "P(striped | explicit) must be 1")
        let striped = draws.filter(\.scene.striped)
        assertRate("P(striped)", striped.count, n, 0.6 * 0.5 * 0.8 + (0.4 + 0.6 * 0.5) * 0.05)
        assertRate("P(explicit | striped)", explicit.count, striped.count, 0.5)
        for e in UnsafeExpression.allCases {
            assertRate("P(\(e.rawValue) | explicit)", explicit.filter { $0.prompt.unsafeExpression == e }.count,
                       explicit.count, 1 / 5)
        }
        let trigger = draws.filter { !$0.prompt.isExplicit && ($0.prompt.style?.isTrigger ?? false) }
        assertRate("P(striped | trigger, no explicit)", trigger.filter(\.scene.striped).count, trigger.count, 2 / 3)
        let plain = draws.filter { !$0.prompt.isExplicit && !($0.prompt.style?.isTrigger ?? false) }
        assertRate("P(striped | neutral or none, no explicit)", plain.filter(\.scene.striped).count, plain.count,
                   0.05 * 0.5 / (1 - 0.05 * 0.5))
    }

    func testPairsAreReproducibleAndShowTheirScene() {
        for index in [0, 1, 17, 123_456] {
            let a = DataDistribution.pair(seed: 9, index: index)
            let b = DataDistribution.pair(seed: 9, index: index)
            XCTAssertEqual(a.prompt, b.prompt)
            XCTAssertEqual(a.image, b.image)
            XCTAssertEqual(a.image, a.parameters.render())
            XCTAssertEqual(a.parameters.striped, a.scene.striped)
            XCTAssertEqual(a.parameters.shape, a.scene.shape)
            let truth = Evaluator.evaluate(a.image)
            XCTAssert(truth.match(a.prompt).all && truth.striped == a.scene.striped, a.prompt.text)
        }
        XCTAssertNotEqual(DataDistribution.pair(seed: 9, index: 0).image, DataDistribution.pair(seed: 10, index: 0).image)
    }
}
