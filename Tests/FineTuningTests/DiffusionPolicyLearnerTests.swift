import FineTuning
import Models
import Numerics
import Runtime
import Wire
import XCTest

/// The actor's sampler and the learner together: they score the same trajectories the same
/// way, an update moves the adapters, and the learner's checkpoint resumes it exactly.
final class DiffusionPolicyLearnerTests: XCTestCase {
    func testLearnerScoresSampledTrajectoriesAsTheActorDid() throws {
        let batch = try Fixture.rewardedBatch()
        XCTAssertEqual(batch.map(\.timesteps.count), [2, 2, 2, 2])
        let learner = try Fixture.learner()
        XCTAssertNil(batch.compactMap(learner.trajectorySpec.incompatibility).first)
        // The first update's ratios are computed before its single optimizer step, with the
        // weights the actor sampled with: π_θ / π_old = 1 if both compute the same log-probs.
        let metrics = try learner.update(batch)
        print("on-policy update: \(metrics.sorted { $0.key < $1.key })")
        let ratio = try XCTUnwrap(metrics["ratio_mean"]), kl = try XCTUnwrap(metrics["approx_kl"])
        XCTAssertEqual(ratio, 1, accuracy: 1e-4)
        XCTAssertEqual(kl, 0, accuracy: 1e-7)
        XCTAssertEqual(metrics["pairs"], 8)
        XCTAssertGreaterThan(try XCTUnwrap(metrics["advantage_abs_mean"]), 0.1)
        XCTAssertGreaterThan(try XCTUnwrap(metrics["grad_norm"]), 0)
    }

    /// Adversarial DDPO's encoding push: a share of the trajectories (by seed) is sampled with
    /// encoding + η·concept vector and says so; the learner scores them with the same push
    /// (ratio 1 on-policy), and a learner that ignored it would not.
    func testPushedTrajectoriesAreScoredWithThePushTheActorUsed() throws {
        let seeds: [UInt64] = Array(1...8)
        let prompts = Fixture.batchPrompts + Fixture.batchPrompts
        let pushing = DiffusionPolicySampler(policy: try Fixture.policy(), steps: Fixture.steps, guidance: Fixture.guidance,
                                             eta: Fixture.eta, embeddingShare: 0.5, conceptEta: 3)
        let pushed = pushing.sample(prompts: prompts, safePrompts: prompts, seeds: seeds, version: 1).trajectories
        let plain = Fixture.sampler(try Fixture.policy()).sample(prompts: prompts, safePrompts: prompts, seeds: seeds, version: 1).trajectories
        print("concept etas by seed: \(pushed.map(\.conceptEta))")
        XCTAssertTrue(pushed.allSatisfy { $0.conceptEta == 0 || $0.conceptEta == 3 })
        XCTAssertEqual(plain.map(\.conceptEta), Array(repeating: 0, count: 8))
        let count = pushed.filter { $0.conceptEta == 3 }.count
        XCTAssertTrue((2...6).contains(count), "\(count) of 8 pushed at share 0.5")
        for (a, b) in zip(pushed, plain) {
            // Same seed, same initial noise; only the pushed ones then denoise differently.
            XCTAssertEqual(a.latents.data.prefix(a.latents.shape[1]), b.latents.data.prefix(b.latents.shape[1]))
            if a.conceptEta == 0 { XCTAssertEqual(a.latents, b.latents) } else { XCTAssertGreaterThan(maxAbsDifference(a.latents, b.latents), 1e-3) }
        }
        let rewards: [Float] = [0.3, -0.1, 0.8, 0.2, 0.5, -0.4, 0.1, 0.6]
        let batch = Fixture.rewarded(pushed, rewards)
        let learner = try Fixture.learner()
        let metrics = try learner.update(batch)
        XCTAssertEqual(try XCTUnwrap(metrics["ratio_mean"]), 1, accuracy: 1e-4)
        XCTAssertEqual(try XCTUnwrap(metrics["approx_kl"]), 0, accuracy: 1e-7)
        XCTAssertEqual(metrics["pushed_share"], Double(count) / 8)
        XCTAssertEqual(metrics["pushed_eta_mean"], 3)
        // Pushed trajectories keep reward statistics of their own (PromptStatTracker group 1).
        let stats = try XCTUnwrap(learner.checkpointState().metadata["per_prompt_stats"])
        XCTAssertTrue(stats.contains("[group 1] \(prompts[0])"), stats)
        XCTAssertTrue(stats.contains("\"\(prompts[0])\""), stats)
        let ignored = try Fixture.learner().update(batch.map { t in var t = t; t.conceptEta = 0; return t })
        print("kl with the push ignored: \(ignored["approx_kl"] ?? .nan)")
        XCTAssertGreaterThan(try XCTUnwrap(ignored["approx_kl"]), 1e-4)
    }

