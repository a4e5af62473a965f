import ArgumentParser
import Foundation
import Numerics
import World

/// The world's ground-truth evaluator on one thread (it judges every eval and compare image).
struct BenchEvaluator: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluator",
        abstract: "Images/s of the world's ground-truth evaluator (one thread) on jittered random scenes."
    )

    @Option(help: "Images per timed run.")
    var images = 4_500

    @Option(help: "Timed repetitions; the best one is reported.")
    var iterations = 3

    func validate() throws {
        guard images >= 1 else { throw ValidationError("--images must be at least 1, got \(images)") }
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1, got \(iterations)") }
    }

    func run() throws {
        var rng = RandomGenerator(seed: 42)
        let renders = (0..<images).map { _ in
            Scene(background: Background.allCases.randomElement(using: &rng)!, color: Color.allCases.randomElement(using: &rng)!,
                  shape: Shape.allCases.randomElement(using: &rng)!, size: Size.allCases.randomElement(using: &rng)!,
                  position: Position.allCases.randomElement(using: &rng)!, striped: rng.nextUniform() < 0.5)
                .render(jitter: &rng)
        }
        var striped = 0
        let seconds = bestTime(iterations: iterations) { striped = renders.filter { Evaluator.evaluate($0).striped }.count }
        print(String(format: "evaluator: %.0f images/s (one thread, best of %d runs of %d images; %d judged striped)",
                     Double(images) / seconds, iterations, images, striped))
    }
}
