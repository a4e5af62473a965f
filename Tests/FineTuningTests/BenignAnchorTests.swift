import FineTuning
import Foundation
import Models
import Numerics
import Runtime
import World
import XCTest

final class BenignAnchorTests: XCTestCase {
    /// Moves every denoiser weight a little, as training would, so the model differs from the
    /// anchor's teacher (the model as it was when the anchor was made).
    private func drift(_ model: DiffusionModel) {
        let values = model.unet.store.values
        for i in values.indices { values[i] *= 1 + 0.02 * Float(sin(Double(i))) }
    }

    /// The target is the model as it was when the anchor was made: before any drift the loss
    /// and every gradient are exactly 0; after it, neither is.
    func testTheTargetIsTheModelAsItWasWhenTheAnchorWasMade() throws {
        let model = try DiffusionModel.load()
        let anchor = BenignAnchor(model: model, weight: 1, batchSize: 3, seed: 5)
        model.unet.store.zeroGrads()
        XCTAssertEqual(anchor.accumulateGradients(), 0)
        XCTAssertFalse(model.unet.store.grads.contains { $0 != 0 })
        drift(model)
        XCTAssertGreaterThan(anchor.accumulateGradients(), 0)
        XCTAssertTrue(model.unet.store.grads.contains { $0 != 0 })
    }

    /// γ scales the anchor's gradient exactly (its backward is linear in dL/dv̂, and ×2 is
    /// exact in Float32), and the loss it returns is the unweighted one.
    func testTheWeightScalesTheGradientAndNotTheLoss() throws {
        func gradients(weight: Float) throws -> (grads: [Float], loss: Double) {
            let model = try DiffusionModel.load()
            let anchor = BenignAnchor(model: model, weight: weight, batchSize: 3, seed: 5)
            drift(model)
            model.unet.store.zeroGrads()
            let loss = anchor.accumulateGradients()
            return (Array(model.unet.store.grads), loss)
        }
        let one = try gradients(weight: 1), two = try gradients(weight: 2)
        XCTAssertEqual(one.loss, two.loss)
        XCTAssertGreaterThan(one.loss, 0)
        XCTAssertTrue(one.grads.contains { $0 != 0 })
        XCTAssertEqual(two.grads, one.grads.map { 2 * $0 })
    }

    /// The stream is a function of (seed, position): the same position gives the same batch,
    /// the next position another one, and only unstriped pairs are drawn.
    func testTheStreamIsDeterministicAndSkipsStripedPairs() throws {
        let model = try DiffusionModel.load()
        let a = BenignAnchor(model: model, weight: 1, batchSize: 4, seed: 9)
        drift(model)
        let first = a.accumulateGradients()
        let after = a.position
        XCTAssertEqual(after.batches, 1)
        let striped = (0..<after.pair).filter { DataDistribution.pair(seed: a.streamSeed, index: $0).scene.striped }.count
        XCTAssertEqual(after.pair - striped, 4, "exactly the batch's unstriped pairs were taken")
        let second = a.accumulateGradients()
        XCTAssertNotEqual(first, second)

        let same = try DiffusionModel.load()
        let b = BenignAnchor(model: same, weight: 1, batchSize: 4, seed: 9)
        drift(same)
        b.position = after
        XCTAssertEqual(b.accumulateGradients(), second, "resuming at a position redraws the same batch")
    }

    /// The learner's checkpoint carries the anchor's position; a run with an anchor refuses a
    /// checkpoint without it instead of silently restarting the stream.
    func testTheLearnerCheckpointCarriesTheAnchorPosition() throws {
        let batch = try Fixture.rewardedBatch()
        let trained = try DiffusionPolicyLearner(policy: Fixture.policy(), ddpo: Fixture.ddpo(), seed: 7,
                                                 anchor: (weight: 0.2, batch: 2))
        let metrics = try trained.update(batch)
        XCTAssertNotNil(metrics["anchor_loss"])
        let state = trained.checkpointState()
        let resumed = try DiffusionPolicyLearner(policy: Fixture.policy(), ddpo: Fixture.ddpo(), seed: 7,
                                                 anchor: (weight: 0.2, batch: 2))
        try resumed.restore(tensors: state.tensors, metadata: state.metadata)
        XCTAssertEqual(resumed.anchor?.position.pair, trained.anchor?.position.pair)
        XCTAssertEqual(resumed.anchor?.position.batches, trained.anchor?.position.batches)
        let next = Fixture.rewarded(batch, [0.5, 0.1, -0.4, 0.9])
        XCTAssertEqual(try trained.update(next), try resumed.update(next))

        var without = state
        without.metadata["anchor.position"] = nil
        XCTAssertThrowsError(try resumed.restore(tensors: without.tensors, metadata: without.metadata)) { error in
            XCTAssertTrue("\(error)".contains("anchor.position"), "\(error)")
        }
    }
}
