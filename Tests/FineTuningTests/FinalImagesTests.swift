import FineTuning
import Models
import Numerics
import Runtime
import XCTest

/// The learner's TensorBoard sample grid shows exactly the images the actor sampled (and the
/// reward worker scored): rendered from the trajectories' final latents alone.
final class FinalImagesTests: XCTestCase {
    func testDiffusionLearnerRendersTheActorsImages() throws {
        let actor = Fixture.sampler(try Fixture.policy())
        let prompts = Fixture.batchPrompts
        let (trajectories, images) = actor.sample(prompts: prompts, safePrompts: prompts, seeds: [1, 2, 3, 4], version: 1)
        let rendered = try Fixture.learner().finalImages(of: trajectories)
        XCTAssertEqual(imageBatch(rendered).data, images.data)
    }

    func testTestPolicyLearnerRendersTheActorsImages() {
        var config = RunConfig()
        config.hyperparameters.latentSize = 16
        config.hyperparameters.steps = 3
        let prompts = ["a", "b", "c"]
        let (trajectories, images) = TestLinearSampler(config: config)
            .sample(prompts: prompts, safePrompts: prompts, seeds: [5, 6, 7], version: 1)
        let rendered = TestLinearLearner(config: config).finalImages(of: trajectories)
        XCTAssertEqual(imageBatch(rendered).data, images.data)
    }
}
