import FineTuning
import Foundation
import Models
import Numerics
import XCTest

final class LearnerThreadsTests: XCTestCase {
    /// The shipped denoiser trained whole (rank 0) and as LoRA: an optimizer step split between
    /// two threads computes the loss terms and the gradient of one thread, up to Float32
    /// reduction order. One step only: AdamW's first step is lr·sign(g), so an entry whose
    /// gradient is at the rounding noise steps ±lr either way, and later steps start apart.
    func testTwoThreadsComputeTheGradientsOfOne() throws {
        let batch = try Fixture.rewardedBatch()
        for rank in [0, 4] {
            var config = Fixture.ddpo(learningRate: 1e-4)
            config.trajectoriesPerStep = batch.count
            let one = try DiffusionPolicyLearner(policy: Fixture.policy(rank: rank), ddpo: config, seed: 7, threads: 1)
            let two = try DiffusionPolicyLearner(policy: Fixture.policy(rank: rank), ddpo: config, seed: 7, threads: 2)
            let a = try one.update(batch), b = try two.update(batch)
            print("rank \(rank): grad_norm \(a["grad_norm"]!) / \(b["grad_norm"]!), approx_kl \(a["approx_kl"]!) / \(b["approx_kl"]!)")
            XCTAssertEqual(a["pairs"], b["pairs"])
            XCTAssertEqual(a["optimizer_steps"], b["optimizer_steps"])
            XCTAssertEqual(a["clipfrac"], b["clipfrac"])
            XCTAssertGreaterThan(a["grad_norm"]!, 0)
            XCTAssertEqual(a["grad_norm"]!, b["grad_norm"]!, accuracy: 1e-4 * a["grad_norm"]!, "rank \(rank)")
            XCTAssertEqual(a["ratio_mean"]!, b["ratio_mean"]!, accuracy: 1e-6, "rank \(rank)")
        }
    }
}
