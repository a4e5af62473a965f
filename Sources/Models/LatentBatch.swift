import Numerics
import World

/// The denoiser's view of images: the 16×16×12 space-to-depth layout scaled to [−1, 1].
public enum Latents {
    /// (B, 12, 16, 16) latents x = 2·img − 1 of `images`.
    public static func encode(_ images: [Image]) -> Tensor {
        var data: [Float] = []
        data.reserveCapacity(images.count * Image.valueCount)
        for image in images { data += image.spaceToDepth().data.map { 2 * $0 - 1 } }
        return Tensor(shape: [images.count, 12, Image.side / 2, Image.side / 2], data: data)
    }

    /// Images from latents (B, 12, 16, 16): (x + 1)/2 clamped to [0, 1], depth to space.
    public static func decode(_ x: Tensor) -> [Image] {
        let side = Image.side / 2
        precondition(x.rank == 4 && Array(x.shape[1...]) == [12, side, side], "Latents.decode expects (B, 12, 16, 16), got \(x.shape)")
        return (0..<x.shape[0]).map { i in
            let plane = x.batchSlice(i..<(i + 1)).data.map { ($0 + 1) / 2 }
            do {
                return try Image(spaceToDepth: Tensor(shape: [12, side, side], data: plane))
            } catch {
                preconditionFailure("Latents.decode: \(error)")  // the shape was checked above
            }
        }
    }
}

extension Tensor {
    /// Items `range` of the leading (batch) axis.
    public func batchSlice(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0], "batchSlice \(range) of \(shape)")
        let item = shape[0] == 0 ? 0 : count / shape[0]
        return Tensor(shape: [range.count] + shape.dropFirst(),
                      data: Array(data[(range.lowerBound * item)..<(range.upperBound * item)]))
    }

    /// The tensors joined along the leading (batch) axis; their other axes must agree.
    public static func stackBatch(_ parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty && parts.allSatisfy { $0.rank >= 1 && $0.shape.dropFirst() == parts[0].shape.dropFirst() },
                     "stackBatch: shapes \(parts.map(\.shape))")
        var data: [Float] = []
        data.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for p in parts { data += p.data }
        return Tensor(shape: [parts.reduce(0) { $0 + $1.shape[0] }] + parts[0].shape.dropFirst(), data: data)
    }
}
