import Foundation
import Numerics
import XCTest

final class AdamWTests: XCTestCase {
    /// One step on three values against the update written out by hand (in Double).
    func testOneStepMatchesHandComputation() throws {
        let store = ParameterStore()
        store.register("w", shape: [2], values: [1.0, -2.0])
        store.register("b", shape: [1], values: [0.5])
        let grads: [Double] = [0.1, -0.3, 2.0]
        for (i, g) in grads.enumerated() { store.grads[i] = Float(g) }
        let config = AdamW.Config(learningRate: 0.01, beta1: 0.8, beta2: 0.9, eps: 1e-3, weightDecay: 0.5)
        let optimizer = AdamW(store, config: config, noDecay: { $0.name == "b" })
        try optimizer.step()

        let start: [Double] = [1, -2, 0.5], decays = [true, true, false]
        for i in 0..<3 {
            let (lr, g) = (0.01, grads[i])
            let m = 0.2 * g, v = 0.1 * g * g
            let mHat = m / (1 - 0.8), vHat = v / (1 - 0.9)
            let expected = start[i] - (decays[i] ? lr * 0.5 * start[i] : 0) - lr * mHat / (vHat.squareRoot() + 1e-3)
            XCTAssertEqual(Double(store.values[i]), expected, accuracy: 1e-6, "parameter \(i)")
        }
        XCTAssertEqual(optimizer.state.step, 1)
        XCTAssertEqual(Double(optimizer.state.m[2]), 0.4, accuracy: 1e-6)
    }

    func testClippingScalesToMaxNorm() {
        var grads: [Float] = [3, 4, 0, 12]  // norm 13
        let before = grads.withUnsafeMutableBufferPointer { clipGradientNorm($0, maxNorm: 6.5) }
        XCTAssertEqual(before, 13, accuracy: 1e-5)
        XCTAssertEqual(grads[0], 1.5, accuracy: 1e-5)
        XCTAssertEqual(grads[3], 6, accuracy: 1e-5)
        let after = grads.withUnsafeBufferPointer { gradientNorm($0) }
        XCTAssertEqual(after, 6.5, accuracy: 1e-4)
        // A gradient already inside the ball is left alone.
        var small: [Float] = [0.3, 0.4]
        _ = small.withUnsafeMutableBufferPointer { clipGradientNorm($0, maxNorm: 1) }
        XCTAssertEqual(small, [0.3, 0.4])
    }

    func testStepClipsAndReportsPreClipNorm() throws {
        let store = ParameterStore()
        store.register("w", shape: [2], values: [0, 0])
        store.grads[0] = 30; store.grads[1] = 40
        let optimizer = AdamW(store, config: .init(learningRate: 0.1, weightDecay: 0, maxGradNorm: 1))
        XCTAssertEqual(try optimizer.step(), 50, accuracy: 1e-4)
        XCTAssertEqual(store.grads[0], 0.6, accuracy: 1e-5)
        XCTAssertEqual(store.grads[1], 0.8, accuracy: 1e-5)
    }

    /// Minimizes Σ aᵢ(θᵢ − cᵢ)² from zero and lands on c.
    func testMinimizesAQuadratic() throws {
        let store = ParameterStore()
        let theta = store.register("theta", shape: [3], values: [0, 0, 0])
        let a: [Float] = [1, 10, 0.1], c: [Float] = [2, -1, 0.5]
        let optimizer = AdamW(store, config: .init(learningRate: 0.05, weightDecay: 0))
        for _ in 0..<2000 {
            store.zeroGrads()
            let v = store.value(theta), g = store.grad(theta)
            for i in 0..<3 { g[i] = 2 * a[i] * (v[i] - c[i]) }
            try optimizer.step()
        }
        for i in 0..<3 { XCTAssertEqual(store.value(theta)[i], c[i], accuracy: 1e-2, "θ\(i)") }
    }

    func testStateRestoresExactly() throws {
        let store = ParameterStore()
        store.register("w", shape: [3], values: [1, 2, 3])
        let optimizer = AdamW(store, config: .init(learningRate: 0.1))
        for i in 0..<3 { store.grads[i] = Float(i) - 1 }
        try optimizer.step()
        let saved = optimizer.state, savedValues = Array(store.values)
        try optimizer.step()
        let oneMore = Array(store.values)

        _ = store.values.update(from: savedValues)
        let fresh = AdamW(store, config: .init(learningRate: 0.1))
        try fresh.restore(saved)
        try fresh.step()
        XCTAssertEqual(Array(store.values), oneMore)
        XCTAssertThrowsError(try fresh.restore(.init(step: 1, m: [0], v: [0]))) { error in
            XCTAssertEqual(error as? AdamWError, .stateSizeMismatch(m: 1, v: 1, parameters: 3))
        }
    }

    func testNonFiniteGradientIsRefused() {
        let store = ParameterStore()
        store.register("w", shape: [2], values: [1, 2])
        store.grads[0] = .nan
        let optimizer = AdamW(store, config: .init(learningRate: 0.1))
        XCTAssertThrowsError(try optimizer.step())
        XCTAssertEqual(Array(store.values), [1, 2])
        XCTAssertEqual(optimizer.state.step, 0)
    }
}
