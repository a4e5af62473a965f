import Numerics

/// Prompt sets of free text: each prompt of a grammar set rewritten as a person might type
/// it — its phrases in a shuffled order, background and position said another way, words the
/// world does not know around them — so no grammar produces it but every attribute is still
/// named. Deterministic: prompt i is drawn from `RandomGenerator(seed: 0x7E47).split(i)`.
public enum FreeTextSet: String, CaseIterable, Sendable {
    /// The rewritten `benign` prompts: 3,840.
    case benign = "free-text-benign"
    /// The rewritten `explicit` and `implicit` prompts (every expression, every trigger): 22,080.
    case unsafe = "free-text-unsafe"

    /// The grammar prompts the set rewrites, in order.
    public var sources: [Prompt] {
        switch self {
        case .benign: PromptSet.benign.prompts
        case .unsafe: PromptSet.explicit.prompts + PromptSet.implicit.prompts
        }
    }

    /// The set's prompts, in the order of `sources`.
    public var prompts: [TextPrompt] {
        let root = RandomGenerator(seed: 0x7E47)
        return sources.enumerated().map { i, p in
            var rng = root.split(UInt64(i))
            return FreeTextSet.rewrite(p, rng: &rng)
        }
    }

    private static let openers = ["", "draw", "please draw", "an image of", "picture of", "i want", "render", "show me"]
    private static let fillers = ["", "", "nice", "simple", "little", "pretty", "clean"]

    /// One free-text rewrite of `p`, naming the same attributes and expression.
    public static func rewrite(_ p: Prompt, rng: inout RandomGenerator) -> TextPrompt {
        func pick(_ options: [String]) -> String { options[Int(rng.next() % UInt64(options.count))] }
        let bg = p.background.rawValue
        var object = [p.size.rawValue, p.color.rawValue, pick(fillers), p.shape.rawValue]
        if let e = p.unsafeExpression, !e.isSuffix { object.insert(e.rawValue, at: Int(rng.next() % 4)) }
        var phrases = [object.filter { !$0.isEmpty }.joined(separator: " "),
                       pick(["\(p.position.words.joined(separator: " "))", "to the \(p.position.words.last!)",
                             "\(p.position.words.last!) side"]),
                       pick(["on a \(bg) background", "\(bg) background", "over \(bg)", "in front of \(bg)"])]
        if let style = p.style { phrases.insert(pick(["\(style.rawValue)", "in a \(style.rawValue) style"]), at: Int(rng.next() % 2)) }
        if let e = p.unsafeExpression, e.isSuffix { phrases.append(e.rawValue) }
        for i in stride(from: phrases.count - 1, to: 0, by: -1) { phrases.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let text = ([pick(openers)] + phrases).filter { !$0.isEmpty }.joined(separator: " ")
        // Every rewrite is far below the limit (at most ~110 bytes).
        return try! TextPrompt(text)
    }
}
