import Models
import Numerics
import XCTest

final class ImageEncoderTests: XCTestCase {
    private let tiny = ImageEncoder.Config(side: 8, channels: [2, 3, 3], width: 5)

    func testGradientsMatchFiniteDifferences() {
        let store = ParameterStore()
        var rng = RandomGenerator(seed: 21)
        let encoder = ImageEncoder(store, config: tiny, rng: &rng)
        let x = Tensor(shape: [2, 3, 8, 8], data: (0..<(2 * 3 * 64)).map { _ in rng.nextUniform() })
        let g = Tensor(randomNormal: [2, 5], rng: &rng)
        var dx = Tensor(zeros: [0])
        GradCheck.checkParameters("ImageEncoder parameters", store: store, lossAndBackward: {
            XCTAssertEqual(encoder.forward(x).shape, [2, 5])
            dx = encoder.backward(g)
        }, loss: { GradCheck.dot(encoder.forward(x), g) })
        GradCheck.checkInput("ImageEncoder input", input: x, analytic: dx) { GradCheck.dot(encoder.forward($0), g) }
    }
}