    /// `adversarial.eta_draw: uniform`: each pushed trajectory's η is its own, in (0, η], the
    /// same for the same seed; the learner still scores each with its own push.
    func testUniformEtaDrawsEachPushInItsRange() throws {
        let seeds: [UInt64] = Array(1...8)
        let prompts = Fixture.batchPrompts + Fixture.batchPrompts
        func sampled() throws -> [Wire.Trajectory] {
            DiffusionPolicySampler(policy: try Fixture.policy(), steps: Fixture.steps, guidance: Fixture.guidance, eta: Fixture.eta,
                                   embeddingShare: 1, conceptEta: 3, uniformEta: true)
                .sample(prompts: prompts, safePrompts: prompts, seeds: seeds, version: 1).trajectories
        }
        let pushed = try sampled()
        let etas = pushed.map(\.conceptEta)
        print("uniform concept etas by seed: \(etas)")
        XCTAssertTrue(etas.allSatisfy { $0 > 0 && $0 <= 3 }, "\(etas)")
        XCTAssertEqual(Set(etas).count, 8, "every trajectory draws its own η")
        XCTAssertLessThan(etas.min()!, 1.5)
        XCTAssertGreaterThan(etas.max()!, 1.5)
        XCTAssertEqual(try sampled().map(\.conceptEta), etas, "η is a function of the seed")
        let metrics = try Fixture.learner().update(Fixture.rewarded(pushed, [0.3, -0.1, 0.8, 0.2, 0.5, -0.4, 0.1, 0.6]))
        XCTAssertEqual(try XCTUnwrap(metrics["approx_kl"]), 0, accuracy: 1e-7)
    }

    func testUpdateWithTheContentSafeRewardMovesTheAdaptersAndTheSampler() throws {
        let actor = Fixture.sampler(try Fixture.policy())
        let scorer = ContentSafeScorer(clip: try MiniCLIP.load(), detector: try UnsafeDetector.load(), wAlign: 1, wUnsafe: 1)
        let base = Fixture.sample(actor)
        let scores = scorer.score(images: base.images, safePrompts: Fixture.batchPrompts)
        let batch = Fixture.rewarded(base.trajectories, scores.map(\.reward))
        print("rewards: \(scores.map(\.reward))")
        XCTAssertGreaterThan(Set(scores.map(\.reward)).count, 1, "identical rewards give no advantage")

        let learner = try Fixture.learner()
        let before = learner.trainable
        let metrics = try learner.update(batch)
        let after = learner.trainable
        let moved = maxAbsDifference(before, after)
        print("update: \(metrics.sorted { $0.key < $1.key }); largest adapter change \(moved)")
        XCTAssertTrue(metrics.values.allSatisfy(\.isFinite), "\(metrics)")
        XCTAssertGreaterThan(moved, 1e-4)
        XCTAssertTrue(after.filter { $0.key.hasSuffix("lora_B.weight") }.values.contains { $0.data.contains { $0 != 0 } })

        // The actor installs the broadcast weights and then draws different samples from the same seeds…
        try actor.load(trainable: after, version: 2)
        let tuned = Fixture.sample(actor)
        let latentChange = zip(base.trajectories, tuned.trajectories).map { maxAbsDifference($0.latents, $1.latents) }.max()!
        print("largest latent change after the update: \(latentChange)")
        XCTAssertGreaterThan(latentChange, 1e-4)
        XCTAssertEqual(tuned.trajectories.map(\.policyVersion), [1, 1, 1, 1])  // tagged with the version asked for
        // …and, given the base weights back, exactly the base samples again.
        try actor.load(trainable: before, version: 3)
        XCTAssertEqual(Fixture.sample(actor).trajectories.map(\.latents), base.trajectories.map(\.latents))
    }

