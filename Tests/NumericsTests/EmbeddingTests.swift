import GradCheckSupport
import Foundation
import Numerics
import XCTest

final class EmbeddingTests: XCTestCase {
    func testForwardLooksUpRows() {
        var rng = RandomGenerator(seed: 30)
        let store = ParameterStore()
        let emb = Embedding(store, name: "tok", vocabulary: 5, dim: 3, rng: &rng)
        let table = store.tensor(emb.table).data
        let y = emb.forward([4, 0, 4, 2], shape: [2, 2])
        XCTAssertEqual(y.shape, [2, 2, 3])
        for (n, id) in [4, 0, 4, 2].enumerated() {
            XCTAssertEqual(Array(y.data[(n * 3)..<(n * 3 + 3)]), Array(table[(id * 3)..<(id * 3 + 3)]))
        }
    }

    func testTableGradient() {
        var rng = RandomGenerator(seed: 31)
        let store = ParameterStore()
        let emb = Embedding(store, name: "tok", vocabulary: 6, dim: 4, rng: &rng)
        // Repeated ids: their gradients must accumulate; id 5 is unused and must stay zero.
        let ids = [1, 3, 1, 0, 2, 1]
        GradCheck.checkParameters("embedding", store: store,
                                  forward: { emb.forward(ids, shape: [2, 3]) }, backward: emb.backward)
        XCTAssertEqual(Array(store.grads[(5 * 4)..<(6 * 4)]), [0, 0, 0, 0])
    }

    func testTimestepEmbeddingMatchesFormula() {
        let t: [Float] = [0, 1, 37, 999]
        let dim = 7, half = 3
        let y = sinusoidalTimestepEmbedding(t, dim: dim)
        XCTAssertEqual(y.shape, [4, 7])
        for (n, step) in t.enumerated() {
            for i in 0..<half {
                let freq = pow(10_000.0, -Double(i) / Double(half))
                XCTAssertEqual(Double(y.data[n * dim + i]), cos(Double(step) * freq), accuracy: 1e-6)
                XCTAssertEqual(Double(y.data[n * dim + half + i]), sin(Double(step) * freq), accuracy: 1e-6)
            }
            XCTAssertEqual(y.data[n * dim + dim - 1], 0, "odd dim pads one zero")
        }
    }
}
