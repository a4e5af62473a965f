/// y = x · Wᵀ + b over the last axis.
///
/// The layer convention, shared by every layer in `Layers/`: parameters live in a
/// `ParameterStore`; `forward` keeps what `backward` needs (one forward per backward, so
/// an instance is used once per pass — batch the calls instead of reusing it);
/// `backward` takes dL/dy, *adds* parameter gradients into the store and returns dL/dx.
///
/// A LoRA adapter may be attached (`attachLoRA`, in LoRA.swift); it then adds its low-rank
/// term to the output and trains in its own store while this layer is frozen.
public final class Linear {
    public let inFeatures: Int
    public let outFeatures: Int
    public let weight: ParameterStore.Parameter  // W: (out, in)
    public let bias: ParameterStore.Parameter?   // b: (out)
    /// When true, `backward` skips the weight and bias gradients (the two gemm-sized
    /// costs of a frozen base layer) and only returns dL/dx.
    public var frozen = false
    /// The low-rank adapter added to this layer's output, if any.
    public internal(set) var adapter: LinearLoRA?
    let store: ParameterStore
    private var input: Tensor?                   // x: (..., in)

    public init(_ store: ParameterStore, name: String, inFeatures: Int, outFeatures: Int,
                bias: Bool = true, rng: inout RandomGenerator) {
        self.store = store
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        // Kaiming-uniform-like scale, as in common frameworks' defaults.
        let bound = 1 / Float(inFeatures).squareRoot()
        let w = (0..<(outFeatures * inFeatures)).map { _ in rng.nextUniform(-bound, bound) }
        weight = store.register("\(name).weight", shape: [outFeatures, inFeatures], values: w)
        self.bias = bias ? store.register("\(name).bias", shape: [outFeatures],
                                          values: [Float](repeating: 0, count: outFeatures)) : nil
    }

    public func forward(_ x: Tensor) -> Tensor {
        precondition(x.shape.last == inFeatures, "Linear expects last dim \(inFeatures), got \(x.shape)")
        input = x
        let rows = x.count / inFeatures
        var y = Tensor(uninitialized: Array(x.shape.dropLast()) + [outFeatures])  // y: (..., out), bias or beta 0
        let w = store.value(weight)
        x.data.withUnsafeBufferPointer { xp in
            y.data.withUnsafeMutableBufferPointer { yp in
                if let bias {
                    let b = store.value(bias)
                    for r in 0..<rows { (yp.baseAddress! + r * outFeatures).update(from: b, count: outFeatures) }
                }
                sgemm(transB: true, m: rows, n: outFeatures, k: inFeatures,
                      a: xp.baseAddress!, lda: inFeatures, b: w, ldb: inFeatures,
                      beta: bias == nil ? 0 : 1, c: yp.baseAddress!, ldc: outFeatures)
            }
        }
        if let adapter { y.add(adapter.forward(x)) }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("Linear.backward before forward") }
        precondition(dy.shape == Array(x.shape.dropLast()) + [outFeatures], "Linear.backward: dy shape \(dy.shape)")
        let rows = x.count / inFeatures
        var dx = Tensor(uninitialized: x.shape)  // written by the beta-0 product
        x.data.withUnsafeBufferPointer { xp in
            dy.data.withUnsafeBufferPointer { dyp in
                if !frozen {
                    // dW(out, in) += dyᵀ · x
                    sgemm(transA: true, m: outFeatures, n: inFeatures, k: rows,
                          a: dyp.baseAddress!, lda: outFeatures, b: xp.baseAddress!, ldb: inFeatures,
                          beta: 1, c: store.grad(weight), ldc: inFeatures)
                }
                if let bias, !frozen {
                    let db = store.grad(bias)
                    for r in 0..<rows {
                        for o in 0..<outFeatures { db[o] += dyp[r * outFeatures + o] }
                    }
                }
                dx.data.withUnsafeMutableBufferPointer { dxp in
                    // dx(rows, in) = dy · W
                    sgemm(m: rows, n: inFeatures, k: outFeatures,
                          a: dyp.baseAddress!, lda: outFeatures, b: store.value(weight), ldb: inFeatures,
                          c: dxp.baseAddress!, ldc: inFeatures)
                }
            }
        }
        input = nil
        if let adapter { dx.add(adapter.backward(dy)) }
        return dx
    }
}