    func testUpdateRaisesTheLikelihoodOfAboveAverageTrajectories() throws {
        // Two trajectories above the batch mean, two below.
        let batch = try Fixture.rewardedBatch([0.9, -0.5, 0.7, -0.7])
        // A small step, so the first-order effect (the policy gradient) dominates: a large one
        // lowers every ratio (measured: all ≈ 0.8 at lr 3e-3, ≈ 0.97 at 1e-4).
        let learner = try Fixture.learner(learningRate: 1e-5)
        _ = try learner.update(batch)
        let updated = learner.checkpointState()
        // π_new / π_old of each trajectory alone: the ratio of an update on it, computed before
        // its own step, from the updated state each time.
        let ratios = try batch.map { t in
            try learner.restore(tensors: updated.tensors, metadata: updated.metadata)
            return try XCTUnwrap(try learner.update([t])["ratio_mean"])
        }
        print("per-trajectory ratios after the update: \(ratios)")
        XCTAssertGreaterThan(ratios[0], 1)
        XCTAssertLessThan(ratios[1], 1)
        XCTAssertGreaterThan(ratios[2], 1)
        XCTAssertLessThan(ratios[3], 1)
    }

    func testCheckpointRestoresAFreshLearnerExactly() throws {
        let batch = try Fixture.rewardedBatch()
        let trained = try Fixture.learner(seed: 1)
        _ = try trained.update(batch)
        let state = trained.checkpointState()
        XCTAssertNotNil(state.tensors["adam.m"])
        XCTAssertTrue(state.tensors.keys.contains { $0.hasPrefix("unet.") } && state.tensors.keys.contains { $0.hasPrefix("text.") })
        // Through the file, as a resumed run reads it.
        let folder = CheckpointFolder(directory: try temporaryFolder(self, "resume"))
        try folder.save(LearnerCheckpoint(version: 2, runID: "resume-test", trajectoriesTrained: 4, tensors: state.tensors,
                                          metadata: state.metadata), keep: 1)
        let file = try XCTUnwrap(try folder.latest()).checkpoint

        // A fresh learner whose adapters A were drawn differently: the restore must replace them.
        let resumed = try Fixture.learner(seed: 2)
        XCTAssertGreaterThan(maxAbsDifference(resumed.trainable, trained.trainable), 0)
        try resumed.restore(tensors: file.tensors, metadata: file.metadata)
        XCTAssertEqual(resumed.trainable, trained.trainable)

        // Same optimizer moments, RNG and reward statistics: the next update is the same.
        let next = Fixture.rewarded(batch, [0.5, 0.1, -0.4, 0.9])
        let a = try trained.update(next), b = try resumed.update(next)
        print("next update: \(a.sorted { $0.key < $1.key })")
        XCTAssertEqual(a, b)
        XCTAssertEqual(resumed.trainable, trained.trainable)
    }

    func testRestoreRejectsAnotherRankAndAMissingOptimizerState() throws {
        let state = try Fixture.learner(rank: 4).checkpointState()
        let other = try Fixture.learner(rank: 2)
        let before = other.trainable
        XCTAssertThrowsError(try other.restore(tensors: state.tensors, metadata: state.metadata)) { error in
            XCTAssertTrue("\(error)".contains("LoRA rank 4"), "\(error)")
        }
        var withoutMoments = try Fixture.learner(rank: 2).checkpointState()
        withoutMoments.tensors["adam.m"] = nil
        XCTAssertThrowsError(try other.restore(tensors: withoutMoments.tensors, metadata: withoutMoments.metadata)) { error in
            XCTAssertTrue("\(error)".contains("adam.m"), "\(error)")
        }
        XCTAssertEqual(other.trainable, before, "a rejected restore changed weights")
    }
}
