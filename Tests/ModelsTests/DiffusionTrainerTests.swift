import Foundation
import Models
import Numerics
import World
import XCTest

final class DiffusionTrainerTests: XCTestCase {
    private func tinyConfig(workers: Int) -> DiffusionTrainingConfig {
        var config = DiffusionTrainingConfig()
        (config.steps, config.batchSize, config.warmupSteps, config.workers) = (3, 6, 1, workers)
        config.model = TinyDiffusion.unetConfig
        return config
    }

    private func tinyCLIP() -> MiniCLIP {
        var rng = RandomGenerator(seed: 2)
        return MiniCLIP(config: .init(text: .init(vocabulary: Tokenizer().vocabularySize, tokens: TextEncoder.tokens, width: 8,
                                                  heads: 2, layers: 1, mlpWidth: 16),
                                      image: .init(side: Image.side, channels: [4, 4, 4, 4], width: 8), embedding: 8),
                        rng: &rng)
    }

    /// The same config gives the same weights, step for step; the text tower never moves.
    func testTrainingIsReproducibleAndLeavesTheTextFrozen() throws {
        let clip = tinyCLIP()
        let a = DiffusionTrainer(config: tinyConfig(workers: 2), clip: clip)
        let b = DiffusionTrainer(config: tinyConfig(workers: 2), clip: clip)
        let text = Array(a.model.textStore.values)
        let initial = Array(a.model.unet.store.values)
        var losses: [Float] = []
        try a.train { losses.append($0.loss) }
        try b.train()
        XCTAssertEqual(losses.count, 3)
        XCTAssertTrue(losses.allSatisfy { $0.isFinite && $0 > 0 }, "\(losses)")
        XCTAssertEqual(Array(a.model.unet.store.values), Array(b.model.unet.store.values))
        XCTAssertNotEqual(Array(a.model.unet.store.values), initial)
        XCTAssertEqual(Array(a.model.textStore.values), text)
    }

    /// A batch split between two workers has the gradient of the whole batch on one.
    func testTwoWorkersMatchOneWorkerClosely() throws {
        let clip = tinyCLIP()
        var one = tinyConfig(workers: 1), two = tinyConfig(workers: 2)
        one.steps = 1
        two.steps = 1
        let a = DiffusionTrainer(config: one, clip: clip), b = DiffusionTrainer(config: two, clip: clip)
        let sa = try a.trainStep(), sb = try b.trainStep()
        XCTAssertEqual(sa.loss, sb.loss, accuracy: 1e-5 * max(1, sa.loss))
        XCTAssertEqual(sa.gradNorm, sb.gradNorm, accuracy: 1e-4 * max(1, sa.gradNorm))
    }

    /// The saved file holds the EMA weights and loads as a sampler-ready model.
    func testSavedCheckpointLoads() throws {
        let trainer = DiffusionTrainer(config: tinyConfig(workers: 1), clip: tinyCLIP())
        try trainer.train()
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("trainer-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try trainer.save(to: url)
        let model = try DiffusionModel.load(from: url)
        XCTAssertEqual(model.unet.config, TinyDiffusion.unetConfig)
        XCTAssertNotEqual(Array(model.unet.store.values), Array(trainer.model.unet.store.values), "EMA, not the raw weights")
        let images = Sampler(model: model, config: SamplerConfig(steps: 2, guidance: 3, eta: 1))
            .sample(prompts: [TinyDiffusion.prompts[0]], seed: 0).images
        XCTAssertEqual(images.count, 1)
    }
}
