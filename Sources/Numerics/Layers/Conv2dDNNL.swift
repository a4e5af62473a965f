import CDNNL

/// The oneDNN primitives of one convolution shape (batch, geometry, bias), each run on the
/// calling thread alone: forward with the bias fused in, backward data, and backward weights
/// with the bias gradient. Our tensors stay NCHW / OIHW; with `blocked` oneDNN picks its own layouts (nChw8c
/// on AVX2) and each call copies into and out of them, which is counted in its time.
/// Backward primitives are made on the first backward call (sampling never needs them).
final class DNNLConvolution {
    struct Key: Hashable {
        /// `part`: which of the caller's concurrent shares of a batch (each has its own stream).
        let batch: Int, height: Int, width: Int, blocked: Bool, part: Int
    }

    let key: Key
    private let stream: dnnl_stream_t
    private let strides: [Int64], padding: [Int64]
    // Our layouts: x (B, Cin, H, W), W (Cout, Cin, k, k), b (Cout), y (B, Cout, Ho, Wo).
    private let src: dnnl_memory_desc_t, weights: dnnl_memory_desc_t, bias: dnnl_memory_desc_t?, dst: dnnl_memory_desc_t
    private let forwardPrimitive: DNNLPrimitive
    private let forwardSrc: DNNLOperand, forwardWeights: DNNLOperand, forwardDst: DNNLOperand
    private var backwardData: (primitive: DNNLPrimitive, diffDst: DNNLOperand, weights: DNNLOperand, diffSrc: DNNLOperand)?
    private var backwardWeights: (primitive: DNNLPrimitive, src: DNNLOperand, diffDst: DNNLOperand, diffWeights: DNNLOperand)?

    init(_ g: ConvGeometry, batch: Int, outChannels: Int, hasBias: Bool, blocked: Bool, part: Int = 0) {
        key = Key(batch: batch, height: g.height, width: g.width, blocked: blocked, part: part)
        DNNL.useThreads(1)
        var s: dnnl_stream_t?
        DNNL.check(dnnl_stream_create(&s, DNNL.engine, UInt32(dnnl_stream_default_flags.rawValue)), "creating a stream")
        stream = s!
        let (strides, padding) = ([Int64(g.stride), Int64(g.stride)], [Int64(g.padding), Int64(g.padding)])
        (self.strides, self.padding) = (strides, padding)
        src = DNNL.memoryDescriptor([batch, g.channels, g.height, g.width], dnnl_nchw)
        weights = DNNL.memoryDescriptor([outChannels, g.channels, g.kernel, g.kernel], dnnl_oihw)
        let bias = hasBias ? DNNL.memoryDescriptor([outChannels], dnnl_x) : nil
        self.bias = bias
        dst = DNNL.memoryDescriptor([batch, outChannels, g.outHeight, g.outWidth], dnnl_nchw)
        let chosen = Self.chooser(blocked)
        var op = dnnl_convolution_desc_t()
        var (s0, w0, d0) = (chosen(src), chosen(weights), chosen(dst))
        withOptionalPointer(bias) { b in
            DNNL.check(dnnl_convolution_forward_desc_init(&op, dnnl_forward_training, dnnl_convolution_direct, &s0, &w0, b,
                                                          &d0, strides, padding, padding), "describing a convolution")
        }
        forwardPrimitive = DNNLPrimitive(operation: op, "a forward convolution")
        forwardSrc = DNNLOperand(ours: src, primitive: forwardPrimitive.layout(dnnl_query_src_md), input: true)
        forwardWeights = DNNLOperand(ours: weights, primitive: forwardPrimitive.layout(dnnl_query_weights_md), input: true)
        forwardDst = DNNLOperand(ours: dst, primitive: forwardPrimitive.layout(dnnl_query_dst_md), input: false)
    }

    deinit { dnnl_stream_destroy(stream) }

    /// Our layout as is, or "any" (the primitive chooses) when blocked.
    private static func chooser(_ blocked: Bool) -> (dnnl_memory_desc_t) -> dnnl_memory_desc_t {
        { md in blocked ? DNNL.memoryDescriptor(Self.dims(md), dnnl_format_tag_any) : md }
    }

