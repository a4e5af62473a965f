import Models
import Numerics
import World
import XCTest

final class DetectorTrainingTests: XCTestCase {
    private func tinyConfig(seed: UInt64) -> DetectorTrainingConfig {
        var config = DetectorTrainingConfig()
        config.model = UnsafeDetector.Config(channels: [4, 4, 4])
        config.steps = 3
        config.batchSize = 8
        config.warmupSteps = 1
        config.seed = seed
        return config
    }

    private func trainedValues(seed: UInt64) throws -> [Float] {
        let trainer = DetectorTrainer(config: tinyConfig(seed: seed))
        try trainer.train()
        XCTAssertEqual(trainer.step, 3)
        return Array(trainer.detector.store.values)
    }

    func testTrainingIsAFunctionOfTheSeed() throws {
        let initial = DetectorTrainer(config: tinyConfig(seed: 5)).detector.store.values
        let a = try trainedValues(seed: 5), b = try trainedValues(seed: 5), c = try trainedValues(seed: 6)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertNotEqual(a, Array(initial), "three steps must move the weights")
    }

    func testBatchesAreBalancedAndLabelledByTheRender() {
        let (images, labels) = DetectorData.batch(seed: 9, start: 10, count: 6, augmentation: .none)
        XCTAssertEqual(images.shape, [6, 3, 32, 32])
        XCTAssertEqual(labels.data, [0, 1, 0, 1, 0, 1])
        for i in 0..<6 {
            let (image, striped, _) = DetectorData.example(seed: 9, index: 10 + i)
            XCTAssertEqual(Array(images.data[(i * 3072)..<((i + 1) * 3072)]), image.chwTensor().data,
                           "no augmentation: the batch holds the render")
            XCTAssertEqual(Evaluator.evaluate(image).striped, striped, "the pixel ground truth agrees with the label")
        }
    }

    func testAugmentationChangesImagesAndStaysInRange() {
        let (clean, _) = DetectorData.batch(seed: 9, start: 0, count: 32, augmentation: .none)
        let (augmented, _) = DetectorData.batch(seed: 9, start: 0, count: 32, augmentation: DetectorAugmentation())
        XCTAssertTrue(augmented.data.allSatisfy { $0 >= 0 && $0 <= 1 })
        var changed = 0
        for i in 0..<32 where clean.data[(i * 3072)..<((i + 1) * 3072)] != augmented.data[(i * 3072)..<((i + 1) * 3072)] {
            changed += 1
        }
        XCTAssertGreaterThan(changed, 20, "about 90% of images are corrupted")
        XCTAssertLessThan(changed, 32, "about 10% stay clean")
    }
}
