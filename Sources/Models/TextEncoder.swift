import Numerics
import World

/// Per-token text embeddings and their padding mask: what conditions the denoiser (by
/// cross-attention) and what the mini-CLIP text head pools.
public struct TextEncoding: Sendable {
    /// Per-token embeddings: (B, T, D); rows past each text's end token are padding.
    public var tokens: Tensor
    /// (B, T): true for real tokens (begin, words, end), false for padding.
    public var mask: KeyPaddingMask
    /// The embedding at each text's end token, which attends to the whole text: (B, D).
    public var pooled: Tensor

    /// An encoding from its parts (any conditioning: the attacks build their own).
    public init(tokens: Tensor, mask: KeyPaddingMask, pooled: Tensor) {
        (self.tokens, self.mask, self.pooled) = (tokens, mask, pooled)
    }
}

/// The mini-CLIP text tower: token + learned position embeddings, pre-LN transformer blocks
/// with key-padding-masked self-attention, and a final layer norm.
///
/// Attention is bidirectional (every real token sees every real token), so the end token
/// — the pooled embedding — summarises the whole text. Follows the layer convention of
/// `Linear`: one `encode` per `backward`.
public final class TextEncoder {
    /// D of the shipped model.
    public static let width = 64
    /// T: tokens per text, the tokenizer's fixed length.
    public static let tokens = 16

    /// The architecture; the defaults are the shipped model.
    public struct Config: Codable, Sendable, Equatable {
        /// Number of token ids (the world tokenizer's vocabulary).
        public var vocabulary = Tokenizer().vocabularySize
        /// T: tokens per text.
        public var tokens = TextEncoder.tokens
        /// D: features per token.
        public var width = TextEncoder.width
        /// Attention heads per block.
        public var heads = 4
        /// Transformer blocks.
        public var layers = 2
        /// Hidden features of each block's MLP.
        public var mlpWidth = 4 * TextEncoder.width

        /// The shipped architecture.
        public init() {}

        /// Any architecture (tests use tiny ones).
        public init(vocabulary: Int, tokens: Int, width: Int, heads: Int, layers: Int, mlpWidth: Int) {
            (self.vocabulary, self.tokens, self.width) = (vocabulary, tokens, width)
            (self.heads, self.layers, self.mlpWidth) = (heads, layers, mlpWidth)
        }
    }

    public let config: Config
    private let store: ParameterStore
    private let tokenEmbedding: Embedding     // (V, D)
    private let positionEmbedding: Embedding  // (T, D), looked up by position
    private let blocks: [TransformerBlock]
    private let finalNorm: LayerNorm
    private var endPositions: [Int]?          // (B): index of each text's end token
    private var fromEmbeddings = false        // the last encode took token embeddings, not ids

    /// The shipped architecture, parameters registered in `store` under `name`.
    public convenience init(_ store: ParameterStore, name: String = "text", rng: inout RandomGenerator) {
        self.init(store, name: name, config: Config(), rng: &rng)
    }

    /// Any architecture, parameters registered in `store` under `name`.
    public init(_ store: ParameterStore, name: String = "text", config: Config, rng: inout RandomGenerator) {
        self.config = config
        self.store = store
        tokenEmbedding = Embedding(store, name: "\(name).token", vocabulary: config.vocabulary, dim: config.width, rng: &rng)
        positionEmbedding = Embedding(store, name: "\(name).position", vocabulary: config.tokens, dim: config.width, rng: &rng)
        blocks = (0..<config.layers).map { i in
            TransformerBlock(store, name: "\(name).block\(i)", width: config.width, heads: config.heads,
                             mlpWidth: config.mlpWidth, rng: &rng)
        }
        finalNorm = LayerNorm(store, name: "\(name).ln_final", features: config.width)
    }

