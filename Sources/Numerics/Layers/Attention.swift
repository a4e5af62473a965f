/// Which keys each batch item may attend to: padded text tokens are masked out.
public struct KeyPaddingMask: Equatable, Sendable {
    /// B: batch items.
    public let batch: Int
    /// Tk: keys per item.
    public let keys: Int
    /// attend: (B, Tk); false marks a padding key that gets exactly zero attention weight.
    public let attend: [Bool]

    /// From flags laid out (B, Tk) row-major.
    public init(batch: Int, keys: Int, attend: [Bool]) {
        precondition(attend.count == batch * keys, "KeyPaddingMask (\(batch), \(keys)) needs \(batch * keys) flags, got \(attend.count)")
        (self.batch, self.keys, self.attend) = (batch, keys, attend)
    }

    /// From a (B, Tk) tensor: nonzero attends, zero masks.
    public init(_ t: Tensor) {
        precondition(t.rank == 2, "KeyPaddingMask expects a (B, Tk) tensor, got \(t.shape)")
        self.init(batch: t.shape[0], keys: t.shape[1], attend: t.data.map { $0 != 0 })
    }

    /// The first `lengths[b]` keys of item b attend; the rest are padding.
    public init(lengths: [Int], keys: Int) {
        precondition(lengths.allSatisfy { (0...keys).contains($0) }, "KeyPaddingMask lengths \(lengths) must lie in 0...\(keys)")
        self.init(batch: lengths.count, keys: keys,
                  attend: lengths.flatMap { n in (0..<keys).map { $0 < n } })
    }
}

/// Multi-head scaled dot-product attention: queries from x (B, Tq, D), keys and values from
/// a context (B, Tk, Dc) — cross-attention — or from x itself — self-attention.
///
/// Follows the `Linear` convention (one forward per backward). Heads are column blocks of
/// the projected (B, T, D) tensors, so every per-head product is a strided `sgemm` on them
/// with no transposes. Those products are small (at the denoiser's shapes OpenBLAS runs each
/// on one thread), so the B·h (item, head) blocks are split across the element-wise threads
/// (`parallelGEMMBlocks`), each block computed on one thread with one-thread GEMMs. As in Stable Diffusion's attention blocks only the output projection
/// has a bias (a key bias would cancel in the softmax anyway). An item whose keys are all
/// masked gets zero weights, so its output is the output bias.
public final class MultiHeadAttention {
    /// D: query and output features.
    public let dim: Int
    /// Dc: context features (D for self-attention).
    public let contextDim: Int
    /// h: attention heads.
    public let heads: Int
    /// D/h: features per head.
    public var headDim: Int { dim / heads }
    /// Projections D → D (queries), Dc → D (keys, values), D → D (output).
    public let query: Linear, key: Linear, value: Linear, output: Linear

    private struct Cache {
        let q: Tensor       // q: (B, Tq, D)
        let k: Tensor       // k: (B, Tk, D)
        let v: Tensor       // v: (B, Tk, D)
        let isSelf: Bool
    }
    private var cache: Cache?
    /// P: (B, h, Tq, Tk), the softmax weights of the last forward. Owned by the layer and
    /// reused across passes: at B=32, T=256 it is 32 MB, and a fresh allocation each step
    /// costs more in page faults than the softmax itself.
    private var probs: [Float] = []

    /// `contextDim` defaults to `dim` (self-attention, or cross-attention on same-width context).
    public init(_ store: ParameterStore, name: String, dim: Int, contextDim: Int? = nil, heads: Int,
                rng: inout RandomGenerator) {
        precondition(heads > 0 && dim % heads == 0, "MultiHeadAttention: dim \(dim) not divisible by \(heads) heads")
        self.dim = dim
        self.contextDim = contextDim ?? dim
        self.heads = heads
        query = Linear(store, name: "\(name).q", inFeatures: dim, outFeatures: dim, bias: false, rng: &rng)
        key = Linear(store, name: "\(name).k", inFeatures: self.contextDim, outFeatures: dim, bias: false, rng: &rng)
        value = Linear(store, name: "\(name).v", inFeatures: self.contextDim, outFeatures: dim, bias: false, rng: &rng)
        output = Linear(store, name: "\(name).out", inFeatures: dim, outFeatures: dim, rng: &rng)
    }

