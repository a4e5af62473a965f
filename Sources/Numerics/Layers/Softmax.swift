import Foundation

/// Softmax over the last axis, following the `Linear` layer convention.
///
/// Each row subtracts its maximum before `exp`, so large logits cannot overflow.
public final class Softmax {
    private var output: Tensor?  // y: (..., N)

    public init() {}

    public func forward(_ x: Tensor) -> Tensor {
        guard let cols = x.shape.last, cols > 0 else { preconditionFailure("Softmax needs a nonempty last axis, got \(x.shape)") }
        var y = x  // y: (..., N)
        y.data.withUnsafeMutableBufferPointer { yp in
            softmaxRows(yp.baseAddress!, rows: x.count / cols, cols: cols, keep: nil)
        }
        output = y
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let y = output else { preconditionFailure("Softmax.backward before forward") }
        precondition(dy.shape == y.shape, "Softmax.backward: dy shape \(dy.shape), expected \(y.shape)")
        let cols = y.shape.last!
        var dx = dy  // dx: (..., N)
        y.data.withUnsafeBufferPointer { yp in
            dx.data.withUnsafeMutableBufferPointer { dxp in
                softmaxBackwardRows(probs: yp.baseAddress!, grad: dxp.baseAddress!, rows: y.count / cols, cols: cols)
            }
        }
        output = nil
        return dx
    }
}

/// In-place softmax of each row of a (rows, cols) row-major matrix.
///
/// Where `keep` (one flag per column) is false the weight is exactly zero and the logit is
/// never read, so a masked entry cannot influence the row. A row with every column masked
/// becomes all zeros rather than NaN.
@inline(__always)
func softmaxRows(_ p: UnsafeMutablePointer<Float>, rows: Int, cols: Int, keep: UnsafePointer<Bool>?) {
    for r in 0..<rows {
        let row = p + r * cols
        var m = -Float.infinity
        if let keep {
            for c in 0..<cols where keep[c] { m = max(m, row[c]) }
        } else {
            for c in 0..<cols { m = max(m, row[c]) }
        }
        guard m > -Float.infinity else {
            row.update(repeating: 0, count: cols)
            continue
        }
        var sum: Float = 0
        if let keep {
            for c in 0..<cols {
                let e = keep[c] ? expf(row[c] - m) : 0
                row[c] = e
                sum += e
            }
        } else {
            for c in 0..<cols {
                let e = expf(row[c] - m)
                row[c] = e
                sum += e
            }
        }
        let inv = 1 / sum
        for c in 0..<cols { row[c] *= inv }
    }
}

/// Softmax backward per row, in place: grad ← p ⊙ (grad − Σ grad·p).
/// Entries with p = 0 (masked) get exactly zero gradient.
@inline(__always)
func softmaxBackwardRows(probs: UnsafePointer<Float>, grad: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
    for r in 0..<rows {
        let p = probs + r * cols, g = grad + r * cols
        var dot: Float = 0
        for c in 0..<cols { dot += g[c] * p[c] }
        for c in 0..<cols { g[c] = p[c] * (g[c] - dot) }
    }
}
