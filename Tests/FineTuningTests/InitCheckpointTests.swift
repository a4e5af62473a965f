import FineTuning
import Foundation
import Models
import Numerics
import Runtime
import XCTest

/// `init_checkpoint`: the policy starts from a fine-tuned denoiser while the benign anchor
/// keeps pulling toward the shipped base model; a checkpoint it cannot start from is refused
/// by path and reason.
final class InitCheckpointTests: XCTestCase {
    private func config(_ path: String) throws -> RunConfig {
        var config = RunConfig()
        try config.apply(override: "init_checkpoint=\(path)")
        return try config.validated()
    }

    func testPolicyStartsFromTheCheckpointAndTheAnchorFromTheBaseModel() throws {
        // A fine-tuning run's learner checkpoint (LoRA, one update): merged, it is the start.
        let tuned = try Fixture.learner()
        _ = try tuned.update(try Fixture.rewardedBatch())
        let state = tuned.checkpointState()
        let url = try CheckpointFolder(directory: try temporaryFolder(self, "init")).save(
            LearnerCheckpoint(version: 2, runID: "init-test", trajectoriesTrained: 4, tensors: state.tensors,
                              metadata: state.metadata), keep: 1)
        let merged = try FineTunedModel.load(from: url).unet.store
        let expected = Dictionary(uniqueKeysWithValues: merged.parameters.map { ($0.name, merged.tensor($0)) })

        let started = try DiffusionPolicyLearner(config: config(url.path))
        let plain = try DiffusionPolicyLearner(config: RunConfig())
        XCTAssertEqual(started.trainable, expected)
        let moved = maxAbsDifference(plain.trainable, expected)
        print("init checkpoint vs shipped denoiser: max |Δθ| \(moved)")
        XCTAssertGreaterThan(moved, 1e-4, "the update did not move the denoiser, so the check means little")
        // The anchor's target is the shipped model: 0 for a policy that is the shipped model,
        // > 0 for one that starts elsewhere (it would be 0 if the anchor had copied the start).
        let plainAnchor = try XCTUnwrap(plain.anchor).accumulateGradients()
        let startedAnchor = try XCTUnwrap(started.anchor).accumulateGradients()
        print("anchor loss at the start: shipped \(plainAnchor), init checkpoint \(startedAnchor)")
        XCTAssertLessThanOrEqual(plainAnchor, 1e-12)
        XCTAssertGreaterThan(startedAnchor, 1e-10)
    }

    func testMissingGarbageAndForeignCheckpointsAreRefusedByPathAndReason() throws {
        let folder = try temporaryFolder(self, "init-bad")
        let missing = folder.appendingPathComponent("none.safetensors").path
        XCTAssertThrowsError(try DiffusionPolicyLearner(config: config(missing))) {
            XCTAssertEqual("\($0)", "init_checkpoint \(missing): no such file")
        }
        let garbage = folder.appendingPathComponent("garbage.safetensors")
        try Data("not a checkpoint".utf8).write(to: garbage)
        XCTAssertThrowsError(try DiffusionPolicyLearner(config: config(garbage.path))) {
            XCTAssertTrue("\($0)".hasPrefix("init_checkpoint \(garbage.path): cannot load"), "\($0)")
        }
        // Another text tower: the actors would encode prompts differently from what it learned.
        let foreign = try DiffusionModel.load()
        let p = foreign.textStore.parameters[0]
        var t = foreign.textStore.tensor(p)
        t.data[0] += 0.5
        foreign.textStore.set(p, t)
        let foreignURL = folder.appendingPathComponent("foreign.safetensors")
        try foreign.save(to: foreignURL)
        XCTAssertThrowsError(try DiffusionPolicyLearner(config: config(foreignURL.path))) {
            XCTAssertEqual("\($0)", "init_checkpoint \(foreignURL.path): its text tower differs from the shipped model's at '\(p.name)' "
                + "(actors and the learner encode prompts with the shipped one)")
        }
    }
}
