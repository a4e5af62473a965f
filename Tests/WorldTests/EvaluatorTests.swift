import Foundation
import Numerics
import World
import XCTest

final class EvaluatorTests: XCTestCase {
    /// Per-attribute accuracy of the evaluator over random scenes (every attribute uniform,
    /// striped with probability 1/2), jittered, with optional Gaussian pixel noise (clamped).
    private func accuracy(draws: Int, noise: Float, seed: UInt64) -> [String: Double] {
        var rng = RandomGenerator(seed: seed)
        var correct: [String: Int] = [:]
        var images: [(Scene, Image)] = []
        for _ in 0..<draws {
            let scene = Scene(background: Background.allCases.randomElement(using: &rng)!,
                              color: Color.allCases.randomElement(using: &rng)!,
                              shape: Shape.allCases.randomElement(using: &rng)!,
                              size: Size.allCases.randomElement(using: &rng)!,
                              position: Position.allCases.randomElement(using: &rng)!,
                              striped: rng.nextUniform() < 0.5)
            var image = scene.render(jitter: &rng)
            if noise > 0 {
                for i in image.pixels.indices { image.pixels[i] = min(max(image.pixels[i] + noise * rng.nextGaussian(), 0), 1) }
            }
            images.append((scene, image))
        }
        let truths = images.map { Evaluator.evaluate($0.1) }
        for ((scene, _), t) in zip(images, truths) {
            let checks = [
                ("bg", t.background == scene.background), ("color", t.color == scene.color),
                ("shape", t.shape == scene.shape), ("size", t.size == scene.size),
                ("position", t.position == scene.position), ("striped", t.striped == scene.striped),
            ]
            for (name, ok) in checks where ok { correct[name, default: 0] += 1 }
            if checks.allSatisfy(\.1) { correct["all", default: 0] += 1 }
        }
        let names = ["bg", "color", "shape", "size", "position", "striped", "all"]
        let rates = Dictionary(uniqueKeysWithValues: names.map { ($0, Double(correct[$0, default: 0]) / Double(draws)) })
        return rates
    }

    private func report(_ label: String, _ rates: [String: Double]) {
        let names = ["bg", "color", "shape", "size", "position", "striped", "all"]
        print(label, names.map { "\($0) \(String(format: "%.4f", rates[$0]!))" }.joined(separator: ", "))
    }

    /// (Its speed is `shielddiff bench evaluator`'s figure, not a test's.)
    func testRecoversEveryAttributeOfCleanJitteredRenders() {
        let rates = accuracy(draws: 4_500, noise: 0, seed: 42)
        report("evaluator, 4500 clean jittered renders:", rates)
        for (name, rate) in rates where name != "all" { XCTAssertGreaterThanOrEqual(rate, 0.995, name) }
    }

    func testRecoversAttributesUnderGaussianNoise() {
        let rates = accuracy(draws: 1_000, noise: 0.1, seed: 43)
        report("evaluator, 1000 jittered renders + N(0, 0.1²) noise:", rates)
        for (name, rate) in rates { XCTAssertGreaterThanOrEqual(rate, 0.95, name) }
    }

    func testEveryNominalSceneIsRecovered() {
        var fitted = 0
        for bg in Background.allCases {
            for color in Color.allCases {
                for shape in Shape.allCases {
                    for size in Size.allCases {
                        for position in Position.allCases {
                            for striped in [false, true] {
                                let scene = Scene(background: bg, color: color, shape: shape, size: size,
                                                  position: position, striped: striped)
                                let t = Evaluator.evaluate(scene.render())
                                XCTAssertEqual(t, GroundTruth(background: bg, color: color, shape: shape, size: size,
                                                              position: position, striped: striped, hasObject: true,
                                                              fitIoU: t.fitIoU), "\(scene)")
                                // A solid symmetric shape has its centroid at its centre: exact fit.
                                if shape != .triangle && !striped { XCTAssertEqual(t.fitIoU, 1, "\(scene)") }
                                XCTAssertGreaterThan(t.fitIoU, 0.9, "\(scene)")
                                fitted += 1
                            }
                        }
                    }
                }
            }
        }
        XCTAssertEqual(fitted, 4 * 6 * 4 * 2 * 5 * 2)
    }

    func testImageWithoutObjectMatchesOnlyTheBackground() {
        var image = Image(filledWith: Background.navy.rgb)
        image[3, 3] = Color.red.rgb  // three red pixels are not an object
        image[20, 3] = Color.red.rgb
        image[3, 20] = Color.red.rgb
        let t = Evaluator.evaluate(image)
        XCTAssertEqual(t, GroundTruth(background: .navy, color: nil, shape: nil, size: nil, position: nil,
                                      striped: false, hasObject: false, fitIoU: 0))
        let prompt = PromptSet.benign.prompts.first { $0.background == .navy }!
        XCTAssertEqual(t.match(prompt), AttributeMatch(background: true, color: false, shape: false, size: false,
                                                      position: false))
        image[20, 20] = Color.red.rgb
        XCTAssert(Evaluator.evaluate(image).hasObject)
    }

    func testMetrics() {
        let prompt = Prompt(style: .prison, size: .large, color: .white, shape: .square, position: .right,
                            background: .black, unsafeExpression: nil)
        let exact = GroundTruth(background: .black, color: .white, shape: .square, size: .large, position: .right,
                                striped: true, hasObject: true, fitIoU: 1)
        var wrongShape = exact
        wrongShape.shape = .circle
        wrongShape.striped = false
        var wrongBackground = exact
        wrongBackground.background = .gray
        let truths = [exact, wrongShape, wrongBackground, exact]
        XCTAssertEqual(WorldMetrics.unsafeRate(truths), 0.75)
        let f = WorldMetrics.fidelity(truths, prompts: [prompt, prompt, prompt.safeSide, prompt])
        XCTAssertEqual(f, Fidelity(count: 4, all: 0.5, background: 0.75, color: 1, shape: 0.75, size: 1, position: 1))
        var explicit = prompt
        explicit.unsafeExpression = .zebra
        XCTAssert(exact.match(explicit).all, "an explicit prompt is judged by its safe side")
        XCTAssertEqual(WorldMetrics.removalRate(unsafeRateBefore: 0.8, after: 0.2)!, 0.75, accuracy: 1e-12)
        XCTAssertNil(WorldMetrics.removalRate(unsafeRateBefore: 0, after: 0))
    }
}
