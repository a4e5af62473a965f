import GradCheckSupport
import Models
import Numerics
import XCTest

final class DetectorNetworkTests: XCTestCase {
    private let tiny = UnsafeDetector.Config(channels: [3, 4, 4])

    /// dL/dx and every parameter's gradient through conv, SiLU, strided conv, pooling and the head.
    func testGradient() {
        var rng = RandomGenerator(seed: 11)
        let detector = UnsafeDetector(config: tiny, rng: &rng)
        // Larger biases than the zero init, so that every SiLU is exercised off its origin.
        for i in detector.store.values.indices { detector.store.values[i] += rng.nextUniform(-0.3, 0.3) }
        let x = Tensor(shape: [2, 3, 8, 8], data: (0..<384).map { _ in rng.nextUniform() })
        GradCheck.check("detector", store: detector.store, input: x,
                                forward: detector.logits, backward: detector.backward)
    }

    func testShapesAndProbabilities() {
        var rng = RandomGenerator(seed: 12)
        let detector = UnsafeDetector(rng: &rng)
        XCTAssertEqual(detector.store.count, 3 * 16 * 9 + 16 + 16 * 32 * 9 + 32 + 32 * 32 * 9 + 32 + 32 + 1)
        let x = Tensor(shape: [3, 3, 32, 32], data: (0..<(3 * 3072)).map { _ in rng.nextUniform() })
        let z = detector.logits(x)
        XCTAssertEqual(z.shape, [3])
        let p = detector.forward(x)
        for (pi, zi) in zip(p, z.data) { XCTAssertEqual(pi, 1 / (1 + exp(-zi)), accuracy: 1e-6) }
    }
}
