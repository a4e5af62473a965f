import Diffusion
import GradCheckSupport
import Foundation
import Numerics
import XCTest

final class DDIMStepTests: XCTestCase {
    let schedule = NoiseSchedule()

    func testScheduleIsMonotoneAndNeverReachesOne() {
        XCTAssertEqual(schedule.alphaBar.count, 1000)
        XCTAssertLessThan(schedule.alphaBar[0], 1)
        XCTAssertGreaterThan(schedule.alphaBar[0], 0.99)
        XCTAssertLessThan(schedule.alphaBar[999], 1e-3)
        for t in 1..<1000 { XCTAssertLessThan(schedule.alphaBar[t], schedule.alphaBar[t - 1]) }
        XCTAssertEqual(schedule.samplingTimesteps(10), [999, 899, 799, 699, 599, 499, 399, 299, 199, 99])
        XCTAssertEqual(schedule.alphaBar(at: schedule.previousTimestep(99, steps: 10)), schedule.alphaBar[0])
    }

    /// The log-prob against a Gaussian density written out independently from the x̂_0 form
    /// (x̂_0 clipped to [−1, 1], ε re-derived from it).
    func testLogProbMatchesIndependentGaussianDensity() {
        var rng = RandomGenerator(seed: 11)
        let xt = Tensor(randomNormal: [3, 2, 4, 4], rng: &rng)
        let eps = Tensor(randomNormal: [3, 2, 4, 4], rng: &rng)
        for (t, tPrev) in [(999, 899), (499, 399), (99, -1)] {
            let step = DDIMStep(schedule: schedule, t: t, tPrev: tPrev, eta: 1)
            let out = step.sample(xt: xt, eps: eps, rng: &rng)
            let ab = schedule.alphaBar(at: t), abPrev = schedule.alphaBar(at: tPrev)
            let sigma = ((1 - abPrev) / (1 - ab) * (1 - ab / abPrev)).squareRoot()
            XCTAssertGreaterThan(sigma, 0, "the last step must keep a nonzero variance")
            let d = 32
            for n in 0..<3 {
                var logDensity = 0.0
                for i in (n * d)..<((n + 1) * d) {
                    let raw = (Double(xt.data[i]) - (1 - ab).squareRoot() * Double(eps.data[i])) / ab.squareRoot()
                    let x0 = min(max(raw, -1), 1)
                    let epsClipped = (Double(xt.data[i]) - ab.squareRoot() * x0) / (1 - ab).squareRoot()
                    let mu = abPrev.squareRoot() * x0 + (1 - abPrev - sigma * sigma).squareRoot() * epsClipped
                    let z = (Double(out.next.data[i]) - mu) / sigma
                    logDensity += -0.5 * z * z - log(sigma) - 0.5 * log(2 * Double.pi)
                }
                XCTAssertEqual(Double(out.logProb![n]), logDensity / Double(d), accuracy: 1e-3, "t=\(t) sample \(n)")
            }
        }
    }

    func testScoringAStoredStepReproducesTheSampledLogProb() {
        var rng = RandomGenerator(seed: 12)
        let xt = Tensor(randomNormal: [4, 12, 16, 16], rng: &rng)
        let eps = Tensor(randomNormal: [4, 12, 16, 16], rng: &rng)
        let step = DDIMStep(schedule: schedule, t: 599, tPrev: 499, eta: 1)
        let out = step.sample(xt: xt, eps: eps, rng: &rng)
        XCTAssertEqual(step.score(xt: xt, eps: eps, next: out.next), out.logProb!)
        // Another noise prediction makes the same step less likely.
        var other = eps
        other.data[0] += 1
        XCTAssertLessThan(step.score(xt: xt, eps: other, next: out.next)[0], out.logProb![0])
    }

    func testSameSeedSameStepAndEtaZeroIsDeterministicDDIM() {
        var rng = RandomGenerator(seed: 13)
        let xt = Tensor(randomNormal: [2, 8], rng: &rng)
        let eps = Tensor(randomNormal: [2, 8], rng: &rng)
        let step = DDIMStep(schedule: schedule, t: 299, tPrev: 199, eta: 1)
        var r1 = RandomGenerator(seed: 5), r2 = RandomGenerator(seed: 5)
        XCTAssertEqual(step.sample(xt: xt, eps: eps, rng: &r1).next, step.sample(xt: xt, eps: eps, rng: &r2).next)

        // Inside the clip range, η = 0 is ALGORITHM.md's deterministic DDIM step exactly.
        let ab = schedule.alphaBar(at: 299), abPrev = schedule.alphaBar(at: 199)
        let x0 = (0..<16).map { _ in rng.nextUniform(-0.9, 0.9) }
        let noise = Tensor(randomNormal: [2, 8], rng: &rng)
        let inRange = Tensor(shape: [2, 8], data: (0..<16).map {
            Float(ab.squareRoot()) * x0[$0] + Float((1 - ab).squareRoot()) * noise.data[$0]
        })
        let ddim = DDIMStep(schedule: schedule, t: 299, tPrev: 199, eta: 0)
        var r3 = RandomGenerator(seed: 6)
        let out = ddim.sample(xt: inRange, eps: noise, rng: &r3)
        XCTAssertNil(out.logProb)
        for i in inRange.data.indices {
            let x0 = (Double(inRange.data[i]) - (1 - ab).squareRoot() * Double(noise.data[i])) / ab.squareRoot()
            let expected = abPrev.squareRoot() * x0 + (1 - abPrev).squareRoot() * Double(noise.data[i])
            XCTAssertEqual(Double(out.next.data[i]), expected, accuracy: 1e-4)
        }
    }

