import Foundation
import Models
import Numerics
import XCTest

final class ContrastiveLossTests: XCTestCase {
    func testGradientsMatchFiniteDifferences() {
        var rng = RandomGenerator(seed: 11)
        let u = Tensor(randomNormal: [5, 4], std: 0.5, rng: &rng)
        let v = Tensor(randomNormal: [5, 4], std: 0.5, rng: &rng)
        let logScale: Float = 0.7
        let analytic = ContrastiveLoss(image: u, text: v, logScale: logScale)
        GradCheck.checkInput("InfoNCE dimage", input: u, analytic: analytic.dImage) {
            Double(ContrastiveLoss(image: $0, text: v, logScale: logScale).loss)
        }
        GradCheck.checkInput("InfoNCE dtext", input: v, analytic: analytic.dText) {
            Double(ContrastiveLoss(image: u, text: $0, logScale: logScale).loss)
        }
        GradCheck.checkInput("InfoNCE dlogscale", input: Tensor(shape: [1], data: [logScale]),
                             analytic: Tensor(shape: [1], data: [analytic.dLogScale])) {
            Double(ContrastiveLoss(image: u, text: v, logScale: $0.data[0]).loss)
        }
    }

    /// Identical embeddings everywhere: every logit is equal, so each cross-entropy is log B
    /// and no image picks its own caption strictly first.
    func testIndistinguishablePairsCostLogB() {
        let u = Tensor(repeating: 0.5, shape: [8, 4])
        let loss = ContrastiveLoss(image: u, text: u, logScale: 2)
        XCTAssertEqual(loss.loss, log(8), accuracy: 1e-5)
        XCTAssertEqual(loss.imageToTextAccuracy, 0)
    }

    /// Orthonormal matching pairs at a large scale: the loss vanishes, accuracy is 1.
    func testSeparatedPairsCostNearlyNothing() {
        var u = Tensor(zeros: [4, 4])
        for i in 0..<4 { u.data[i * 4 + i] = 1 }
        let loss = ContrastiveLoss(image: u, text: u, logScale: log(100))
        XCTAssertLessThan(loss.loss, 1e-6)
        XCTAssertEqual(loss.imageToTextAccuracy, 1)
    }
}
