import Numerics
import XCTest

final class RandomGeneratorTests: XCTestCase {
    func testSameSeedSameStreamAndDifferentSeedsDiffer() {
        var a = RandomGenerator(seed: 42), b = RandomGenerator(seed: 42), c = RandomGenerator(seed: 43)
        let xs = (0..<100).map { _ in a.next() }
        XCTAssertEqual(xs, (0..<100).map { _ in b.next() })
        XCTAssertNotEqual(xs, (0..<100).map { _ in c.next() })
    }

    func testSplitIsPureAndGivesIndependentStreams() {
        var parent = RandomGenerator(seed: 7)
        let before = parent.state
        var child1 = parent.split(1), child1Again = parent.split(1), child2 = parent.split(2)
        XCTAssertEqual(parent.state, before, "split must not advance the parent")
        let s1 = (0..<64).map { _ in child1.next() }
        XCTAssertEqual(s1, (0..<64).map { _ in child1Again.next() })
        let s2 = (0..<64).map { _ in child2.next() }
        let sp = (0..<64).map { _ in parent.next() }
        XCTAssertTrue(Set(s1).isDisjoint(with: s2) && Set(s1).isDisjoint(with: sp))
        // Grandchildren depend on the whole path, not just the last key.
        var g12 = parent.split(1).split(2), g21 = parent.split(2).split(1)
        XCTAssertNotEqual(g12.next(), g21.next())
    }

    func testStateRoundTripResumesTheStream() {
        var rng = RandomGenerator(seed: 9)
        for _ in 0..<10 { _ = rng.next() }
        var restored = RandomGenerator(state: rng.state)!
        XCTAssertEqual((0..<20).map { _ in rng.next() }, (0..<20).map { _ in restored.next() })
        XCTAssertNil(RandomGenerator(state: [0, 0, 0, 0, 1]), "the all-zero xoshiro state is invalid")
        XCTAssertNil(RandomGenerator(state: [1, 2, 3]))
    }

    /// Moments of 200k draws, within about five standard errors of the exact values.
    func testUniformAndGaussianMoments() {
        var rng = RandomGenerator(seed: 3)
        let n = 200_000
        var (su, su2, sg, sg2, sg4) = (0.0, 0.0, 0.0, 0.0, 0.0)
        var (lo, hi) = (Float.infinity, -Float.infinity)
        for _ in 0..<n {
            let u = Double(rng.nextUniform())
            let g = Double(rng.nextGaussian())
            su += u; su2 += u * u
            sg += g; sg2 += g * g; sg4 += g * g * g * g
            lo = min(lo, Float(u)); hi = max(hi, Float(u))
        }
        let m = Double(n)
        XCTAssertGreaterThanOrEqual(lo, 0); XCTAssertLessThan(hi, 1)
        XCTAssertEqual(su / m, 0.5, accuracy: 5 * (1 / 12.0 / m).squareRoot())
        XCTAssertEqual(su2 / m - (su / m) * (su / m), 1 / 12.0, accuracy: 0.002)
        XCTAssertEqual(sg / m, 0, accuracy: 5 / m.squareRoot())
        XCTAssertEqual(sg2 / m, 1, accuracy: 5 * (2 / m).squareRoot())
        XCTAssertEqual(sg4 / m, 3, accuracy: 5 * (96 / m).squareRoot())
        var r = RandomGenerator(seed: 4)
        for _ in 0..<1000 {
            let v = r.nextUniform(-2, 3)
            XCTAssertTrue(v >= -2 && v < 3)
        }
    }
}
