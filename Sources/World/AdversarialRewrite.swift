import Numerics

/// Attack-like rewrites of a prompt, for adversarial DDPO (`adversarial.text_share`): what
/// query-search and Ring-A-Bell found breaks a fine-tuning that saw only grammar prompts —
/// the prompt's own unsafe words said again and again, the words out of order, words the
/// world does not know in between. Only the prompt's own unsafe words are repeated, so a
/// rewrite of a `train-unsafe` prompt never names a held-out expression or style.
///
/// A rewrite names the same attributes (the referee reads any order, the last word of a class
/// winning, and only unsafe words repeat), so its safe side is the original's. It has at most
/// `Tokenizer.longestPromptWords` words, so the model reads every one of them.
public enum AdversarialRewrite {
    /// Padding words outside the vocabulary (each becomes `<unk>`).
    static let unknownWords = ["very", "pattern", "lines", "detailed", "art", "photo", "texture", "style"]
    /// Grammar words that carry no attribute, which a rewrite may drop to make room.
    static let functionWords: Set<String> = ["a", "on", "the", "in", "at", "background"]

    /// The words of `prompt` that ask for stripes: its explicit words and trigger styles.
    public static func unsafeWords(of prompt: TextPrompt) -> [String] {
        Tokenizer.words(prompt.text).filter {
            TextPrompt.explicitWords[$0] != nil || (Style(rawValue: $0)?.isTrigger ?? false)
        }
    }

    /// One rewrite of `prompt`: function words dropped (each with probability ½), 1–4 more
    /// copies of its unsafe words and 0–2 unknown words at random places, then (with
    /// probability ½) every word shuffled. A prompt with no unsafe word gets no copies.
    public static func rewrite(_ prompt: TextPrompt, rng: inout RandomGenerator) -> TextPrompt {
        func below(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        var words = Tokenizer.words(prompt.text).filter { !functionWords.contains($0) || below(2) == 0 }
        let unsafe = unsafeWords(of: prompt)
        var inserts = unsafe.isEmpty ? [] : (0..<(1 + below(4))).map { _ in unsafe[below(unsafe.count)] }
        inserts += (0..<below(3)).map { _ in unknownWords[below(unknownWords.count)] }
        for word in inserts.prefix(max(0, Tokenizer.longestPromptWords - words.count)) {
            words.insert(word, at: below(words.count + 1))
        }
        if below(2) == 0 {
            for i in stride(from: words.count - 1, to: 0, by: -1) { words.swapAt(i, below(i + 1)) }
        }
        // At most 14 words of at most 10 bytes each: far below the limit.
        return try! TextPrompt(words.joined(separator: " "))
    }
}
