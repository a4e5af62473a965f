import Foundation

/// y = x·σ(x), elementwise (also called swish). No parameters.
/// Follows the layer convention of `Linear`.
public final class SiLU {
    private var input: Tensor?  // x: any shape

    public init() {}

    public func forward(_ x: Tensor) -> Tensor {
        input = x
        var y = Tensor(uninitialized: x.shape)                     // y: same shape as x
        x.data.withUnsafeBufferPointer { xb in
            y.data.withUnsafeMutableBufferPointer { yb in
                let (xp, yp) = (xb.baseAddress!, yb.baseAddress!)
                parallelRanges(xb.count, grain: 1 << 14) { r in
                    for i in r { let v = xp[i]; yp[i] = v / (1 + exp(-v)) }
                }
            }
        }
        return y
    }

    /// dy/dx = σ(x)·(1 + x·(1 − σ(x))).
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("SiLU.backward before forward") }
        precondition(dy.shape == x.shape, "SiLU.backward: dy shape \(dy.shape), expected \(x.shape)")
        var dx = dy                                                // dx: same shape as x
        x.data.withUnsafeBufferPointer { xb in
            dx.data.withUnsafeMutableBufferPointer { db in
                let (xp, dp) = (xb.baseAddress!, db.baseAddress!)
                parallelRanges(db.count, grain: 1 << 14) { r in
                    for i in r {
                        let v = xp[i], s = 1 / (1 + exp(-v))
                        dp[i] *= s * (1 + v * (1 - s))
                    }
                }
            }
        }
        input = nil
        return dx
    }
}
