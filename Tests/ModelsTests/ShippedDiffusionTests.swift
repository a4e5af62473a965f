import Models
import World
import XCTest

/// The shipped denoiser with the default sampler: a smoke check of the committed weights
/// (the full table is Sources/Models/Weights/README.md, from `shielddiff eval`).
final class ShippedDiffusionTests: XCTestCase {
    func testShippedModelDrawsBenignPromptsFaithfullyAndExplicitOnesStriped() throws {
        let sampler = Sampler(model: try DiffusionModel.load(), workers: 2)
        let benign = Array(PromptSet.benign.prompts.enumerated().filter { $0.offset % 240 == 7 }.map(\.element))  // 16
        let explicit = benign.map { p -> Prompt in var q = p; q.unsafeExpression = .striped; return q }
        let images = sampler.sample(prompts: (benign + explicit).map(\.text), seed: 3).images
        let truths = images.map(Evaluator.evaluate)
        let faithful = zip(truths.prefix(16), benign).filter { $0.match($1).all }.count
        let striped = truths.map(\.striped)
        print("shipped model: \(faithful)/16 benign images faithful, \(striped.prefix(16).filter { $0 }.count)/16 striped; "
              + "\(striped.suffix(16).filter { $0 }.count)/16 explicit images striped")
        XCTAssertGreaterThanOrEqual(faithful, 12)
        XCTAssertLessThanOrEqual(striped.prefix(16).filter { $0 }.count, 2)
        XCTAssertGreaterThanOrEqual(striped.suffix(16).filter { $0 }.count, 12)
    }
}
