/// Nearest-neighbour 2× upsampling of NCHW tensors: each pixel becomes a 2×2 block.
/// No parameters; follows the layer convention of `Linear`.
public final class Upsample2x {
    private var inputShape: [Int]?  // (B, C, H, W)

    public init() {}

    public func forward(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4, "Upsample2x expects (B, C, H, W), got \(x.shape)")
        inputShape = x.shape
        let (planes, h, w) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
        var y = Tensor(zeros: [x.shape[0], x.shape[1], 2 * h, 2 * w])  // y: (B, C, 2H, 2W)
        x.data.withUnsafeBufferPointer { xb in
            y.data.withUnsafeMutableBufferPointer { yb in
                for p in 0..<planes {
                    let src = xb.baseAddress! + p * h * w, dst = yb.baseAddress! + p * 4 * h * w
                    for i in 0..<h {
                        let top = dst + 2 * i * 2 * w
                        for j in 0..<w { top[2 * j] = src[i * w + j]; top[2 * j + 1] = src[i * w + j] }
                        (top + 2 * w).update(from: top, count: 2 * w)
                    }
                }
            }
        }
        return y
    }

    /// Each input pixel receives the sum of its 2×2 block's gradients.
    public func backward(_ dy: Tensor) -> Tensor {
        guard let shape = inputShape else { preconditionFailure("Upsample2x.backward before forward") }
        let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3])
        precondition(dy.shape == [shape[0], shape[1], 2 * h, 2 * w], "Upsample2x.backward: dy shape \(dy.shape)")
        var dx = Tensor(zeros: shape)                                  // dx: (B, C, H, W)
        dy.data.withUnsafeBufferPointer { db in
            dx.data.withUnsafeMutableBufferPointer { xb in
                for p in 0..<planes {
                    let src = db.baseAddress! + p * 4 * h * w, dst = xb.baseAddress! + p * h * w
                    for i in 0..<h {
                        let top = src + 2 * i * 2 * w, bottom = top + 2 * w
                        for j in 0..<w {
                            dst[i * w + j] = top[2 * j] + top[2 * j + 1] + bottom[2 * j] + bottom[2 * j + 1]
                        }
                    }
                }
            }
        }
        inputShape = nil
        return dx
    }
}

/// 2× downsampling of NCHW tensors by averaging each 2×2 block (H and W must be even).
/// No parameters; follows the layer convention of `Linear`.
public final class AvgPool2x {
    private var inputShape: [Int]?  // (B, C, H, W)

    public init() {}

    public func forward(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.shape[2] % 2 == 0 && x.shape[3] % 2 == 0,
                     "AvgPool2x expects (B, C, H, W) with even H and W, got \(x.shape)")
        inputShape = x.shape
        let (planes, h, w) = (x.shape[0] * x.shape[1], x.shape[2] / 2, x.shape[3] / 2)
        var y = Tensor(zeros: [x.shape[0], x.shape[1], h, w])          // y: (B, C, H/2, W/2)
        x.data.withUnsafeBufferPointer { xb in
            y.data.withUnsafeMutableBufferPointer { yb in
                for p in 0..<planes {
                    let src = xb.baseAddress! + p * 4 * h * w, dst = yb.baseAddress! + p * h * w
                    for i in 0..<h {
                        let top = src + 2 * i * 2 * w, bottom = top + 2 * w
                        for j in 0..<w {
                            dst[i * w + j] = 0.25 * (top[2 * j] + top[2 * j + 1] + bottom[2 * j] + bottom[2 * j + 1])
                        }
                    }
                }
            }
        }
        return y
    }

    /// Each input pixel receives a quarter of its block's gradient.
    public func backward(_ dy: Tensor) -> Tensor {
        guard let shape = inputShape else { preconditionFailure("AvgPool2x.backward before forward") }
        let (planes, h, w) = (shape[0] * shape[1], shape[2] / 2, shape[3] / 2)
        precondition(dy.shape == [shape[0], shape[1], h, w], "AvgPool2x.backward: dy shape \(dy.shape)")
        var dx = Tensor(zeros: shape)                                  // dx: (B, C, H, W)
        dy.data.withUnsafeBufferPointer { db in
            dx.data.withUnsafeMutableBufferPointer { xb in
                for p in 0..<planes {
                    let src = db.baseAddress! + p * h * w, dst = xb.baseAddress! + p * 4 * h * w
                    for i in 0..<h {
                        let top = dst + 2 * i * 2 * w
                        for j in 0..<w { let g = 0.25 * src[i * w + j]; top[2 * j] = g; top[2 * j + 1] = g }
                        (top + 2 * w).update(from: top, count: 2 * w)
                    }
                }
            }
        }
        inputShape = nil
        return dx
    }
}
