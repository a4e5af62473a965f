import Numerics

/// A 32×32 RGB image of the world, values in [0, 1].
///
/// Storage is HWC: the value of channel c (0 = R, 1 = G, 2 = B) of pixel (x, y) is
/// `pixels[(y · 32 + x) · 3 + c]`; row y = 0 is the top.
public struct Image: Equatable, Sendable {
    /// Width and height in pixels.
    public static let side = 32
    /// Number of stored values, 32 · 32 · 3.
    public static let valueCount = side * side * 3

    /// The values, HWC, see the type's documentation.
    public var pixels: [Float]

    /// An image filled with one colour.
    public init(filledWith colour: RGB) {
        pixels = [Float](repeating: 0, count: Image.valueCount)
        for i in 0..<(Image.side * Image.side) {
            (pixels[3 * i], pixels[3 * i + 1], pixels[3 * i + 2]) = (colour.r, colour.g, colour.b)
        }
    }

    /// An image from HWC values; values outside [0, 1] are clamped into it.
    public init(hwc values: [Float]) throws(ImageShapeError) {
        guard values.count == Image.valueCount else {
            throw ImageShapeError(expected: [Image.side, Image.side, 3], got: [values.count])
        }
        pixels = values.map(clampUnit)
    }

    /// The colour of pixel (x, y).
    public subscript(x: Int, y: Int) -> RGB {
        get {
            let i = (y * Image.side + x) * 3
            return RGB(pixels[i], pixels[i + 1], pixels[i + 2])
        }
        set {
            let i = (y * Image.side + x) * 3
            (pixels[i], pixels[i + 1], pixels[i + 2]) = (newValue.r, newValue.g, newValue.b)
        }
    }

    /// The image as a CHW tensor of shape (3, 32, 32).
    public func chwTensor() -> Tensor {
        let n = Image.side * Image.side
        var data = [Float](repeating: 0, count: Image.valueCount)  // (3, 32, 32)
        for p in 0..<n {
            for c in 0..<3 { data[c * n + p] = pixels[p * 3 + c] }
        }
        return Tensor(shape: [3, Image.side, Image.side], data: data)
    }

    /// An image from a CHW tensor of shape (3, 32, 32), e.g. a model's output; values outside
    /// [0, 1] are clamped into it.
    public init(chw tensor: Tensor) throws(ImageShapeError) {
        guard tensor.shape == [3, Image.side, Image.side] else {
            throw ImageShapeError(expected: [3, Image.side, Image.side], got: tensor.shape)
        }
        let n = Image.side * Image.side
        var values = [Float](repeating: 0, count: Image.valueCount)
        for p in 0..<n {
            for c in 0..<3 { values[p * 3 + c] = clampUnit(tensor.data[c * n + p]) }
        }
        pixels = values
    }

    /// The lossless 2×2 space-to-depth view, a tensor of shape (12, 16, 16).
    ///
    /// PyTorch's `pixel_unshuffle` convention with r = 2: element (c·4 + dy·2 + dx, i, j) is
    /// channel c of pixel (x = 2j + dx, y = 2i + dy).
    public func spaceToDepth() -> Tensor {
        let h = Image.side / 2
        var data = [Float](repeating: 0, count: Image.valueCount)  // (12, 16, 16)
        for c in 0..<3 {
            for dy in 0..<2 {
                for dx in 0..<2 {
                    let channel = c * 4 + dy * 2 + dx
                    for i in 0..<h {
                        for j in 0..<h {
                            data[(channel * h + i) * h + j] = pixels[((2 * i + dy) * Image.side + 2 * j + dx) * 3 + c]
                        }
                    }
                }
            }
        }
        return Tensor(shape: [12, h, h], data: data)
    }

    /// The inverse of `spaceToDepth()` (PyTorch's `pixel_shuffle` with r = 2) from a tensor of
    /// shape (12, 16, 16); values outside [0, 1] are clamped into it.
    public init(spaceToDepth tensor: Tensor) throws(ImageShapeError) {
        let h = Image.side / 2
        guard tensor.shape == [12, h, h] else { throw ImageShapeError(expected: [12, h, h], got: tensor.shape) }
        var values = [Float](repeating: 0, count: Image.valueCount)
        for c in 0..<3 {
            for dy in 0..<2 {
                for dx in 0..<2 {
                    let channel = c * 4 + dy * 2 + dx
                    for i in 0..<h {
                        for j in 0..<h {
                            values[((2 * i + dy) * Image.side + 2 * j + dx) * 3 + c] =
                                clampUnit(tensor.data[(channel * h + i) * h + j])
                        }
                    }
                }
            }
        }
        pixels = values
    }
}

/// A tensor or buffer whose shape cannot be an image.
public struct ImageShapeError: Error, Equatable, CustomStringConvertible {
    /// The shape an image needs.
    public let expected: [Int]
    /// The shape (or element count) that was given.
    public let got: [Int]

    /// Names the expected and the given shape.
    public var description: String { "image needs shape \(expected), got \(got)" }
}

/// Clamps into [0, 1]; NaN becomes 0 so that a diverged model still yields a valid image.
func clampUnit(_ v: Float) -> Float {
    v.isNaN ? 0 : min(max(v, 0), 1)
}
