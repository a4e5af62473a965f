/// Pixel shuffle by factor r: (B, C·r², H, W) → (B, C, H·r, W·r), a pure permutation.
///
/// Channel ordering (as in PyTorch's `pixel_shuffle`): input channel c·r² + i·r + j holds
/// output pixel (h·r + i, w·r + j) of output channel c. So the world's 32×32 RGB image,
/// unshuffled by r = 2, becomes 16×16×12 with channels ordered
/// (R₀₀, R₀₁, R₁₀, R₁₁, G₀₀, …, B₁₁): colour-major, then row offset i, then column offset j.
///
/// As a layer, `PixelShuffle` is depth-to-space and `PixelUnshuffle` space-to-depth; each
/// one's gradient is the other's permutation, so neither needs a cache. Both follow the
/// layer convention of `Linear`.
public final class PixelShuffle {
    public let factor: Int
    public init(factor: Int) { self.factor = factor }
    public func forward(_ x: Tensor) -> Tensor { PixelShuffle.shuffle(x, factor: factor) }
    public func backward(_ dy: Tensor) -> Tensor { PixelShuffle.unshuffle(dy, factor: factor) }

    /// Depth-to-space: (B, C·r², H, W) → (B, C, H·r, W·r).
    public static func shuffle(_ x: Tensor, factor r: Int) -> Tensor {
        precondition(x.rank == 4 && r > 0 && x.shape[1] % (r * r) == 0,
                     "PixelShuffle.shuffle expects (B, C·\(r * r), H, W), got \(x.shape)")
        let (b, c, h, w) = (x.shape[0], x.shape[1] / (r * r), x.shape[2], x.shape[3])
        var y = Tensor(zeros: [b, c, h * r, w * r])  // y: (B, C, H·r, W·r)
        permute(x, into: &y, batch: b, channels: c, height: h, width: w, factor: r, toSpace: true)
        return y
    }

    /// Space-to-depth: (B, C, H·r, W·r) → (B, C·r², H, W); the inverse of `shuffle`.
    public static func unshuffle(_ x: Tensor, factor r: Int) -> Tensor {
        precondition(x.rank == 4 && r > 0 && x.shape[2] % r == 0 && x.shape[3] % r == 0,
                     "PixelShuffle.unshuffle expects (B, C, H·\(r), W·\(r)), got \(x.shape)")
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2] / r, x.shape[3] / r)
        var y = Tensor(zeros: [b, c * r * r, h, w])  // y: (B, C·r², H, W)
        permute(x, into: &y, batch: b, channels: c, height: h, width: w, factor: r, toSpace: false)
        return y
    }

    /// Copies between depth layout d: (B, C·r², H, W) and space layout s: (B, C, H·r, W·r)
    /// in the direction `toSpace`.
    private static func permute(_ src: Tensor, into dst: inout Tensor, batch: Int, channels: Int,
                                height h: Int, width w: Int, factor r: Int, toSpace: Bool) {
        src.data.withUnsafeBufferPointer { sb in
            dst.data.withUnsafeMutableBufferPointer { db in
                let s = sb.baseAddress!, d = db.baseAddress!
                for n in 0..<batch {
                    for c in 0..<channels {
                        for i in 0..<r {
                            for j in 0..<r {
                                let depth = ((n * channels + c) * r * r + i * r + j) * h * w
                                for y in 0..<h {
                                    let space = ((n * channels + c) * h * r + y * r + i) * w * r + j
                                    for x in 0..<w {
                                        if toSpace { d[space + x * r] = s[depth + y * w + x] }
                                        else { d[depth + y * w + x] = s[space + x * r] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Space-to-depth: (B, C, H·r, W·r) → (B, C·r², H, W); see `PixelShuffle` for the ordering.
public final class PixelUnshuffle {
    public let factor: Int
    public init(factor: Int) { self.factor = factor }
    public func forward(_ x: Tensor) -> Tensor { PixelShuffle.unshuffle(x, factor: factor) }
    public func backward(_ dy: Tensor) -> Tensor { PixelShuffle.shuffle(dy, factor: factor) }
}
