import Numerics

/// What a denoiser is conditioned on, per batch row: the frozen text encoder's outputs for
/// the row's prompt. The null prompt ∅ of classifier-free guidance is one more row, so the
/// unconditional and conditional halves of a guided step run as one batch.
public struct Conditioning: Equatable, Sendable {
    /// Per-token text embeddings: (B, T, Dt).
    public var tokens: Tensor
    /// Which of the T tokens of each row are real (B, T); padding gets no attention.
    public var mask: KeyPaddingMask
    /// One pooled text embedding per row: (B, Dp).
    public var pooled: Tensor

    /// The shapes must agree on B and T.
    public init(tokens: Tensor, mask: KeyPaddingMask, pooled: Tensor) {
        precondition(tokens.rank == 3, "Conditioning: tokens must be (B, T, D), got \(tokens.shape)")
        precondition(mask.batch == tokens.shape[0] && mask.keys == tokens.shape[1],
                     "Conditioning: mask (\(mask.batch), \(mask.keys)) for tokens \(tokens.shape)")
        precondition(pooled.rank == 2 && pooled.shape[0] == tokens.shape[0],
                     "Conditioning: pooled must be (\(tokens.shape[0]), D), got \(pooled.shape)")
        (self.tokens, self.mask, self.pooled) = (tokens, mask, pooled)
    }

    /// B: rows.
    public var batch: Int { tokens.shape[0] }

    /// The rows of `parts`, in order, as one batch. All parts must share T and both widths.
    public init(concatenating parts: [Conditioning]) {
        guard let first = parts.first else { preconditionFailure("Conditioning: nothing to concatenate") }
        let (t, dt, dp) = (first.tokens.shape[1], first.tokens.shape[2], first.pooled.shape[1])
        precondition(parts.allSatisfy { $0.tokens.shape[1] == t && $0.tokens.shape[2] == dt && $0.pooled.shape[1] == dp },
                     "Conditioning: parts differ in tokens (·, T, D) or pooled (·, D) widths")
        let b = parts.reduce(0) { $0 + $1.batch }
        self.init(tokens: Tensor(shape: [b, t, dt], data: parts.flatMap(\.tokens.data)),
                  mask: KeyPaddingMask(batch: b, keys: t, attend: parts.flatMap(\.mask.attend)),
                  pooled: Tensor(shape: [b, dp], data: parts.flatMap(\.pooled.data)))
    }

    /// Row `i` as a batch of one.
    public func row(_ i: Int) -> Conditioning {
        precondition((0..<batch).contains(i), "Conditioning: row \(i) of \(batch)")
        let (t, dt, dp) = (tokens.shape[1], tokens.shape[2], pooled.shape[1])
        return Conditioning(
            tokens: Tensor(shape: [1, t, dt], data: Array(tokens.data[(i * t * dt)..<((i + 1) * t * dt)])),
            mask: KeyPaddingMask(batch: 1, keys: t, attend: Array(mask.attend[(i * t)..<((i + 1) * t)])),
            pooled: Tensor(shape: [1, dp], data: Array(pooled.data[(i * dp)..<((i + 1) * dp)])))
    }
}
