import Foundation

/// Group normalization over NCHW tensors: channels are split into `groups` consecutive
/// groups, each (image, group) is normalized to zero mean and unit variance over its
/// channels and pixels, then scaled and shifted per channel: y = γ[c]·x̂ + β[c].
/// With `silu` it also applies SiLU in the same pass, y = SiLU(γ[c]·x̂ + β[c]), as the UNet
/// does after every GroupNorm but its attention's: the pre-activation is never stored or
/// read back, and the result is bit for bit that of `SiLU` after the plain layer.
/// Follows the layer convention of `Linear`.
public final class GroupNorm {
    public let channels: Int
    public let groups: Int
    public let eps: Float
    /// Whether SiLU follows the normalization in this layer.
    public let silu: Bool
    public let weight: ParameterStore.Parameter  // γ: (C)
    public let bias: ParameterStore.Parameter    // β: (C)
    private let store: ParameterStore
    private var normalized: Tensor?              // x̂: (B, C, H, W)
    private var inverseStd: [Float] = []         // rstd: (B, G)

    public init(_ store: ParameterStore, name: String, channels: Int, groups: Int, eps: Float = 1e-5, silu: Bool = false) {
        precondition(groups > 0 && channels % groups == 0, "GroupNorm \(name): \(channels) channels in \(groups) groups")
        self.store = store
        self.channels = channels
        self.groups = groups
        self.eps = eps
        self.silu = silu
        weight = store.register("\(name).weight", shape: [channels], values: [Float](repeating: 1, count: channels))
        bias = store.register("\(name).bias", shape: [channels], values: [Float](repeating: 0, count: channels))
    }

    public func forward(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == channels, "GroupNorm expects (B, \(channels), H, W), got \(x.shape)")
        let batch = x.shape[0], plane = x.shape[2] * x.shape[3]
        let perGroup = channels / groups, size = perGroup * plane
        // Every element of x̂ and y is written below; each (image, group) is independent.
        var xhat = Tensor(uninitialized: x.shape)                             // x̂: (B, C, H, W)
        var y = Tensor(uninitialized: x.shape)                                // y: (B, C, H, W)
        var rstd = [Float](repeating: 0, count: batch * groups)               // rstd: (B, G)
        let gamma = store.value(weight), beta = store.value(bias)
        let (groups, silu) = (self.groups, self.silu)
        x.data.withUnsafeBufferPointer { xb in
            xhat.data.withUnsafeMutableBufferPointer { hb in
                y.data.withUnsafeMutableBufferPointer { yb in
                    rstd.withUnsafeMutableBufferPointer { rb in
                        let (xp, hp, yp, rp) = (xb.baseAddress!, hb.baseAddress!, yb.baseAddress!, rb.baseAddress!)
                        parallelRanges(batch * groups, grain: max(1, (1 << 14) / size)) { range in
                            for bg in range {
                                let base = bg * size
                                let xs = xp + base, hs = hp + base, ys = yp + base
                                var sum = 0.0, sumSq = 0.0
                                for i in 0..<size { let v = Double(xs[i]); sum += v; sumSq += v * v }
                                let mean = sum / Double(size)
                                let r = Float(1 / (max(sumSq / Double(size) - mean * mean, 0) + Double(eps)).squareRoot())
                                rp[bg] = r
                                let m = Float(mean)
                                for cl in 0..<perGroup {
                                    let c = (bg % groups) * perGroup + cl
                                    let (gc, bc) = (gamma[c], beta[c])
                                    for j in (cl * plane)..<((cl + 1) * plane) {
                                        let h = (xs[j] - m) * r
                                        hs[j] = h
                                        let a = gc * h + bc
                                        ys[j] = silu ? a / (1 + exp(-a)) : a
                                    }
                                }
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

    /// dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) over each group, where dx̂ = γ·dy (with
    /// `silu`, dy is first taken through SiLU's derivative at a = γ·x̂ + β).
    public func backward(_ dy: Tensor) -> Tensor {
        guard let xhat = normalized else { preconditionFailure("GroupNorm.backward before forward") }
        precondition(dy.shape == xhat.shape, "GroupNorm.backward: dy shape \(dy.shape), expected \(xhat.shape)")
        let batch = xhat.shape[0], plane = xhat.shape[2] * xhat.shape[3]
        let perGroup = channels / groups, size = perGroup * plane
        var dx = Tensor(uninitialized: xhat.shape)                            // dx: (B, C, H, W), all written
        let gamma = store.value(weight), beta = store.value(bias), dgamma = store.grad(weight), dbeta = store.grad(bias)
        let (groups, silu, inverseStd) = (self.groups, self.silu, self.inverseStd)
        // Per-(image, channel) sums of dy and dy·x̂, computed in parallel, then added into the
        // parameter gradients image by image: the order of additions of the serial loop.
        var sums = [Float](repeating: 0, count: 2 * batch * channels)         // (B, C) twice
        xhat.data.withUnsafeBufferPointer { hb in
            dy.data.withUnsafeBufferPointer { db in
                dx.data.withUnsafeMutableBufferPointer { dxb in
                    sums.withUnsafeMutableBufferPointer { sb in
                        let (hp, dp, dxp, sp) = (hb.baseAddress!, db.baseAddress!, dxb.baseAddress!, sb.baseAddress!)
                        let sumDyH = sp + batch * channels
                        parallelRanges(batch * groups, grain: max(1, (1 << 14) / size)) { range in
                            for bg in range {
                                let base = bg * size
                                let hs = hp + base, dxs = dxp + base
                                var ds = dp + base
                                if silu {
                                    // dL/da = dy·σ(a)·(1 + a·(1 − σ(a))), staged in dx and read from there.
                                    for cl in 0..<perGroup {
                                        let c = (bg % groups) * perGroup + cl
                                        let (gc, bc) = (gamma[c], beta[c])
                                        for j in (cl * plane)..<((cl + 1) * plane) {
                                            let a = gc * hs[j] + bc, s = 1 / (1 + exp(-a))
                                            dxs[j] = ds[j] * (s * (1 + a * (1 - s)))
                                        }
                                    }
                                    ds = UnsafePointer(dxs)
                                }
                                var meanD: Float = 0, meanDH: Float = 0
                                for cl in 0..<perGroup {
                                    let c = (bg % groups) * perGroup + cl
                                    var sDy: Float = 0, sDyH: Float = 0
                                    for j in (cl * plane)..<((cl + 1) * plane) {
                                        sDy += ds[j]
                                        sDyH += ds[j] * hs[j]
                                    }
                                    let bc = (bg / groups) * groups * perGroup + c
                                    sp[bc] = sDy
                                    sumDyH[bc] = sDyH
                                    meanD += gamma[c] * sDy
                                    meanDH += gamma[c] * sDyH
                                }
                                meanD /= Float(size)
                                meanDH /= Float(size)
                                let r = inverseStd[bg]
                                for cl in 0..<perGroup {
                                    let gc = gamma[(bg % groups) * perGroup + cl]
                                    for j in (cl * plane)..<((cl + 1) * plane) {
                                        dxs[j] = r * (gc * ds[j] - meanD - hs[j] * meanDH)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        for n in 0..<batch {
            for c in 0..<channels {
                dbeta[c] += sums[n * channels + c]
                dgamma[c] += sums[(batch + n) * channels + c]
            }
        }
        normalized = nil
        return dx
    }
}
