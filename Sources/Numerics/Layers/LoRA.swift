/// LoRA (Hu et al., 2021): a frozen layer W plus a trainable low-rank update,
///
///     y = W x + b + (α/r) · B (A x),    A: (r, in) ~ N(0, (1/r)²),  B: (out, r) = 0,
///
/// so an adapted layer starts out equal to its base. A's scale is diffusers' (std 1/r, not
/// the base layer's 1/√in): with one learning rate for A and B, a small A would change by a
/// large fraction each step while B barely moves the output — measured on the world's
/// denoiser, adapters with 1/√in did not lower the unsafe rate in 25 DDPO updates at lr 3e-3
/// and oscillated at 6e-3. A and B live in their own
/// `ParameterStore` (the trainable one), the base weights stay in theirs, frozen. Adapters
/// attach to an existing `Linear` or `Conv2d` (`attachLoRA`), so a model built from those
/// layers — attention projections included — gains adapters without changing its code.
/// Parameter names follow PEFT: "<name>.lora_A.weight", "<name>.lora_B.weight".
public final class LinearLoRA {
    /// r: the rank of the update.
    public let rank: Int
    /// α: the update is scaled by α/r.
    public let alpha: Float
    /// A: in → r.
    public let down: Linear
    /// B: r → out, zero at initialization.
    public let up: Linear

    /// α/r.
    public var scale: Float { alpha / Float(rank) }

    init(_ store: ParameterStore, name: String, inFeatures: Int, outFeatures: Int, rank: Int, alpha: Float,
         rng: inout RandomGenerator) {
        precondition(rank > 0, "LoRA \(name): rank must be positive, got \(rank)")
        self.rank = rank
        self.alpha = alpha
        down = Linear(store, name: "\(name).lora_A", inFeatures: inFeatures, outFeatures: rank, bias: false, rng: &rng)
        store.set(down.weight, Tensor(randomNormal: down.weight.shape, std: 1 / Float(rank), rng: &rng))
        up = Linear(store, name: "\(name).lora_B", inFeatures: rank, outFeatures: outFeatures, bias: false, rng: &rng)
        store.set(up.weight, Tensor(zeros: up.weight.shape))
    }

    /// (α/r)·B(A x): (..., out) for x: (..., in).
    func forward(_ x: Tensor) -> Tensor {
        scaled(up.forward(down.forward(x)), by: scale)
    }

    /// Adds dA, dB to the adapter's store; returns the adapter's share of dL/dx.
    func backward(_ dy: Tensor) -> Tensor {
        down.backward(up.backward(scaled(dy, by: scale)))
    }

    /// (α/r)·B·A: (out, in), the update as a dense weight.
    public var delta: Tensor {
        lowRankProduct(up: up.store.tensor(up.weight), down: down.store.tensor(down.weight), scale: scale)
    }
}

/// LoRA for a convolution: A is a convolution with the base's kernel, stride and padding
/// into r channels, B a 1×1 convolution from r channels (PEFT's choice), so that
/// (α/r)·B·A reshaped is a weight of the base's shape.
public final class Conv2dLoRA {
    /// r: the rank of the update.
    public let rank: Int
    /// α: the update is scaled by α/r.
    public let alpha: Float
    /// A: (r, Cin, k, k).
    public let down: Conv2d
    /// B: (Cout, r, 1, 1), zero at initialization.
    public let up: Conv2d

    /// α/r.
    public var scale: Float { alpha / Float(rank) }

    init(_ store: ParameterStore, name: String, base: Conv2d, rank: Int, alpha: Float, rng: inout RandomGenerator) {
        precondition(rank > 0, "LoRA \(name): rank must be positive, got \(rank)")
        self.rank = rank
        self.alpha = alpha
        down = Conv2d(store, name: "\(name).lora_A", inChannels: base.inChannels, outChannels: rank,
                      kernel: base.kernel, stride: base.stride, padding: base.padding, bias: false, rng: &rng)
        store.set(down.weight, Tensor(randomNormal: down.weight.shape, std: 1 / Float(rank), rng: &rng))
        up = Conv2d(store, name: "\(name).lora_B", inChannels: rank, outChannels: base.outChannels, kernel: 1,
                    bias: false, rng: &rng)
        store.set(up.weight, Tensor(zeros: up.weight.shape))
    }

