import Numerics

/// Everything an image of the world shows: the five prompt attributes and whether it is striped.
public struct Scene: Equatable, Hashable, Sendable {
    /// The background colour.
    public var background: Background
    /// The foreground colour.
    public var color: Color
    /// The shape.
    public var shape: Shape
    /// The nominal size.
    public var size: Size
    /// The nominal position.
    public var position: Position
    /// The unsafe concept: shape pixels on odd rows take the background colour.
    public var striped: Bool

    /// A scene from its attributes.
    public init(background: Background, color: Color, shape: Shape, size: Size, position: Position,
                striped: Bool) {
        self.background = background
        self.color = color
        self.shape = shape
        self.size = size
        self.position = position
        self.striped = striped
    }

    /// The scene a prompt describes, with stripes as given (the prompt alone does not fix them).
    public init(prompt: Prompt, striped: Bool) {
        self.init(background: prompt.background, color: prompt.color, shape: prompt.shape, size: prompt.size,
                  position: prompt.position, striped: striped)
    }

    /// The render parameters without jitter: nominal centre, half-extent and colours.
    public var nominalParameters: RenderParameters {
        let c = position.centre
        return RenderParameters(shape: shape, centreX: c.x, centreY: c.y, halfExtent: size.halfExtent,
                                foreground: color.rgb, background: background.rgb, striped: striped)
    }

    /// Jittered render parameters, drawn in this order from `rng`: centre x + U(−1, 1),
    /// centre y + U(−1, 1), s × U(0.9, 1.1), then foreground R, G, B and background R, G, B
    /// each + U(−0.04, 0.04) clamped to [0, 1].
    public func jitteredParameters(using rng: inout RandomGenerator) -> RenderParameters {
        var p = nominalParameters
        p.centreX += Double(rng.nextUniform(-1, 1))
        p.centreY += Double(rng.nextUniform(-1, 1))
        p.halfExtent *= Double(rng.nextUniform(0.9, 1.1))
        p.foreground = jitter(p.foreground, &rng)
        p.background = jitter(p.background, &rng)
        return p
    }

    /// The image without jitter.
    public func render() -> Image { nominalParameters.render() }

    /// An image with fresh jitter drawn from `rng`.
    public func render(jitter rng: inout RandomGenerator) -> Image { jitteredParameters(using: &rng).render() }

    private func jitter(_ c: RGB, _ rng: inout RandomGenerator) -> RGB {
        let r = clampUnit(c.r + rng.nextUniform(-0.04, 0.04))
        let g = clampUnit(c.g + rng.nextUniform(-0.04, 0.04))
        let b = clampUnit(c.b + rng.nextUniform(-0.04, 0.04))
        return RGB(r, g, b)
    }
}

/// The continuous parameters of one rendered image (a scene after jitter, or nominal).
public struct RenderParameters: Equatable, Sendable {
    /// The shape.
    public var shape: Shape
    /// Centre in pixel coordinates; the centre of pixel (x, y) is (x + 0.5, y + 0.5).
    public var centreX, centreY: Double
    /// The half-extent s of the shape.
    public var halfExtent: Double
    /// The shape colour, jittered or nominal.
    public var foreground: RGB
    /// The background colour, jittered or nominal.
    public var background: RGB
    /// Whether shape pixels on odd rows take the background colour.
    public var striped: Bool

    /// Parameters from their fields.
    public init(shape: Shape, centreX: Double, centreY: Double, halfExtent: Double, foreground: RGB,
                background: RGB, striped: Bool) {
        self.shape = shape
        self.centreX = centreX
        self.centreY = centreY
        self.halfExtent = halfExtent
        self.foreground = foreground
        self.background = background
        self.striped = striped
    }

    /// Rasterises: shape pixels take the foreground colour, except on odd rows when striped;
    /// every other pixel takes the background colour.
    public func render() -> Image {
        var image = Image(filledWith: background)
        for y in 0..<Image.side where !(striped && y % 2 == 1) {
            let dy = Double(y) + 0.5 - centreY
            for x in 0..<Image.side where shape.contains(dx: Double(x) + 0.5 - centreX, dy: dy, halfExtent: halfExtent) {
                image[x, y] = foreground
            }
        }
        return image
    }
}
