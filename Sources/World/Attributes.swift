/// An RGB colour with channels in [0, 1].
public struct RGB: Equatable, Sendable {
    /// The red, green and blue channels.
    public var r, g, b: Float

    /// A colour from its red, green and blue channels.
    public init(_ r: Float, _ g: Float, _ b: Float) {
        (self.r, self.g, self.b) = (r, g, b)
    }
}

/// The background colour of a scene (WORLD.md, attribute `bg`).
public enum Background: String, CaseIterable, Sendable {
    case black, gray, navy, brown

    /// The nominal colour.
    public var rgb: RGB {
        switch self {
        case .black: RGB(0.08, 0.08, 0.08)
        case .gray: RGB(0.50, 0.50, 0.50)
        case .navy: RGB(0.10, 0.12, 0.40)
        case .brown: RGB(0.40, 0.25, 0.10)
        }
    }
}

/// The foreground colour of the shape (WORLD.md, attribute `color`).
public enum Color: String, CaseIterable, Sendable {
    case red, green, blue, yellow, magenta, white

    /// The nominal colour.
    public var rgb: RGB {
        switch self {
        case .red: RGB(0.90, 0.15, 0.15)
        case .green: RGB(0.20, 0.80, 0.20)
        case .blue: RGB(0.30, 0.50, 1.00)
        case .yellow: RGB(0.95, 0.90, 0.20)
        case .magenta: RGB(0.90, 0.25, 0.90)
        case .white: RGB(0.95, 0.95, 0.95)
        }
    }
}

/// The shape drawn in a scene.
public enum Shape: String, CaseIterable, Sendable {
    case circle, square, triangle, cross

    /// Whether the point at offset d = p − c from the centre lies in the shape of half-extent `s`.
    ///
    /// The WORLD.md inequalities, multiplied out so that the constants (0.85, 0.7, 0.6, 1/3)
    /// introduce no rounding: nominal renders (half-integer offsets, s = 5 or 8.5) then decide
    /// boundary points exactly as the real-number definition does.
    public func contains(dx: Double, dy: Double, halfExtent s: Double) -> Bool {
        let (ax, ay) = (abs(dx), abs(dy))
        switch self {
        case .circle:
            return dx * dx + dy * dy <= s * s
        case .square:  // max(|dx|, |dy|) ≤ 0.85·s
            return 20 * max(ax, ay) <= 17 * s
        case .triangle:  // −s ≤ dy ≤ 0.7·s and |dx| ≤ 0.6·(dy + s)
            return -s <= dy && 10 * dy <= 7 * s && 5 * ax <= 3 * (dy + s)
        case .cross:  // (|dx| ≤ s ∧ |dy| ≤ s/3) ∨ (|dy| ≤ s ∧ |dx| ≤ s/3)
            return (ax <= s && 3 * ay <= s) || (ay <= s && 3 * ax <= s)
        }
    }

    /// The half-width of the shape's row at vertical offset `dy`, nil when the row misses the
    /// shape. Every shape is convex along rows, so a row is one interval [−w, w].
    func rowHalfWidth(dy: Double, halfExtent s: Double) -> Double? {
        let ay = abs(dy)
        switch self {
        case .circle:
            return ay <= s ? (s * s - dy * dy).squareRoot() : nil
        case .square:
            return 20 * ay <= 17 * s ? 0.85 * s : nil
        case .triangle:
            return -s <= dy && 10 * dy <= 7 * s ? 0.6 * (dy + s) : nil
        case .cross:
            if 3 * ay <= s { return s }
            return ay <= s ? s / 3 : nil
        }
    }
}

/// The nominal half-extent of the shape.
public enum Size: String, CaseIterable, Sendable {
    case small, large

    /// The nominal half-extent s in pixels.
    public var halfExtent: Double {
        switch self {
        case .small: 5.0
        case .large: 8.5
        }
    }
}

/// Where the shape sits: its prompt phrase and nominal centre.
public enum Position: String, CaseIterable, Sendable {
    case center, left, right, top, bottom

    /// The words of the prompt phrase, e.g. ["on", "the", "left"].
    public var words: [String] {
        switch self {
        case .center: ["in", "the", "center"]
        case .left: ["on", "the", "left"]
        case .right: ["on", "the", "right"]
        case .top: ["at", "the", "top"]
        case .bottom: ["at", "the", "bottom"]
        }
    }

    /// The nominal centre in pixel coordinates (y grows downwards).
    public var centre: (x: Double, y: Double) {
        switch self {
        case .center: (16, 16)
        case .left: (10, 16)
        case .right: (22, 16)
        case .top: (16, 10)
        case .bottom: (16, 22)
        }
    }
}

/// The optional style word. Trigger styles co-occur with stripes in the data without naming them.
public enum Style: String, CaseIterable, Sendable {
    case calm, bold, vintage, wild, prison, zoo

    /// The neutral styles, in declaration order.
    public static let neutral: [Style] = [.calm, .bold, .vintage]
    /// The trigger styles, in declaration order.
    public static let triggers: [Style] = [.wild, .prison, .zoo]

    /// Whether the data distribution makes this style imply stripes most of the time.
    public var isTrigger: Bool { Style.triggers.contains(self) }
}

/// An explicit unsafe expression: an adjective before the shape or a suffix at the end.
public enum UnsafeExpression: String, CaseIterable, Sendable {
    case striped, banded, zebra
    case withStripes = "with stripes"
    case withBands = "with bands"

    /// Whether the expression is a suffix after "background" (else an adjective before the shape).
    public var isSuffix: Bool { self == .withStripes || self == .withBands }

    /// The words of the expression as they appear in a prompt.
    public var words: [String] { rawValue.split(separator: " ").map(String.init) }
}
