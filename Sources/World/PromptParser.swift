/// A text that is not a prompt of the grammar, with the first word that breaks it.
public struct PromptParseError: Error, Equatable, CustomStringConvertible {
    /// The text that failed to parse.
    public let text: String
    /// Zero-based index of the offending word; equals the word count when the text ended early.
    public let wordIndex: Int
    /// The offending word ("" for an empty word from a doubled or stray space), nil at the end.
    public let found: String?
    /// What the grammar allows at that place.
    public let expected: String

    /// Names the word, its position and what was expected.
    public var description: String {
        let what = found.map { $0.isEmpty ? "an empty word (extra space)" : "\"\($0)\"" } ?? "the end of the prompt"
        return "prompt \"\(text)\": word \(wordIndex + 1): expected \(expected), found \(what)"
    }
}

extension Prompt {
    /// Parses the text of a prompt: lower-case words separated by single spaces, exactly as
    /// `text` writes them. Throws at the first word the grammar does not allow.
    public init(parsing text: String) throws(PromptParseError) {
        var cursor = Cursor(text: text)
        try cursor.expect(["a"])
        let style = cursor.match(Style.allCases.map { ([$0.rawValue], $0) })
        let size = try cursor.require(Size.allCases.map { ([$0.rawValue], $0) },
                                      as: style == nil ? "a style or a size" : "a size")
        let color = try cursor.require(Color.allCases.map { ([$0.rawValue], $0) }, as: "a colour")
        let adjectives = UnsafeExpression.allCases.filter { !$0.isSuffix }
        let adjective = cursor.match(adjectives.map { ($0.words, $0) })
        let shape = try cursor.require(Shape.allCases.map { ([$0.rawValue], $0) },
                                       as: adjective == nil ? "an unsafe adjective or a shape" : "a shape")
        let position = try cursor.require(Position.allCases.map { ($0.words, $0) }, as: "a position phrase")
        try cursor.expect(["on", "a"])
        let background = try cursor.require(Background.allCases.map { ([$0.rawValue], $0) }, as: "a background")
        try cursor.expect(["background"])
        var suffix: UnsafeExpression?
        if adjective == nil && !cursor.atEnd {
            suffix = try cursor.require(UnsafeExpression.allCases.filter(\.isSuffix).map { ($0.words, $0) },
                                        as: "\"with stripes\", \"with bands\" or the end")
        }
        try cursor.expectEnd(as: "the end (at most one explicit unsafe expression)")
        self.init(style: style, size: size, color: color, shape: shape, position: position,
                  background: background, unsafeExpression: adjective ?? suffix)
    }
}

/// Reads and writes prompt files: one prompt per line (LF or CRLF), any UTF-8 text of at
/// most `TextPrompt.maxBytes` bytes. A line that is empty (or only whitespace), not UTF-8
/// or over the limit is refused with its number; a final newline ends the last line.
public enum PromptFile {
    /// A prompt file line that is not a prompt.
    public struct LineError: Error, Equatable, CustomStringConvertible {
        /// One-based line number.
        public let line: Int
        /// Why the line is not a prompt.
        public let reason: String

        /// Names the line and the reason.
        public var description: String { "line \(line): \(reason)" }
    }

    /// The prompts of a file's bytes, in order.
    public static func parse(_ bytes: some Collection<UInt8>) throws(LineError) -> [TextPrompt] {
        var lines = Array(bytes).split(separator: 0x0A, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        var prompts: [TextPrompt] = []
        for (i, raw) in lines.enumerated() {
            let line = raw.last == 0x0D ? raw.dropLast() : raw[...]
            guard let text = String(validating: line, as: UTF8.self) else {
                throw LineError(line: i + 1, reason: "not valid UTF-8")
            }
            guard !Tokenizer.words(text).isEmpty else {
                throw LineError(line: i + 1, reason: "empty line (a prompt file has no blank lines)")
            }
            do {
                prompts.append(try TextPrompt(text))
            } catch {
                throw LineError(line: i + 1, reason: error.description)
            }
        }
        return prompts
    }

    /// The prompts of a file's text, in order.
    public static func parse(_ contents: String) throws(LineError) -> [TextPrompt] {
        try parse(Array(contents.utf8))
    }

    /// File contents with one text per line.
    public static func format(_ texts: [String]) -> String {
        texts.map { $0 + "\n" }.joined()
    }
}

/// Walks the words of a prompt text left to right.
private struct Cursor {
    let text: String
    let words: [String]
    var index = 0

    init(text: String) {
        self.text = text
        words = text.isEmpty ? [] : text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
    }

    /// The value whose phrase comes next, consuming it; nil (consuming nothing) if none does.
    mutating func match<T>(_ options: [([String], T)]) -> T? {
        for (phrase, value) in options where index + phrase.count <= words.count
            && Array(words[index..<(index + phrase.count)]) == phrase {
            index += phrase.count
            return value
        }
        return nil
    }

    /// The value whose phrase comes next; on failure the error points at the first word past the
    /// longest partly matching phrase (so "on the lft" names "lft").
    mutating func require<T>(_ options: [([String], T)], as expected: String) throws(PromptParseError) -> T {
        if let value = match(options) { return value }
        let matched = options.map { phrase, _ in
            zip(phrase, words[index...]).prefix { $0 == $1 }.count
        }.max() ?? 0
        throw PromptParseError(text: text, wordIndex: index + matched,
                               found: index + matched < words.count ? words[index + matched] : nil,
                               expected: expected)
    }

    /// Consumes the given words, failing at the first that differs.
    mutating func expect(_ phrase: [String]) throws(PromptParseError) {
        for word in phrase {
            guard index < words.count, words[index] == word else { throw failure("\"\(word)\"") }
            index += 1
        }
    }

    var atEnd: Bool { index == words.count }

    func expectEnd(as expected: String) throws(PromptParseError) {
        guard atEnd else { throw failure(expected) }
    }

    /// An error at the current word.
    private func failure(_ expected: String) -> PromptParseError {
        PromptParseError(text: text, wordIndex: index, found: index < words.count ? words[index] : nil,
                         expected: expected)
    }
}
