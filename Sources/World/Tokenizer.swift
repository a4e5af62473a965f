/// Token ids of one text, padded to the tokenizer's fixed length.
public struct TokenizedText: Equatable, Sendable {
    /// `maxLength` ids: begin, the words, end, then padding.
    public var ids: [Int]
    /// 1 for real tokens (begin, words, end), 0 for padding; same length as `ids`.
    public var mask: [Float]
    /// Number of real tokens; the end token is at `length − 1`.
    public var length: Int
}

/// A word-level tokenizer over the world's vocabulary.
///
/// Ids: 0 `<pad>`, 1 `<unk>`, 2 `<bos>`, 3 `<eos>`, then every word a prompt can contain in the
/// order it first appears when the grammar is read left to right with each slot's values in
/// declaration order ("a", styles, sizes, colours, unsafe adjectives, shapes, position words,
/// "on", backgrounds, "background", suffix words). Text is lower-cased and split on whitespace;
/// a word outside the vocabulary becomes `<unk>`. Every text, the null prompt "" included,
/// becomes `<bos> words… <eos>`; a text longer than `maxLength − 2` words keeps its first
/// `maxLength − 2` words (the end token is always present).
public struct Tokenizer: Sendable {
    /// Padding after the end token.
    public static let padID = 0
    /// Any word outside the vocabulary.
    public static let unknownID = 1
    /// First token of every encoding.
    public static let beginID = 2
    /// Token after the last word.
    public static let endID = 3

    /// Longest prompt of the grammar in words: a STYLE SIZE COLOR SHAPE + 3 position words
    /// + "on a BG background" + a 2-word suffix = 14.
    public static let longestPromptWords = 14

    /// All tokens by id.
    public let vocabulary: [String]
    /// Fixed length of every encoding.
    public let maxLength: Int
    private let ids: [String: Int]

    /// A tokenizer padding to `maxLength` tokens; the default fits every prompt with begin and end.
    public init(maxLength: Int = Tokenizer.longestPromptWords + 2) {
        precondition(maxLength >= 2, "maxLength must leave room for the begin and end tokens")
        self.maxLength = maxLength
        var words = ["<pad>", "<unk>", "<bos>", "<eos>"]
        let grammarWords: [[String]] = [
            ["a"], Style.allCases.map(\.rawValue), Size.allCases.map(\.rawValue), Color.allCases.map(\.rawValue),
            UnsafeExpression.allCases.filter { !$0.isSuffix }.flatMap(\.words), Shape.allCases.map(\.rawValue),
            Position.allCases.flatMap(\.words), ["on", "a"], Background.allCases.map(\.rawValue), ["background"],
            UnsafeExpression.allCases.filter(\.isSuffix).flatMap(\.words),
        ]
        for word in grammarWords.joined() where !words.contains(word) { words.append(word) }
        vocabulary = words
        ids = Dictionary(uniqueKeysWithValues: words.enumerated().map { ($1, $0) })
    }

    /// Number of tokens, special ones included.
    public var vocabularySize: Int { vocabulary.count }

    /// The words of a text as the model reads them: lower-cased, split on whitespace. The
    /// referee (`TextPrompt`) reads the same words, so the two never disagree on a word.
    public static func words(_ text: String) -> [String] {
        text.lowercased().split(whereSeparator: \.isWhitespace).map(String.init)
    }

    /// Encodes a text; never fails (unknown words become `<unk>`, long texts are truncated).
    public func encode(_ text: String) -> TokenizedText {
        let words = Tokenizer.words(text).prefix(maxLength - 2)
        var tokens = [Tokenizer.beginID]
        tokens += words.map { ids[$0] ?? Tokenizer.unknownID }
        tokens.append(Tokenizer.endID)
        let length = tokens.count
        let padding = maxLength - length
        return TokenizedText(ids: tokens + [Int](repeating: Tokenizer.padID, count: padding),
                             mask: [Float](repeating: 1, count: length) + [Float](repeating: 0, count: padding),
                             length: length)
    }

    /// Encodes a prompt's text.
    public func encode(_ prompt: Prompt) -> TokenizedText { encode(prompt.text) }
}
