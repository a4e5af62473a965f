/// Global average pooling of NCHW tensors: y[b, c] = mean over (h, w) of x[b, c, h, w].
/// No parameters; follows the layer convention of `Linear`.
public final class GlobalAvgPool {
    private var inputShape: [Int]?  // (B, C, H, W)

    public init() {}

    public func forward(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.shape[2] * x.shape[3] > 0,
                     "GlobalAvgPool expects (B, C, H, W) with H·W > 0, got \(x.shape)")
        inputShape = x.shape
        let planes = x.shape[0] * x.shape[1], plane = x.shape[2] * x.shape[3]
        var y = Tensor(zeros: [x.shape[0], x.shape[1]])  // y: (B, C)
        let scale = 1 / Float(plane)
        x.data.withUnsafeBufferPointer { xb in
            for p in 0..<planes {
                let src = xb.baseAddress! + p * plane
                var s: Float = 0
                for i in 0..<plane { s += src[i] }
                y.data[p] = s * scale
            }
        }
        return y
    }

    /// Every input pixel of a plane receives that plane's gradient divided by H·W.
    public func backward(_ dy: Tensor) -> Tensor {
        guard let shape = inputShape else { preconditionFailure("GlobalAvgPool.backward before forward") }
        precondition(dy.shape == [shape[0], shape[1]], "GlobalAvgPool.backward: dy shape \(dy.shape)")
        let planes = shape[0] * shape[1], plane = shape[2] * shape[3]
        var dx = Tensor(zeros: shape)                    // dx: (B, C, H, W)
        let scale = 1 / Float(plane)
        dx.data.withUnsafeMutableBufferPointer { db in
            for p in 0..<planes {
                (db.baseAddress! + p * plane).update(repeating: dy.data[p] * scale, count: plane)
            }
        }
        inputShape = nil
        return dx
    }
}
