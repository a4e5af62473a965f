import FineTuning
import Foundation
import Models
import Numerics
import Runtime
import XCTest

/// `sample`/`eval --checkpoint`: a learner checkpoint becomes one denoiser with the adapters
/// merged; diffusion checkpoints still load; anything else is refused by path.
final class FineTunedModelTests: XCTestCase {
    func testLearnerCheckpointMergesIntoTheFineTunedDenoiser() throws {
        let folder = try temporaryFolder(self, "merge")
        let learner = try Fixture.learner()
        _ = try learner.update(try Fixture.rewardedBatch())
        let state = learner.checkpointState()
        let url = try CheckpointFolder(directory: folder).save(
            LearnerCheckpoint(version: 2, runID: "merge-test", trajectoriesTrained: 4, tensors: state.tensors,
                              metadata: state.metadata), keep: 1)

        let merged = try FineTunedModel.load(from: url)
        let base = try DiffusionModel.load()
        var rng = RandomGenerator(seed: 9)
        let x = Tensor(randomNormal: [2] + DiffusionPolicy.latentShape, rng: &rng)  // x: (2, 12, 16, 16)
        let c = learner.policy.conditioning(Fixture.prompts)
        func eps(_ model: DiffusionModel) -> Tensor {
            model.unet.forward(x, timesteps: [700, 100], context: c.tokens, mask: c.mask, pooled: c.pooled)
        }
        let policyEps = learner.policy.predictNoise(x, timesteps: [700, 100], conditioning: c)  // adapters unmerged
        let mergedError = maxAbsDifference(eps(merged), policyEps), tuning = maxAbsDifference(eps(base), policyEps)
        print("merged vs LoRA policy ε: \(mergedError); base vs LoRA policy ε: \(tuning)")
        XCTAssertLessThan(mergedError, 1e-4)
        XCTAssertGreaterThan(tuning, 10 * mergedError, "the update did not change ε measurably, so the check means little")
        // Merged means the base weights alone carry the update: saved and reloaded without any
        // adapter, the denoiser is still the fine-tuned one.
        let saved = folder.appendingPathComponent("merged.safetensors")
        try merged.save(to: saved)
        let reloadedError = maxAbsDifference(eps(try DiffusionModel.load(from: saved)), policyEps)
        print("merged, saved and reloaded vs LoRA policy ε: \(reloadedError)")
        XCTAssertLessThan(reloadedError, 1e-4)
        // The text tower comes from the checkpoint too.
        XCTAssertEqual(merged.encode(Fixture.prompts).pooled, base.encode(Fixture.prompts).pooled)
    }

    func testDiffusionCheckpointStillLoads() throws {
        let url = try temporaryFolder(self, "plain").appendingPathComponent("diffusion.safetensors")
        let base = try DiffusionModel.load()
        try base.save(to: url)
        let loaded = try FineTunedModel.load(from: url)
        XCTAssertEqual(Array(loaded.unet.store.values), Array(base.unet.store.values))
        XCTAssertEqual(Array(loaded.textStore.values), Array(base.textStore.values))
    }

    func testGarbageFileErrorNamesThePath() throws {
        let url = try temporaryFolder(self, "garbage").appendingPathComponent("not-a-checkpoint.safetensors")
        try Data("this is not a safetensors file".utf8).write(to: url)
        XCTAssertThrowsError(try FineTunedModel.load(from: url)) { error in
            XCTAssertTrue("\(error)".contains(url.path), "\(error)")
        }
    }

    func testLearnerCheckpointOfAnotherModelIsRefused() throws {
        // A learner checkpoint without the diffusion learner's metadata (e.g. of test-linear).
        let folder = try temporaryFolder(self, "other")
        let url = try CheckpointFolder(directory: folder).save(
            LearnerCheckpoint(version: 3, runID: "other", trajectoriesTrained: 8, tensors: ["w": Tensor(zeros: [4])],
                              metadata: [:]), keep: 1)
        XCTAssertThrowsError(try FineTunedModel.load(from: url)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(url.path) && text.contains("lora_rank"), text)
        }
    }
}
