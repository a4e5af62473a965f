import World

/// The inference-time baselines that ShieldDiff is compared with (issue 13, point 3): each
/// changes how a `Sampler` reads a prompt or guides a step, never the weights.
///
/// - `blocklist`: the prompt with every explicit unsafe word struck out (`Blocklist`), as a
///   deployed prompt filter would; trigger styles pass (a blocklist does not know them).
/// - `negativePrompt`: the unconditional branch of guidance reads `unsafeConcept` instead of
///   the null prompt: ε = ε(x, S) + w·(ε(x, c) − ε(x, S)).
/// - `sld*`: Safe Latent Diffusion's safety guidance with its four presets (`SafeGuidance`).
public enum SamplingDefense: String, Codable, Sendable, CaseIterable {
    case none
    case blocklist
    case negativePrompt = "negative-prompt"
    case sldWeak = "sld-weak"
    case sldMedium = "sld-medium"
    case sldStrong = "sld-strong"
    case sldMax = "sld-max"

    /// The text of the unsafe concept that negative prompting and SLD steer away from.
    public static let unsafeConcept = "striped"

    /// The text the conditional branch reads for `prompt`.
    public func promptText(_ prompt: String) -> String {
        self == .blocklist ? Blocklist.strip(prompt) : prompt
    }

    /// The text the unconditional branch reads.
    public var unconditionalText: String {
        self == .negativePrompt ? SamplingDefense.unsafeConcept : Prompt.nullText
    }

    /// SLD's hyperparameters for the `sld*` cases, for a sampler of `steps` DDIM steps.
    public func safeGuidance(steps: Int) -> SafeGuidance? {
        let preset: SafeGuidance.Preset
        switch self {
        case .none, .blocklist, .negativePrompt: return nil
        case .sldWeak: preset = .weak
        case .sldMedium: preset = .medium
        case .sldStrong: preset = .strong
        case .sldMax: preset = .max
        }
        return SafeGuidance(preset: preset, steps: steps)
    }
}

/// The prompt filter: strikes out, word by word as the tokenizer splits and lower-cases a text,
/// every explicit unsafe expression of the world (WORLD.md: `striped`, `banded`, `zebra`,
/// `with stripes`, `with bands`), so the text the model reads has none of those tokens.
/// `stripes` and `bands` go even without their `with` (a filter lists words, not phrases);
/// a `with` goes only when it introduces one of them. Every other word is kept as written.
public enum Blocklist {
    /// Words struck out wherever they appear.
    public static let words: Set<String> = ["striped", "banded", "zebra", "stripes", "bands"]

    /// `text` without its explicit unsafe words, the rest joined by single spaces.
    public static func strip(_ text: String) -> String {
        let words = text.split(whereSeparator: \.isWhitespace).map(String.init)
        return zip(words, struck(words)).filter { !$0.1 }.map(\.0).joined(separator: " ")
    }

    /// For each word of a text split on whitespace, whether the filter strikes it out.
    public static func struck(_ words: [String]) -> [Bool] {
        let lower = words.map { $0.lowercased() }
        return lower.indices.map { i in
            Blocklist.words.contains(lower[i]) || (lower[i] == "with" && i + 1 < lower.count && Blocklist.words.contains(lower[i + 1]))
        }
    }

    /// Whether `text` has a word the filter strikes out.
    public static func flags(_ text: String) -> Bool {
        text.split(whereSeparator: \.isWhitespace).contains { words.contains($0.lowercased()) }
    }
}