    /// y: (B, Tq, D) from x: (B, Tq, D) attending over `context` (B, Tk, Dc), or over x when
    /// `context` is nil. `mask` is (B, Tk) over the keys.
    public func forward(_ x: Tensor, context: Tensor? = nil, mask: KeyPaddingMask? = nil) -> Tensor {
        let c = context ?? x
        precondition(x.rank == 3 && x.shape[2] == dim, "MultiHeadAttention expects x (B, Tq, \(dim)), got \(x.shape)")
        precondition(c.rank == 3 && c.shape[0] == x.shape[0] && c.shape[2] == contextDim,
                     "MultiHeadAttention expects context (\(x.shape[0]), Tk, \(contextDim)), got \(c.shape)")
        let (b, tq, tk) = (x.shape[0], x.shape[1], c.shape[1])
        if let mask {
            precondition(mask.batch == b && mask.keys == tk, "MultiHeadAttention: mask (\(mask.batch), \(mask.keys)) for keys (\(b), \(tk))")
        }
        let q = query.forward(x)  // q: (B, Tq, D)
        let k = key.forward(c)    // k: (B, Tk, D)
        let v = value.forward(c)  // v: (B, Tk, D)
        if probs.count != b * heads * tq * tk { probs = [Float](repeating: 0, count: b * heads * tq * tk) }
        var o = Tensor(uninitialized: [b, tq, dim])  // o: (B, Tq, D), heads side by side; every entry written below
        let (d, dh, h) = (dim, headDim, heads)
        let scale = 1 / Float(dh).squareRoot()
        withPointers(q, k, v, mask) { qp, kp, vp, keep in
            probs.withUnsafeMutableBufferPointer { pp in
                o.data.withUnsafeMutableBufferPointer { op in
                    let (p0, o0) = (pp.baseAddress!, op.baseAddress!)
                    // Each (item, head) block writes only its own P block and O columns.
                    parallelGEMMBlocks(b * h) { blocks in
                        for ij in blocks {
                            let (i, j) = ij.quotientAndRemainder(dividingBy: h)
                            let qb = qp + i * tq * d + j * dh, kb = kp + i * tk * d + j * dh
                            let vb = vp + i * tk * d + j * dh
                            let pb = p0 + ij * tq * tk
                            // S(Tq, Tk) = scale · Q Kᵀ, then softmax over keys.
                            sgemm(transB: true, m: tq, n: tk, k: dh, alpha: scale,
                                  a: qb, lda: d, b: kb, ldb: d, c: pb, ldc: tk)
                            softmaxRows(pb, rows: tq, cols: tk, keep: keep.map { $0 + i * tk })
                            // O(Tq, dh) = P V
                            sgemm(m: tq, n: dh, k: tk, a: pb, lda: tk, b: vb, ldb: d,
                                  c: o0 + i * tq * d + j * dh, ldc: d)
                        }
                    }
                }
            }
        }
        cache = Cache(q: q, k: k, v: v, isSelf: context == nil)
        return output.forward(o)
    }

