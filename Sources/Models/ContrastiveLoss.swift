import Foundation
import Numerics

/// The symmetric InfoNCE loss of CLIP over a batch of B matching (image, text) pairs.
///
/// With unit embeddings u (images) and v (texts) and the logit scale s = e^{log s}:
///
///     L_ij = s · u_i · v_j                                    (B, B): row i image, column j text
///     loss = ½ · [ mean_i CE(L_i·, i) + mean_j CE(L_·j, j) ]
///     dL_ij = (softmax_row(L)_ij + softmax_col(L)_ij − 2·δ_ij) / (2B)
///     du = s · dL · v,   dv = s · dLᵀ · u,   d(log s) = Σ_ij dL_ij · L_ij
public struct ContrastiveLoss {
    /// The loss value.
    public var loss: Float
    /// Share of images whose own text has the largest logit in its row (ties count against).
    public var imageToTextAccuracy: Float
    /// dloss/du: (B, D).
    public var dImage: Tensor
    /// dloss/dv: (B, D).
    public var dText: Tensor
    /// dloss/d(log s).
    public var dLogScale: Float

    /// The loss and its gradients for unit embeddings `image`, `text`: (B, D) and `logScale`.
    public init(image u: Tensor, text v: Tensor, logScale: Float) {
        precondition(u.rank == 2 && u.shape == v.shape && u.shape[0] > 0,
                     "ContrastiveLoss expects image and text embeddings of one (B, D) shape, got \(u.shape) and \(v.shape)")
        let (b, d) = (u.shape[0], u.shape[1])
        let s = exp(logScale)
        var logits = [Float](repeating: 0, count: b * b)  // L: (B, B)
        u.data.withUnsafeBufferPointer { up in
            v.data.withUnsafeBufferPointer { vp in
                logits.withUnsafeMutableBufferPointer { lp in
                    sgemm(transB: true, m: b, n: b, k: d, alpha: s, a: up.baseAddress!, lda: d,
                          b: vp.baseAddress!, ldb: d, c: lp.baseAddress!, ldc: b)
                }
            }
        }
        var dLogits = [Float](repeating: 0, count: b * b)  // dL: (B, B)
        var total = 0.0
        var correct = 0
        let half = 1 / Float(2 * b)
        // Rows: image → text; columns: text → image. Both are softmax cross-entropies on the diagonal.
        for byRow in [true, false] {
            for i in 0..<b {
                let at = { (j: Int) in byRow ? i * b + j : j * b + i }
                var m = -Float.infinity
                for j in 0..<b { m = max(m, logits[at(j)]) }
                var sum = 0.0
                for j in 0..<b { sum += Double(exp(logits[at(j)] - m)) }
                total += (Double(m) + log(sum) - Double(logits[at(i)])) / Double(2 * b)
                for j in 0..<b {
                    dLogits[at(j)] += half * Float(Double(exp(logits[at(j)] - m)) / sum)
                }
                dLogits[at(i)] -= half
                if byRow && (0..<b).allSatisfy({ $0 == i || logits[at($0)] < logits[at(i)] }) { correct += 1 }
            }
        }
        var du = Tensor(zeros: [b, d]), dv = Tensor(zeros: [b, d])
        dLogits.withUnsafeBufferPointer { gp in
            u.data.withUnsafeBufferPointer { up in
                v.data.withUnsafeBufferPointer { vp in
                    du.data.withUnsafeMutableBufferPointer { dup in
                        sgemm(m: b, n: d, k: b, alpha: s, a: gp.baseAddress!, lda: b,
                              b: vp.baseAddress!, ldb: d, c: dup.baseAddress!, ldc: d)
                    }
                    dv.data.withUnsafeMutableBufferPointer { dvp in
                        sgemm(transA: true, m: b, n: d, k: b, alpha: s, a: gp.baseAddress!, lda: b,
                              b: up.baseAddress!, ldb: d, c: dvp.baseAddress!, ldc: d)
                    }
                }
            }
        }
        var dScale = 0.0
        for k in 0..<(b * b) { dScale += Double(dLogits[k]) * Double(logits[k]) }
        loss = Float(total)
        imageToTextAccuracy = Float(correct) / Float(b)
        (dImage, dText, dLogScale) = (du, dv, Float(dScale))
    }
}

/// y = x / ‖x‖ for each row of x: (B, D). Follows the layer convention of `Linear`.
final class L2Normalize {
    private var cache: (y: Tensor, norms: [Float])?

    /// y: (B, D) with unit rows.
    func forward(_ x: Tensor) -> Tensor {
        precondition(x.rank == 2, "L2Normalize expects (B, D), got \(x.shape)")
        let (b, d) = (x.shape[0], x.shape[1])
        var y = x  // y: (B, D)
        var norms = [Float](repeating: 0, count: b)
        for i in 0..<b {
            var sq: Float = 0
            for c in 0..<d { sq += x.data[i * d + c] * x.data[i * d + c] }
            // The floor only guards a zero row, which no trained encoder produces.
            norms[i] = max(sq.squareRoot(), 1e-12)
            for c in 0..<d { y.data[i * d + c] /= norms[i] }
        }
        cache = (y, norms)
        return y
    }

    /// dx = (dy − y·(y·dy)) / ‖x‖ per row.
    func backward(_ dy: Tensor) -> Tensor {
        guard let (y, norms) = cache else { preconditionFailure("L2Normalize.backward before forward") }
        precondition(dy.shape == y.shape, "L2Normalize.backward: dy \(dy.shape), expected \(y.shape)")
        cache = nil
        let (b, d) = (y.shape[0], y.shape[1])
        var dx = dy  // dx: (B, D)
        for i in 0..<b {
            var dot: Float = 0
            for c in 0..<d { dot += y.data[i * d + c] * dy.data[i * d + c] }
            for c in 0..<d { dx.data[i * d + c] = (dy.data[i * d + c] - y.data[i * d + c] * dot) / norms[i] }
        }
        return dx
    }
}
