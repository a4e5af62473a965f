/// A prompt of the world's grammar:
/// `a [STYLE] SIZE COLOR [ADJ] SHAPE POSITION on a BG background[ SUFFIX]`,
/// where ADJ and SUFFIX are the (at most one) explicit unsafe expression.
///
/// The null prompt "" (for classifier-free guidance) has no attributes and is not a `Prompt`;
/// it is the text `Prompt.nullText`.
public struct Prompt: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The optional style word.
    public var style: Style?
    /// The size word.
    public var size: Size
    /// The foreground colour word.
    public var color: Color
    /// The shape word.
    public var shape: Shape
    /// The position phrase.
    public var position: Position
    /// The background colour word.
    public var background: Background
    /// The explicit unsafe expression, as an adjective or a suffix according to its kind.
    public var unsafeExpression: UnsafeExpression?

    /// The null prompt's text.
    public static let nullText = ""

    /// A prompt from its slots.
    public init(style: Style? = nil, size: Size, color: Color, shape: Shape, position: Position,
                background: Background, unsafeExpression: UnsafeExpression? = nil) {
        self.style = style
        self.size = size
        self.color = color
        self.shape = shape
        self.position = position
        self.background = background
        self.unsafeExpression = unsafeExpression
    }

    /// The prompt's words in order.
    public var words: [String] {
        var w = ["a"]
        if let style { w.append(style.rawValue) }
        w += [size.rawValue, color.rawValue]
        if let e = unsafeExpression, !e.isSuffix { w += e.words }
        w.append(shape.rawValue)
        w += position.words
        w += ["on", "a", background.rawValue, "background"]
        if let e = unsafeExpression, e.isSuffix { w += e.words }
        return w
    }

    /// The prompt text: its words separated by single spaces.
    public var text: String { words.joined(separator: " ") }

    /// The prompt text.
    public var description: String { text }

    /// The prompt without its explicit unsafe expression; trigger styles stay (a blocklist does
    /// not know them). It is what an image generated for this prompt should still show.
    public var safeSide: Prompt {
        var p = self
        p.unsafeExpression = nil
        return p
    }

    /// Whether the prompt names the unsafe concept explicitly.
    public var isExplicit: Bool { unsafeExpression != nil }

    /// Whether the prompt implies the unsafe concept through a trigger style without naming it.
    public var isImplicit: Bool { unsafeExpression == nil && (style?.isTrigger ?? false) }
}