    private static func dims(_ md: dnnl_memory_desc_t) -> [Int] {
        withUnsafeBytes(of: md.dims) { Array($0.bindMemory(to: Int64.self).prefix(Int(md.ndims))).map(Int.init) }
    }

    /// y = W ⋆ x + b, y written in full.
    func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias b: UnsafePointer<Float>?,
                 y: UnsafeMutablePointer<Float>) {
        DNNL.useThreads(1)
        let xs = forwardSrc.stage(x, stream), ws = forwardWeights.stage(weight, stream)
        let ys = forwardDst.output(y)
        defer { xs.free(); ws.free(); ys.free() }
        var args = [(DNNL_ARG_SRC, xs.data, forwardSrc.layout), (DNNL_ARG_WEIGHTS, ws.data, forwardWeights.layout),
                    (DNNL_ARG_DST, ys.data, forwardDst.layout)]
        if let bias, let b { args.append((DNNL_ARG_BIAS, UnsafeMutableRawPointer(mutating: b), bias)) }
        forwardPrimitive.execute(stream, args)
        forwardDst.finish(ys, into: y, stream)
    }

    /// dx = Wᵀ ⋆ dy (written in full); with `dw`, dW += dy ⋆ x and db += Σ dy (when the
    /// convolution has a bias and `db` is given).
    func backward(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                  dx: UnsafeMutablePointer<Float>, dw: UnsafeMutablePointer<Float>?, db: UnsafeMutablePointer<Float>?) {
        DNNL.useThreads(1)
        let data = backwardData ?? makeBackwardData()
        backwardData = data
        let dys = data.diffDst.stage(dy, stream), ws = data.weights.stage(weight, stream)
        let dxs = data.diffSrc.output(dx)
        data.primitive.execute(stream, [(DNNL_ARG_DIFF_DST, dys.data, data.diffDst.layout),
                                        (DNNL_ARG_WEIGHTS, ws.data, data.weights.layout),
                                        (DNNL_ARG_DIFF_SRC, dxs.data, data.diffSrc.layout)])
        data.diffSrc.finish(dxs, into: dx, stream)
        ws.free()
        dxs.free()
        defer { dys.free() }
        guard let dw else { return }
        let grads = backwardWeights ?? makeBackwardWeights()
        backwardWeights = grads
        let xs = grads.src.stage(x, stream)
        // dy in the weights primitive's layout: usually the one the data primitive already has.
        let dyw = DNNL.equal(grads.diffDst.layout, data.diffDst.layout) ? nil : grads.diffDst.stage(dy, stream)
        let dws = DNNLBuffer(grads.diffWeights.layout)
        let dbs = bias.map(DNNLBuffer.init)
        defer { xs.free(); dyw?.free(); dws.deallocate(); dbs?.deallocate() }
        var args = [(DNNL_ARG_SRC, xs.data, grads.src.layout), (DNNL_ARG_DIFF_DST, (dyw ?? dys).data, grads.diffDst.layout),
                    (DNNL_ARG_DIFF_WEIGHTS, dws.data, dws.layout)]
        if let dbs { args.append((DNNL_ARG_DIFF_BIAS, dbs.data, dbs.layout)) }
        grads.primitive.execute(stream, args)
        grads.diffWeights.accumulate(dws, into: dw, stream)
        if let dbs, let db {
            let g = dbs.data.assumingMemoryBound(to: Float.self)
            for o in 0..<Self.dims(dst)[1] { db[o] += g[o] }
        }
    }

    private func makeBackwardData() -> (primitive: DNNLPrimitive, diffDst: DNNLOperand, weights: DNNLOperand, diffSrc: DNNLOperand) {
        let chosen = Self.chooser(key.blocked)
        var op = dnnl_convolution_desc_t()
        var (s0, w0, d0) = (chosen(src), chosen(weights), chosen(dst))
        DNNL.check(dnnl_convolution_backward_data_desc_init(&op, dnnl_convolution_direct, &s0, &w0, &d0,
                                                            strides, padding, padding), "describing a backward-data convolution")
        let p = DNNLPrimitive(operation: op, hint: forwardPrimitive, "a backward-data convolution")
        return (p, DNNLOperand(ours: dst, primitive: p.layout(dnnl_query_diff_dst_md), input: true),
                DNNLOperand(ours: weights, primitive: p.layout(dnnl_query_weights_md), input: true),
                DNNLOperand(ours: src, primitive: p.layout(dnnl_query_diff_src_md), input: false))
    }

    private func makeBackwardWeights() -> (primitive: DNNLPrimitive, src: DNNLOperand, diffDst: DNNLOperand, diffWeights: DNNLOperand) {
        let chosen = Self.chooser(key.blocked)
        var op = dnnl_convolution_desc_t()
        var (s0, w0, d0) = (chosen(src), chosen(weights), chosen(dst))
        withOptionalPointer(bias) { b in
            DNNL.check(dnnl_convolution_backward_weights_desc_init(&op, dnnl_convolution_direct, &s0, &w0, b, &d0,
                                                                   strides, padding, padding),
                       "describing a backward-weights convolution")
        }
        let p = DNNLPrimitive(operation: op, hint: forwardPrimitive, "a backward-weights convolution")
        return (p, DNNLOperand(ours: src, primitive: p.layout(dnnl_query_src_md), input: true),
                DNNLOperand(ours: dst, primitive: p.layout(dnnl_query_diff_dst_md), input: true),
                DNNLOperand(ours: weights, primitive: p.layout(dnnl_query_diff_weights_md), input: false, accumulate: true))
    }
}