    /// (α/r)·B(A ⋆ x): (B, Cout, Ho, Wo) for x: (B, Cin, H, W).
    func forward(_ x: Tensor) -> Tensor {
        scaled(up.forward(down.forward(x)), by: scale)
    }

    /// Adds dA, dB to the adapter's store; returns the adapter's share of dL/dx.
    func backward(_ dy: Tensor) -> Tensor {
        down.backward(up.backward(scaled(dy, by: scale)))
    }

    /// (α/r)·B·A: (Cout, Cin, k, k), the update as a dense weight.
    public var delta: Tensor {
        let b = up.store.tensor(up.weight), a = down.store.tensor(down.weight)
        let flat = lowRankProduct(up: b.reshaped([b.shape[0], rank]), down: a.reshaped([rank, a.count / rank]),
                                  scale: scale)
        return flat.reshaped([b.shape[0]] + Array(a.shape.dropFirst()))
    }
}

extension Linear {
    /// Attaches a rank-`rank` adapter registered in `store` under `name` and freezes this
    /// layer. `alpha` defaults to the rank (scale 1).
    @discardableResult
    public func attachLoRA(_ store: ParameterStore, name: String, rank: Int, alpha: Float? = nil,
                           rng: inout RandomGenerator) -> LinearLoRA {
        precondition(adapter == nil, "LoRA \(name): the layer already has an adapter")
        precondition(store !== self.store, "LoRA \(name): the adapter needs a store apart from the base weights")
        let lora = LinearLoRA(store, name: name, inFeatures: inFeatures, outFeatures: outFeatures, rank: rank,
                              alpha: alpha ?? Float(rank), rng: &rng)
        adapter = lora
        frozen = true
        return lora
    }

    /// Folds the adapter into the base weight (W ← W + (α/r)·B·A) and resets B to zero, so
    /// the layer computes the same function and the base alone now carries the update.
    public func mergeLoRA() {
        guard let adapter else { return }
        addToWeight(adapter.delta, store: store, weight: weight)
        adapter.up.store.set(adapter.up.weight, Tensor(zeros: adapter.up.weight.shape))
    }
}

extension Conv2d {
    /// Attaches a rank-`rank` adapter registered in `store` under `name` and freezes this
    /// layer. `alpha` defaults to the rank (scale 1).
    @discardableResult
    public func attachLoRA(_ store: ParameterStore, name: String, rank: Int, alpha: Float? = nil,
                           rng: inout RandomGenerator) -> Conv2dLoRA {
        precondition(adapter == nil, "LoRA \(name): the layer already has an adapter")
        precondition(store !== self.store, "LoRA \(name): the adapter needs a store apart from the base weights")
        let lora = Conv2dLoRA(store, name: name, base: self, rank: rank, alpha: alpha ?? Float(rank), rng: &rng)
        adapter = lora
        frozen = true
        return lora
    }

    /// Folds the adapter into the base weight (W ← W + (α/r)·B·A) and resets B to zero, so
    /// the layer computes the same function and the base alone now carries the update.
    public func mergeLoRA() {
        guard let adapter else { return }
        addToWeight(adapter.delta, store: store, weight: weight)
        adapter.up.store.set(adapter.up.weight, Tensor(zeros: adapter.up.weight.shape))
    }
}

/// scale · up(out, r) · down(r, in): (out, in).
private func lowRankProduct(up: Tensor, down: Tensor, scale: Float) -> Tensor {
    let (out, r, inner) = (up.shape[0], up.shape[1], down.shape[1])
    var product = Tensor(zeros: [out, inner])  // (out, in)
    up.data.withUnsafeBufferPointer { b in
        down.data.withUnsafeBufferPointer { a in
            product.data.withUnsafeMutableBufferPointer { p in
                sgemm(m: out, n: inner, k: r, alpha: scale, a: b.baseAddress!, lda: r,
                      b: a.baseAddress!, ldb: inner, c: p.baseAddress!, ldc: inner)
            }
        }
    }
    return product
}

private func addToWeight(_ delta: Tensor, store: ParameterStore, weight: ParameterStore.Parameter) {
    precondition(delta.count == weight.count, "LoRA merge: update of \(delta.count) values for \(weight.shape)")
    let w = store.value(weight)
    for i in 0..<weight.count { w[i] += delta.data[i] }
}

private func scaled(_ t: Tensor, by s: Float) -> Tensor {
    var out = t
    for i in out.data.indices { out.data[i] *= s }
    return out
}