    /// Encodes a batch of tokenized texts (each `config.tokens` long).
    public func encode(_ texts: [TokenizedText]) -> TextEncoding {
        let (b, t) = (texts.count, config.tokens)
        precondition(texts.allSatisfy { $0.ids.count == t && (1...t).contains($0.length) },
                     "TextEncoder expects texts of \(t) tokens with 1...\(t) real ones")
        let mask = KeyPaddingMask(lengths: texts.map(\.length), keys: t)
        var x = tokenEmbedding.forward(texts.flatMap(\.ids), shape: [b, t])                // x: (B, T, D)
        x.add(positionEmbedding.forward((0..<b).flatMap { _ in 0..<t }, shape: [b, t]))
        for block in blocks { x = block.forward(x, mask: mask) }
        let tokens = finalNorm.forward(x)                                                  // tokens: (B, T, D)
        let ends = texts.map { $0.length - 1 }
        endPositions = ends
        fromEmbeddings = false
        return TextEncoding(tokens: tokens, mask: mask, pooled: gatherRows(tokens, at: ends))
    }

    /// The token table E: (V, D), row i the embedding of token id i.
    public var tokenTable: Tensor { store.tensor(tokenEmbedding.table) }

    /// Encodes token embeddings (B, T, D) directly — rows of `tokenTable` for real tokens, or any
    /// vectors (continuous prompts of the white-box attacks) — with `lengths` real tokens each.
    public func encode(embeddings: Tensor, lengths: [Int]) -> TextEncoding {
        let (b, t, d) = (lengths.count, config.tokens, config.width)
        precondition(embeddings.shape == [b, t, d] && lengths.allSatisfy { (1...t).contains($0) },
                     "TextEncoder.encode(embeddings:): \(embeddings.shape) for \(b) texts of \(t) tokens")
        let mask = KeyPaddingMask(lengths: lengths, keys: t)
        var x = embeddings                                                                 // x: (B, T, D)
        x.add(positionEmbedding.forward((0..<b).flatMap { _ in 0..<t }, shape: [b, t]))
        for block in blocks { x = block.forward(x, mask: mask) }
        let tokens = finalNorm.forward(x)                                                  // tokens: (B, T, D)
        let ends = lengths.map { $0 - 1 }
        endPositions = ends
        fromEmbeddings = true
        return TextEncoding(tokens: tokens, mask: mask, pooled: gatherRows(tokens, at: ends))
    }

    /// Adds every parameter's gradient from dL/dtokens (B, T, D) and/or dL/dpooled (B, D), and
    /// returns dL/d(token embeddings) (B, T, D) — what the white-box attacks descend.
    @discardableResult
    public func backward(tokens dTokens: Tensor? = nil, pooled dPooled: Tensor? = nil) -> Tensor {
        guard let ends = endPositions else { preconditionFailure("TextEncoder.backward before encode") }
        endPositions = nil
        let (b, t, d) = (ends.count, config.tokens, config.width)
        var dy = dTokens ?? Tensor(zeros: [b, t, d])                                      // dy: (B, T, D)
        precondition(dy.shape == [b, t, d], "TextEncoder.backward: dtokens \(dy.shape), expected \([b, t, d])")
        if let dPooled {
            precondition(dPooled.shape == [b, d], "TextEncoder.backward: dpooled \(dPooled.shape), expected \([b, d])")
            for i in 0..<b {
                for c in 0..<d { dy.data[(i * t + ends[i]) * d + c] += dPooled.data[i * d + c] }
            }
        }
        var dx = finalNorm.backward(dy)                                                   // dx: (B, T, D)
        for block in blocks.reversed() { dx = block.backward(dx) }
        if !fromEmbeddings { tokenEmbedding.backward(dx) }
        positionEmbedding.backward(dx)
        return dx
    }
}

/// (B, D) rows `x[i, rows[i], :]` of x: (B, T, D).
private func gatherRows(_ x: Tensor, at rows: [Int]) -> Tensor {
    let (t, d) = (x.shape[1], x.shape[2])
    var y = Tensor(zeros: [rows.count, d])  // y: (B, D)
    for (i, r) in rows.enumerated() {
        for c in 0..<d { y.data[i * d + c] = x.data[(i * t + r) * d + c] }
    }
    return y
}