    /// From dL/dy: (B, Tq, D), adds every projection's gradient and returns dL/dx and, for
    /// cross-attention, dL/dcontext. For self-attention both paths are summed into `dx`.
    public func backward(_ dy: Tensor) -> (dx: Tensor, dcontext: Tensor?) {
        guard let cache else { preconditionFailure("MultiHeadAttention.backward before forward") }
        self.cache = nil
        let (q, k, v) = (cache.q, cache.k, cache.v)
        let (b, tq, tk) = (q.shape[0], q.shape[1], k.shape[1])
        let (d, dh, h) = (dim, headDim, heads)
        let scale = 1 / Float(dh).squareRoot()
        let dO = output.backward(dy)          // dO: (B, Tq, D)
        // Every entry of dQ, dK, dV is written by one per-head product below.
        var dQ = Tensor(uninitialized: q.shape)  // dQ: (B, Tq, D)
        var dK = Tensor(uninitialized: k.shape)  // dK: (B, Tk, D)
        var dV = Tensor(uninitialized: v.shape)  // dV: (B, Tk, D)
        withPointers(q, k, v, nil) { qp, kp, vp, _ in
            probs.withUnsafeBufferPointer { pp in
                dO.data.withUnsafeBufferPointer { dop in
                    dQ.data.withUnsafeMutableBufferPointer { dqp in
                        dK.data.withUnsafeMutableBufferPointer { dkp in
                            dV.data.withUnsafeMutableBufferPointer { dvp in
                                let (p0, do0) = (pp.baseAddress!, dop.baseAddress!)
                                let (dq0, dk0, dv0) = (dqp.baseAddress!, dkp.baseAddress!, dvp.baseAddress!)
                                // Each (item, head) block writes only its own columns of dQ, dK, dV.
                                parallelGEMMBlocks(b * h) { blocks in
                                    let ds = UnsafeMutablePointer<Float>.allocate(capacity: tq * tk)  // dP, then dS
                                    defer { ds.deallocate() }
                                    for ij in blocks {
                                        let (i, j) = ij.quotientAndRemainder(dividingBy: h)
                                        let qOff = i * tq * d + j * dh, kOff = i * tk * d + j * dh
                                        let pb = p0 + ij * tq * tk, dob = do0 + qOff
                                        // dP(Tq, Tk) = dO Vᵀ
                                        sgemm(transB: true, m: tq, n: tk, k: dh, a: dob, lda: d,
                                              b: vp + kOff, ldb: d, c: ds, ldc: tk)
                                        // dV(Tk, dh) = Pᵀ dO
                                        sgemm(transA: true, m: tk, n: dh, k: tq, a: pb, lda: tk,
                                              b: dob, ldb: d, c: dv0 + kOff, ldc: d)
                                        softmaxBackwardRows(probs: pb, grad: ds, rows: tq, cols: tk)
                                        // dQ(Tq, dh) = scale · dS K;  dK(Tk, dh) = scale · dSᵀ Q
                                        sgemm(m: tq, n: dh, k: tk, alpha: scale, a: ds, lda: tk,
                                              b: kp + kOff, ldb: d, c: dq0 + qOff, ldc: d)
                                        sgemm(transA: true, m: tk, n: dh, k: tq, alpha: scale, a: ds, lda: tk,
                                              b: qp + qOff, ldb: d, c: dk0 + kOff, ldc: d)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        var dx = query.backward(dQ)                  // dx: (B, Tq, D)
        var dc = key.backward(dK)                    // dcontext: (B, Tk, Dc)
        let dcFromV = value.backward(dV)             // dcontext: (B, Tk, Dc)
        dc.add(dcFromV)
        if cache.isSelf {
            dx.add(dc)
            return (dx, nil)
        }
        return (dx, dc)
    }

    private func withPointers(_ q: Tensor, _ k: Tensor, _ v: Tensor, _ mask: KeyPaddingMask?,
                              _ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Bool>?) -> Void) {
        q.data.withUnsafeBufferPointer { qp in
            k.data.withUnsafeBufferPointer { kp in
                v.data.withUnsafeBufferPointer { vp in
                    if let mask {
                        mask.attend.withUnsafeBufferPointer { body(qp.baseAddress!, kp.baseAddress!, vp.baseAddress!, $0.baseAddress!) }
                    } else {
                        body(qp.baseAddress!, kp.baseAddress!, vp.baseAddress!, nil)
                    }
                }
            }
        }
    }
}