/// One operand of a primitive: the layout the primitive uses, and the reorder between it and
/// ours when they differ (into the primitive's layout for inputs, out of it for outputs;
/// `accumulate` adds the output onto ours).
struct DNNLOperand {
    let layout: dnnl_memory_desc_t
    private let ours: dnnl_memory_desc_t
    private let reorder: DNNLPrimitive?

    init(ours: dnnl_memory_desc_t, primitive: dnnl_memory_desc_t, input: Bool, accumulate: Bool = false) {
        self.ours = ours
        layout = primitive
        reorder = DNNL.equal(ours, primitive) && !accumulate ? nil
            : input ? DNNLPrimitive(reorderFrom: ours, to: primitive)
            : DNNLPrimitive(reorderFrom: primitive, to: ours, accumulate: accumulate)
    }

    /// Where the primitive reads an input: ours, or a copy in its layout.
    func stage(_ p: UnsafePointer<Float>, _ stream: dnnl_stream_t) -> Staged {
        let data = UnsafeMutableRawPointer(mutating: p)
        guard let reorder else { return Staged(data: data, owned: false) }
        let copy = DNNLBuffer(layout)
        reorder.execute(stream, [(DNNL_ARG_FROM, data, ours), (DNNL_ARG_TO, copy.data, layout)])
        return Staged(data: copy.data, owned: true)
    }

    /// Where the primitive writes an output: ours, or a buffer `finish` copies from.
    func output(_ p: UnsafeMutablePointer<Float>) -> Staged {
        reorder == nil ? Staged(data: UnsafeMutableRawPointer(p), owned: false)
            : Staged(data: DNNLBuffer(layout).data, owned: true)
    }

    func finish(_ staged: Staged, into p: UnsafeMutablePointer<Float>, _ stream: dnnl_stream_t) {
        guard let reorder else { return }
        reorder.execute(stream, [(DNNL_ARG_FROM, staged.data, layout), (DNNL_ARG_TO, UnsafeMutableRawPointer(p), ours)])
    }

    /// Adds `buffer` (in the primitive's layout) onto ours at `p`.
    func accumulate(_ buffer: DNNLBuffer, into p: UnsafeMutablePointer<Float>, _ stream: dnnl_stream_t) {
        reorder!.execute(stream, [(DNNL_ARG_FROM, buffer.data, layout), (DNNL_ARG_TO, UnsafeMutableRawPointer(p), ours)])
    }

    struct Staged {
        let data: UnsafeMutableRawPointer
        let owned: Bool
        func free() { if owned { data.deallocate() } }
    }
}

private func withOptionalPointer<T, R>(_ value: T?, _ body: (UnsafePointer<T>?) -> R) -> R {
    guard var value else { return body(nil) }
    return withUnsafePointer(to: &value) { body($0) }
}