    /// The batched step with one generator per row (what `sampleDDIM` runs) is the per-row
    /// step of each row alone, bit for bit: the oracle for the one sampling loop.
    func testBatchedRowGeneratorsMatchEachRowAlone() {
        var rng = RandomGenerator(seed: 17)
        let (b, d) = (5, 24)
        let xt = Tensor(randomNormal: [b, d], rng: &rng), eps = Tensor(randomNormal: [b, d], rng: &rng)
        let step = DDIMStep(schedule: schedule, t: 599, tPrev: 499, eta: 1)
        var rows = (0..<b).map { RandomGenerator(seed: UInt64(100 + $0)) }
        let batched = step.sample(xt: xt, eps: eps, rngs: &rows)
        for r in 0..<b {
            var alone = RandomGenerator(seed: UInt64(100 + r))
            let one = step.sample(xt: Tensor(shape: [1, d], data: Array(xt.data[(r * d)..<((r + 1) * d)])),
                                  eps: Tensor(shape: [1, d], data: Array(eps.data[(r * d)..<((r + 1) * d)])), rng: &alone)
            XCTAssertEqual(Array(batched.next.data[(r * d)..<((r + 1) * d)]), one.next.data, "row \(r)")
            XCTAssertEqual(batched.logProb?[r], one.logProb?[0], "row \(r) log-prob")
            XCTAssertEqual(rows[r].next(), alone.next(), "row \(r): generator left at another position")
        }
    }

    /// The one sampling loop: N steps from x_{t_N} along the sampler's timesteps, each step the
    /// per-row step above on the noise the guidance closure returns at that timestep.
    func testSamplingLoopRunsEveryStepOnItsTimestep() {
        var rng = RandomGenerator(seed: 18)
        let x = Tensor(randomNormal: [3, 8], rng: &rng)
        var seen: [Int] = []
        var rngs = (0..<3).map { RandomGenerator(seed: UInt64($0)) }
        let path = sampleDDIM(from: x, schedule: schedule, steps: 4, eta: 1, rngs: &rngs) { x, t in
            seen.append(t)
            return Tensor(shape: x.shape, data: x.data.map { $0 * 0.5 })
        }
        XCTAssertEqual(seen, schedule.samplingTimesteps(4))
        XCTAssertEqual(path.timesteps, seen)
        XCTAssertEqual(path.latents.count, 5)
        XCTAssertEqual(path.logProbs.map(\.count), [3, 3, 3, 3])
        var expected = x
        var check = (0..<3).map { RandomGenerator(seed: UInt64($0)) }
        for (k, t) in seen.enumerated() {
            let step = DDIMStep(schedule: schedule, t: t, tPrev: schedule.previousTimestep(t, steps: 4), eta: 1)
            let out = step.sample(xt: expected, eps: Tensor(shape: expected.shape, data: expected.data.map { $0 * 0.5 }), rngs: &check)
            expected = out.next
            XCTAssertEqual(path.latents[k + 1], expected, "step \(k)")
            XCTAssertEqual(path.logProbs[k], out.logProb!, "step \(k) log-probs")
        }
    }

    /// At t = 999 (ᾱ ≈ 2e−9) an error of 0.1 in ε would move an unclipped x̂_0 by ~2·10³;
    /// with x̂_0 clipped the first step's mean stays in a sane range and barely moves.
    func testFirstStepIsWellConditioned() {
        var rng = RandomGenerator(seed: 15)
        let xt = Tensor(randomNormal: [1, 3072], rng: &rng)
        var eps = xt
        let step = DDIMStep(schedule: schedule, t: 999, tPrev: 899, eta: 1)
        let mu = step.mean(xt: xt, eps: eps)
        for i in eps.data.indices { eps.data[i] += 0.1 * rng.nextGaussian() }
        let muPerturbed = step.mean(xt: xt, eps: eps)
        let worst = zip(mu.data, muPerturbed.data).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst, 0.5)
        XCTAssertLessThan(muPerturbed.data.map(abs).max()!, 6)
    }

    func testScoreGradientMatchesFiniteDifferences() {
        var rng = RandomGenerator(seed: 14)
        let xt = Tensor(randomNormal: [2, 6], rng: &rng)
        let eps = Tensor(randomNormal: [2, 6], rng: &rng)
        let step = DDIMStep(schedule: schedule, t: 399, tPrev: 299, eta: 1)
        let next = step.sample(xt: xt, eps: eps, rng: &rng).next
        let upstream: [Float] = [0.7, -1.3]
        let grad = step.scoreGradient(xt: xt, eps: eps, next: next, upstream: upstream)
        GradCheck.checkInput("ddim-logprob dε", input: eps, analytic: grad, step: 1e-2) { e in
            zip(step.score(xt: xt, eps: e, next: next), upstream).map { Double($0) * Double($1) }.reduce(0, +)
        }
    }
}
