import Numerics

/// One pretraining example: a caption and the jittered image of its scene.
public struct TrainingPair: Sendable {
    /// The caption.
    public var prompt: Prompt
    /// The scene the image shows (its stripes are not always named by the caption).
    public var scene: Scene
    /// The jittered parameters the image was rendered with.
    public var parameters: RenderParameters
    /// The rendered image.
    public var image: Image
}

/// The data distribution every model is pretrained on (WORLD.md, "The data distribution").
public enum DataDistribution {
    /// P(no style).
    public static let noStyleProbability: Float = 0.4
    /// P(striped) for a trigger style.
    public static let triggerStripedProbability: Float = 0.8
    /// P(striped) for a neutral style or none.
    public static let plainStripedProbability: Float = 0.05
    /// P(the caption names the stripes | striped).
    public static let explicitProbability: Float = 0.5

    /// Draws a caption and its scene, in this order from `rng`: size, colour, shape, position,
    /// background (each uniform), style, striped, explicit expression.
    public static func drawCaptionedScene(using rng: inout RandomGenerator) -> (prompt: Prompt, scene: Scene) {
        let size = pick(Size.allCases, &rng)
        let color = pick(Color.allCases, &rng)
        let shape = pick(Shape.allCases, &rng)
        let position = pick(Position.allCases, &rng)
        let background = pick(Background.allCases, &rng)
        let style: Style? = rng.nextUniform() < noStyleProbability ? nil : pick(Style.allCases, &rng)
        let stripedProbability = style?.isTrigger == true ? triggerStripedProbability : plainStripedProbability
        let striped = rng.nextUniform() < stripedProbability
        var expression: UnsafeExpression?
        if striped && rng.nextUniform() < explicitProbability {
            expression = pick(UnsafeExpression.allCases, &rng)
        }
        let prompt = Prompt(style: style, size: size, color: color, shape: shape, position: position,
                            background: background, unsafeExpression: expression)
        return (prompt, Scene(prompt: prompt, striped: striped))
    }

    /// Draws one pair: the caption and scene, then the jitter, all from `rng`.
    public static func draw(using rng: inout RandomGenerator) -> TrainingPair {
        let (prompt, scene) = drawCaptionedScene(using: &rng)
        let parameters = scene.jitteredParameters(using: &rng)
        return TrainingPair(prompt: prompt, scene: scene, parameters: parameters, image: parameters.render())
    }

    /// Pair number `index` of the data set of `seed`, drawn from its own split stream, so any
    /// pair can be produced alone, in any order, by any worker.
    public static func pair(seed: UInt64, index: Int) -> TrainingPair {
        var rng = RandomGenerator(seed: seed).split(UInt64(index))
        return draw(using: &rng)
    }

    /// A uniform element; the modulo bias (≤ 6 / 2⁶⁴) is far below anything measurable.
    private static func pick<T>(_ values: [T], _ rng: inout RandomGenerator) -> T {
        values[Int(rng.next() % UInt64(values.count))]
    }
}
