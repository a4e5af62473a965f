import Foundation

/// Binary cross-entropy on logits z against targets y ∈ [0, 1], mean over every element:
///
///     L = (1/N)·Σ [max(z, 0) − z·y + log(1 + exp(−|z|))],   dL/dz = (σ(z) − y)/N
///
/// This is −y·log σ(z) − (1 − y)·log(1 − σ(z)) rewritten so that no exp overflows and no
/// log sees 0, whatever the size of z. The sum runs in Double.
public func binaryCrossEntropyWithLogits(_ logits: Tensor, targets: Tensor) -> (value: Float, gradient: Tensor) {
    precondition(logits.shape == targets.shape,
                 "binaryCrossEntropyWithLogits: logits \(logits.shape), targets \(targets.shape)")
    var gradient = logits  // dL/dz: same shape as logits
    var sum = 0.0
    let scale = 1 / Float(max(logits.count, 1))
    gradient.data.withUnsafeMutableBufferPointer { g in
        targets.data.withUnsafeBufferPointer { t in
            for i in g.indices {
                let z = Double(g[i]), y = Double(t[i])
                sum += max(z, 0) - z * y + log1p(exp(-abs(z)))
                g[i] = scale * (sigmoid(g[i]) - t[i])
            }
        }
    }
    return (Float(sum / Double(max(logits.count, 1))), gradient)
}

/// The logistic function 1 / (1 + e^(−z)), written so that neither branch overflows.
@inline(__always)
public func sigmoid(_ z: Float) -> Float {
    if z >= 0 { return 1 / (1 + exp(-z)) }
    let e = exp(z)
    return e / (1 + e)
}
