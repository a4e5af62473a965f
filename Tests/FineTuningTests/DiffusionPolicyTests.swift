import FineTuning
import Models
import Numerics
import RL
import XCTest

/// The policy before any update: LoRA leaves the model's function unchanged and only the
/// adapters are trainable; loading weights is all-or-nothing.
final class DiffusionPolicyTests: XCTestCase {
    func testFreshAdaptersPredictTheBaseNoise() throws {
        let base = try DiffusionModel.load()
        let policy = try Fixture.policy()
        var rng = RandomGenerator(seed: 5)
        let x = Tensor(randomNormal: [2] + DiffusionPolicy.latentShape, rng: &rng)  // x: (2, 12, 16, 16)
        let c = policy.conditioning(Fixture.prompts)
        let expected = base.unet.forward(x, timesteps: [900, 300], context: c.tokens, mask: c.mask, pooled: c.pooled)
        // B = 0, so every adapter adds exactly zero.
        XCTAssertEqual(policy.predictNoise(x, timesteps: [900, 300], conditioning: c).data, expected.data)
    }

    func testOnlyTheAdaptersAreTrainable() throws {
        let policy = try Fixture.policy(rank: 4)
        let names = policy.trainableTensors.keys.sorted()
        // An A and a B for each linear layer (q, k, v, out of four attention blocks, four
        // residual time projections, three time-embedding layers) and each convolution
        // (conv_in, conv_out, two per residual block, the two channel-changing skips).
        XCTAssertEqual(names.count, (4 * 4 + 4 + 3 + 2 + 4 * 2 + 2) * 2, "\(names)")
        XCTAssertTrue(names.allSatisfy { $0.hasPrefix("lora.") }, "\(names)")
        XCTAssertTrue(names.contains("lora.inner.cross.q.lora_A.weight") && names.contains("lora.mid.res.conv2.lora_B.weight"), "\(names)")
        for (name, t) in policy.trainableTensors where name.hasSuffix("lora_A.weight") {
            XCTAssertEqual(t.shape.first, 4, name)
        }
        for (name, t) in policy.trainableTensors where name.hasSuffix("lora_B.weight") {
            XCTAssertTrue(t.data.allSatisfy { $0 == 0 }, "\(name) starts nonzero")
        }
        // Rank 0 trains the whole denoiser instead.
        let full = try Fixture.policy(rank: 0)
        XCTAssertEqual(Set(full.trainableTensors.keys), Set(full.model.unet.store.parameters.map(\.name)))
    }

    func testLoadRejectsMissingExtraAndMisshapenTensorsAndChangesNothing() throws {
        let policy = try Fixture.policy()
        let original = policy.trainableTensors
        // Every valid entry is changed, so a partial load would show.
        let changed = original.mapValues { Tensor(repeating: 0.5, shape: $0.shape) }
        let victim = "lora.up.cross.v.lora_B.weight"
        XCTAssertNotNil(changed[victim])

        var missing = changed
        missing[victim] = nil
        assertRejected(policy, missing, mentions: ["missing", victim])

        var extra = changed
        extra["lora.nowhere.lora_A.weight"] = Tensor(zeros: [4, 4])
        assertRejected(policy, extra, mentions: ["unexpected", "lora.nowhere.lora_A.weight"])

        var misshapen = changed
        let shape = changed[victim]!.shape
        misshapen[victim] = Tensor(zeros: [shape[0] + 1, shape[1]])
        assertRejected(policy, misshapen, mentions: [victim, "\([shape[0] + 1, shape[1]])"])
        XCTAssertEqual(policy.trainableTensors, original)

        // The complete set loads.
        try policy.load(trainable: changed)
        XCTAssertEqual(policy.trainableTensors, changed)
    }

    private func assertRejected(_ policy: DiffusionPolicy, _ tensors: [String: Tensor], mentions words: [String],
                                line: UInt = #line) {
        let before = policy.trainableTensors
        XCTAssertThrowsError(try policy.load(trainable: tensors), line: line) { error in
            let text = "\(error)"
            for word in words { XCTAssertTrue(text.contains(word), "'\(text)' does not name \(word)", line: line) }
        }
        XCTAssertEqual(policy.trainableTensors, before, "a rejected load changed weights", line: line)
    }
}
