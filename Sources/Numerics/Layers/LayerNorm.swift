/// Layer normalization over the last axis: y = (x − mean) / √(var + eps) · γ + β,
/// with the biased variance. γ starts at 1 and β at 0. Follows the `Linear` convention.
public final class LayerNorm {
    /// D: the normalized (last) axis.
    public let features: Int
    /// Added to the variance before the square root.
    public let eps: Float
    public let gamma: ParameterStore.Parameter  // γ: (D)
    public let beta: ParameterStore.Parameter   // β: (D)
    private let store: ParameterStore
    private var normalized: Tensor?             // x̂: (..., D)
    private var inverseStd: [Float] = []        // rstd: (rows)

    public init(_ store: ParameterStore, name: String, features: Int, eps: Float = 1e-5) {
        self.store = store
        self.features = features
        self.eps = eps
        gamma = store.register("\(name).weight", shape: [features], values: [Float](repeating: 1, count: features))
        beta = store.register("\(name).bias", shape: [features], values: [Float](repeating: 0, count: features))
    }

    /// y: (..., D) from x: (..., D).
    public func forward(_ x: Tensor) -> Tensor {
        precondition(x.shape.last == features, "LayerNorm expects last dim \(features), got \(x.shape)")
        let d = features, rows = x.count / features
        var xhat = Tensor(zeros: x.shape)  // x̂: (..., D)
        var y = Tensor(zeros: x.shape)     // y: (..., D)
        var rstd = [Float](repeating: 0, count: rows)  // rstd: (rows)
        let g = store.value(gamma), bt = store.value(beta)
        x.data.withUnsafeBufferPointer { xp in
            xhat.data.withUnsafeMutableBufferPointer { hp in
                y.data.withUnsafeMutableBufferPointer { yp in
                    rstd.withUnsafeMutableBufferPointer { rp in
                        for r in 0..<rows {
                            let xr = xp.baseAddress! + r * d, hr = hp.baseAddress! + r * d, yr = yp.baseAddress! + r * d
                            var mean: Float = 0
                            for c in 0..<d { mean += xr[c] }
                            mean /= Float(d)
                            var variance: Float = 0
                            for c in 0..<d { let t = xr[c] - mean; variance += t * t }
                            let s = 1 / (variance / Float(d) + eps).squareRoot()
                            rp[r] = s
                            for c in 0..<d {
                                hr[c] = (xr[c] - mean) * s
                                yr[c] = hr[c] * g[c] + bt[c]
                            }
                        }
                    }
                }
            }
        }
        normalized = xhat
        inverseStd = rstd
        return y
    }

    /// dx = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ ⊙ x̂)) with dx̂ = dy ⊙ γ.
    public func backward(_ dy: Tensor) -> Tensor {
        guard let xhat = normalized else { preconditionFailure("LayerNorm.backward before forward") }
        precondition(dy.shape == xhat.shape, "LayerNorm.backward: dy shape \(dy.shape), expected \(xhat.shape)")
        let d = features, rows = xhat.count / features
        var dx = Tensor(zeros: xhat.shape)  // dx: (..., D)
        let g = store.value(gamma), dg = store.grad(gamma), db = store.grad(beta)
        xhat.data.withUnsafeBufferPointer { hp in
            dy.data.withUnsafeBufferPointer { dyp in
                dx.data.withUnsafeMutableBufferPointer { dxp in
                    inverseStd.withUnsafeBufferPointer { rp in
                        for r in 0..<rows {
                            let hr = hp.baseAddress! + r * d, dyr = dyp.baseAddress! + r * d, dxr = dxp.baseAddress! + r * d
                            var meanDh: Float = 0, meanDhH: Float = 0
                            for c in 0..<d {
                                let dh = dyr[c] * g[c]
                                meanDh += dh
                                meanDhH += dh * hr[c]
                                dg[c] += dyr[c] * hr[c]
                                db[c] += dyr[c]
                            }
                            meanDh /= Float(d)
                            meanDhH /= Float(d)
                            for c in 0..<d { dxr[c] = rp[r] * (dyr[c] * g[c] - meanDh - hr[c] * meanDhH) }
                        }
                    }
                }
            }
        }
        normalized = nil
        return dx
    }
}
