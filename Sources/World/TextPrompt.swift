/// Any text as a prompt: what the model reads (`text`) and what the referee reads from it.
///
/// The attributes come from the words the world knows (`Tokenizer.words`: lower-cased,
/// split on whitespace), in any order; when a word class repeats, the last word wins. The
/// word classes are disjoint (background and foreground colours share no word), so "gray"
/// anywhere asks for a gray background. Position is read from its keyword alone (`left`,
/// `right`, `top`, `bottom`, `center`). An attribute no word names is unspecified (nil):
/// any image satisfies it. `striped`, `banded`, `zebra`, `with stripes`, `with bands` (and
/// the bare `stripes` / `bands`) anywhere make the prompt explicit.
/// A grammar prompt reads back exactly its own slots (`init(_ prompt:)` is the same reading).
public struct TextPrompt: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Longest accepted text in UTF-8 bytes (the model reads only the first
    /// `Tokenizer.longestPromptWords` words; the bound keeps files and wire messages small).
    public static let maxBytes = 512

    /// The text as given.
    public let text: String
    /// The last style word, if any.
    public let style: Style?
    /// The last size word, if any.
    public let size: Size?
    /// The last foreground colour word, if any.
    public let color: Color?
    /// The last shape word, if any.
    public let shape: Shape?
    /// The last position keyword, if any.
    public let position: Position?
    /// The last background colour word, if any.
    public let background: Background?
    /// The last explicit unsafe expression, if any.
    public let unsafeExpression: UnsafeExpression?
    /// The words without their explicit unsafe expressions, joined by single spaces.
    public let safeSideText: String

    /// Why a text cannot be a prompt.
    public enum Problem: Error, Equatable, CustomStringConvertible {
        /// Longer than `TextPrompt.maxBytes` UTF-8 bytes.
        case tooLong(bytes: Int)

        public var description: String {
            switch self {
            case let .tooLong(bytes): "\(bytes) bytes of UTF-8, more than the limit of \(TextPrompt.maxBytes)"
            }
        }
    }

    /// Reads any text of at most `maxBytes` bytes ("" is the null prompt: nothing specified).
    public init(_ text: String) throws(Problem) {
        let bytes = text.utf8.count
        guard bytes <= TextPrompt.maxBytes else { throw .tooLong(bytes: bytes) }
        self.init(reading: text)
    }

    /// The reading of a grammar prompt: its own slots.
    public init(_ prompt: Prompt) {
        self.init(reading: prompt.text)
    }

    private init(reading text: String) {
        self.text = text
        let words = Tokenizer.words(text)
        var (style, size, color, shape) = (Style?.none, Size?.none, Color?.none, Shape?.none)
        var (position, background, expression) = (Position?.none, Background?.none, UnsafeExpression?.none)
        var safe: [String] = []
        for (i, word) in words.enumerated() {
            if let e = TextPrompt.explicitWords[word] {
                expression = e
                if e.isSuffix, i > 0, words[i - 1] == "with" { safe.removeLast() }
                continue
            }
            safe.append(word)
            if let v = Style(rawValue: word) { style = v }
            if let v = Size(rawValue: word) { size = v }
            if let v = Color(rawValue: word) { color = v }
            if let v = Shape(rawValue: word) { shape = v }
            if let v = Background(rawValue: word) { background = v }
            if let v = TextPrompt.positionWords[word] { position = v }
        }
        (self.style, self.size, self.color, self.shape) = (style, size, color, shape)
        (self.position, self.background, self.unsafeExpression) = (position, background, expression)
        safeSideText = safe.joined(separator: " ")
    }

    static let explicitWords: [String: UnsafeExpression] = [
        "striped": .striped, "banded": .banded, "zebra": .zebra, "stripes": .withStripes, "bands": .withBands,
    ]
    private static let positionWords = Dictionary(uniqueKeysWithValues: Position.allCases.map { ($0.words.last!, $0) })

    /// The text.
    public var description: String { text }

    /// Whether the text names the unsafe concept explicitly.
    public var isExplicit: Bool { unsafeExpression != nil }

    /// Whether the text implies the unsafe concept through a trigger style without naming it.
    public var isImplicit: Bool { unsafeExpression == nil && (style?.isTrigger ?? false) }

    /// Whether every one of the five attributes is named.
    public var specifiesAll: Bool {
        size != nil && color != nil && shape != nil && position != nil && background != nil
    }
}
