import Dispatch

/// 2-D convolution over NCHW tensors: y = W ⋆ x + b, with a square kernel, stride and
/// zero padding.
///
/// Lowered to one sgemm per chunk of images: im2col lays the chunk's receptive fields out
/// as columns (Cin·k·k, n·Ho·Wo), so a single large product covers n images. Chunks keep
/// the column buffer near `columnBudget` floats. A 1×1, stride-1, unpadded convolution
/// needs no columns: each image already is its column matrix. Each instance keeps its
/// column and staging buffers between calls (about `columnBudget` floats plus the chunk's
/// output), so training steps do not allocate them again.
/// `backend` chooses between that path and oneDNN's convolutions (`DNNLConvolution`); each is
/// the other's oracle in the tests.
/// Follows the layer convention of `Linear`, including `frozen` and an optional LoRA adapter.
public final class Conv2d {
    /// The implementation a convolution runs on.
    public enum Backend: Sendable {
        /// im2col and OpenBLAS sgemm.
        case im2col
        /// oneDNN on our NCHW/OIHW layouts.
        case oneDNN
        /// oneDNN in the blocked layouts it chooses, with the copies into and out of them.
        case oneDNNBlocked
    }

    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Int
    public let stride: Int
    public let padding: Int
    public let weight: ParameterStore.Parameter  // W: (Cout, Cin, k, k)
    public let bias: ParameterStore.Parameter?   // b: (Cout)
    /// When true, `backward` skips the weight and bias gradients and only returns dL/dx.
    public var frozen = false
    /// The low-rank adapter added to this layer's output, if any.
    public internal(set) var adapter: Conv2dLoRA?
    let store: ParameterStore
    private var input: Tensor?                   // x: (B, Cin, H, W)
    private let scratch = ConvScratch()
    /// The implementation each pass runs; by default what measured fastest for this shape.
    public var backends: (forward: Backend, backward: Backend)
    /// oneDNN's primitives for the shapes and batch shares seen, a few at most.
    private var primitives: [DNNLConvolution.Key: DNNLConvolution] = [:]

    /// Floats of im2col columns per chunk: large enough that one sgemm has thousands of
    /// columns, small enough to stay in the last-level cache.
    static let columnBudget = 1 << 20

    public init(_ store: ParameterStore, name: String, inChannels: Int, outChannels: Int,
                kernel: Int, stride: Int = 1, padding: Int = 0, bias: Bool = true,
                rng: inout RandomGenerator) {
        precondition(kernel > 0 && stride > 0 && padding >= 0, "Conv2d \(name): bad kernel/stride/padding")
        self.store = store
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        // Same Kaiming-uniform-like scale as Linear, over the receptive field.
        let bound = 1 / Float(inChannels * kernel * kernel).squareRoot()
        let w = (0..<(outChannels * inChannels * kernel * kernel)).map { _ in rng.nextUniform(-bound, bound) }
        weight = store.register("\(name).weight", shape: [outChannels, inChannels, kernel, kernel], values: w)
        self.bias = bias ? store.register("\(name).bias", shape: [outChannels],
                                          values: [Float](repeating: 0, count: outChannels)) : nil
        backends = Conv2d.fastestBackends(kernel: kernel, inChannels: inChannels)
    }

    /// What measured fastest at the denoiser's shapes (`shielddiff bench numerics`, README
    /// "Speed: oneDNN convolutions"): oneDNN's blocked direct convolution for kernels wider than
    /// 1 on 16 or more input channels, its copies into and out of the blocked layout included;
    /// oneDNN on NCHW for 1×1 (a GEMM per image). On fewer input channels (conv_in's 12) the
    /// blocked forward pads them to 16 and runs at half speed, so that forward runs on NCHW.
    /// The forward pass stays on im2col for now: with oneDNN's forward the sampled images'
    /// batch independence under the Haswell kernel moved from below 1e-4 to 1.2e-4
    /// (`SamplerTests.testImagesDoNotDependOnTheBatch`), and that bound is not derived yet.
    /// The forward gain it gives up is 8% of the convolutions' CPU time.
    public static func fastestBackends(kernel: Int, inChannels: Int) -> (forward: Backend, backward: Backend) {
        (.im2col, kernel == 1 ? .oneDNN : .oneDNNBlocked)
    }

    /// Output height and width for an input of `height` × `width`.
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        ((height + 2 * padding - kernel) / stride + 1, (width + 2 * padding - kernel) / stride + 1)
    }

    private func geometry(_ x: Tensor) -> ConvGeometry {
        precondition(x.rank == 4 && x.shape[1] == inChannels, "Conv2d expects (B, \(inChannels), H, W), got \(x.shape)")
        let (ho, wo) = outputSize(height: x.shape[2], width: x.shape[3])
        precondition(ho > 0 && wo > 0, "Conv2d: input \(x.shape) smaller than kernel \(kernel)")
        return ConvGeometry(channels: inChannels, height: x.shape[2], width: x.shape[3], kernel: kernel,
                            stride: stride, padding: padding, outHeight: ho, outWidth: wo)
    }

    private var isPointwise: Bool { kernel == 1 && stride == 1 && padding == 0 }

    public func forward(_ x: Tensor) -> Tensor {
        let g = geometry(x)
        input = x
        let batch = x.shape[0], plane = g.outPlane, rows = g.columnRows
        var y = Tensor(uninitialized: [batch, outChannels, g.outHeight, g.outWidth])  // y: (B, Cout, Ho, Wo), all written
        let w = store.value(weight)                                           // W: (Cout, Cin·k·k)
        let b = bias.map { store.value($0) }                                  // b: (Cout)
        x.data.withUnsafeBufferPointer { xb in
            y.data.withUnsafeMutableBufferPointer { yb in
                let xp = xb.baseAddress!, yp = yb.baseAddress!
                if let parts = oneDNN(g, batch: batch, backends.forward) {
                    let (inImage, outImage) = (inChannels * g.inPlane, outChannels * plane)
                    nonisolated(unsafe) let (xp, yp, w, b) = (xp, yp, w, b)
                    runParts(parts.count) { i in
                        let n0 = parts[i].images.lowerBound
                        parts[i].primitives.forward(x: xp + n0 * inImage, weight: w, bias: b, y: yp + n0 * outImage)
                    }
                    return
                }
                if isPointwise {
                    for n in 0..<batch {
                        let yn = yp + n * outChannels * plane                 // y[n]: (Cout, H·W)
                        if let b { for o in 0..<outChannels { (yn + o * plane).update(repeating: b[o], count: plane) } }
                        sgemm(m: outChannels, n: plane, k: rows, a: w, lda: rows,
                              b: xp + n * rows * plane, ldb: plane, beta: b == nil ? 0 : 1, c: yn, ldc: plane)
                    }
                    return
                }
                let chunk = chunkImages(g, batch: batch)
                let cols = scratch.columns(rows * chunk * plane)              // cols: (Cin·k·k, n·Ho·Wo)
                let out = scratch.staging(outChannels * chunk * plane)        // out: (Cout, n·Ho·Wo)
                for n0 in Swift.stride(from: 0, to: batch, by: chunk) {
                    let count = min(chunk, batch - n0), ld = count * plane
                    im2col(g, images: count, x: xp + n0 * g.inPlane * inChannels, cols: cols)
                    sgemm(m: outChannels, n: ld, k: rows, a: w, lda: rows, b: cols, ldb: ld, c: out, ldc: ld)
                    // (Cout, n, Ho·Wo) → (n, Cout, Ho·Wo), adding the bias on the way.
                    let outChannels = self.outChannels
                    parallelRanges(count * outChannels, grain: max(1, (1 << 14) / plane)) { range in
                        for io in range {
                            let (i, o) = io.quotientAndRemainder(dividingBy: outChannels)
                            let src = out + o * ld + i * plane
                            let dst = yp + ((n0 + i) * outChannels + o) * plane
                            let bo = b?[o] ?? 0
                            for j in 0..<plane { dst[j] = src[j] + bo }
                        }
                    }
                }
            }
        }
        if let adapter { y.add(adapter.forward(x)) }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("Conv2d.backward before forward") }
        let g = geometry(x)
        let batch = x.shape[0], plane = g.outPlane, rows = g.columnRows
        precondition(dy.shape == [batch, outChannels, g.outHeight, g.outWidth], "Conv2d.backward: dy shape \(dy.shape)")
        let parts = oneDNN(g, batch: batch, backends.backward)
        // im2col's col2im adds into dx; oneDNN writes all of it.
        var dx = parts == nil ? Tensor(zeros: x.shape) : Tensor(uninitialized: x.shape)  // dx: (B, Cin, H, W)
        let w = store.value(weight), dw = store.grad(weight)                  // W, dW: (Cout, Cin·k·k)
        let db = frozen ? nil : bias.map { store.grad($0) }                   // db: (Cout)
        x.data.withUnsafeBufferPointer { xb in
            dy.data.withUnsafeBufferPointer { dyb in
                dx.data.withUnsafeMutableBufferPointer { dxb in
                    let xp = xb.baseAddress!, dyp = dyb.baseAddress!, dxp = dxb.baseAddress!
                    if let parts {
                        oneDNNBackward(parts, g, x: xp, dy: dyp, weight: w, dx: dxp, dw: frozen ? nil : dw, db: db)
                        return
                    }
                    if let db {
                        // Each channel's images in order, as the serial loop added them.
                        let outChannels = self.outChannels
                        parallelRanges(outChannels, grain: max(1, (1 << 14) / (batch * plane))) { range in
                            for o in range {
                                for n in 0..<batch {
                                    let src = dyp + (n * outChannels + o) * plane
                                    var s: Float = 0
                                    for j in 0..<plane { s += src[j] }
                                    db[o] += s
                                }
                            }
                        }
                    }
                    if isPointwise {
                        for n in 0..<batch {
                            let dyn = dyp + n * outChannels * plane           // dy[n]: (Cout, H·W)
                            // dW(Cout, Cin) += dy[n] · x[n]ᵀ;  dx[n](Cin, H·W) = Wᵀ · dy[n]
                            if !frozen {
                                sgemm(transB: true, m: outChannels, n: rows, k: plane, a: dyn, lda: plane,
                                      b: xp + n * rows * plane, ldb: plane, beta: 1, c: dw, ldc: rows)
                            }
                            sgemm(transA: true, m: rows, n: plane, k: outChannels, a: w, lda: rows,
                                  b: dyn, ldb: plane, c: dxp + n * rows * plane, ldc: plane)
                        }
                        return
                    }
                    let chunk = chunkImages(g, batch: batch)
                    let cols = scratch.columns(rows * chunk * plane)          // cols: (Cin·k·k, n·Ho·Wo)
                    let dyt = scratch.staging(outChannels * chunk * plane)    // dyt: (Cout, n·Ho·Wo)
                    for n0 in Swift.stride(from: 0, to: batch, by: chunk) {
                        let count = min(chunk, batch - n0), ld = count * plane
                        let outChannels = self.outChannels
                        parallelRanges(count * outChannels, grain: max(1, (1 << 14) / plane)) { range in
                            for io in range {
                                let (i, o) = io.quotientAndRemainder(dividingBy: outChannels)
                                (dyt + o * ld + i * plane).update(from: dyp + ((n0 + i) * outChannels + o) * plane,
                                                                  count: plane)
                            }
                        }
                        if !frozen {
                            im2col(g, images: count, x: xp + n0 * g.inPlane * inChannels, cols: cols)
                            // dW(Cout, Cin·k·k) += dyt · colsᵀ
                            sgemm(transB: true, m: outChannels, n: rows, k: ld, a: dyt, lda: ld,
                                  b: cols, ldb: ld, beta: 1, c: dw, ldc: rows)
                        }
                        // dcols(Cin·k·k, n·Ho·Wo) = Wᵀ · dyt, reusing the column buffer.
                        sgemm(transA: true, m: rows, n: ld, k: outChannels, a: w, lda: rows,
                              b: dyt, ldb: ld, c: cols, ldc: ld)
                        col2im(g, images: count, cols: cols, dx: dxp + n0 * g.inPlane * inChannels)
                    }
                }
            }
        }
        input = nil
        if let adapter { dx.add(adapter.backward(dy)) }
        return dx
    }

    /// oneDNN's primitives for this shape, one per share of the batch, or nil on the im2col
    /// backend. Each primitive runs on one thread and the batch is split across `blasThreads`
    /// threads, as the sampler and learner split theirs: oneDNN's own OpenMP threads spin at
    /// their barriers and, on a shared machine, lost 25–50% against OpenBLAS (README "Speed:
    /// oneDNN convolutions").
    private func oneDNN(_ g: ConvGeometry, batch: Int, _ backend: Backend)
        -> [(images: Range<Int>, primitives: DNNLConvolution)]? {
        let blocked: Bool
        switch backend {
        case .im2col: return nil
        case .oneDNN: blocked = false
        case .oneDNNBlocked: blocked = true
        }
        let count = max(1, min(blasThreads, batch))
        return (0..<count).map { part in
            let images = (part * batch / count)..<((part + 1) * batch / count)
            let key = DNNLConvolution.Key(batch: images.count, height: g.height, width: g.width, blocked: blocked, part: part)
            if let made = primitives[key] { return (images, made) }
            if primitives.count >= 8 { primitives.removeAll() }
            let made = DNNLConvolution(g, batch: images.count, outChannels: outChannels, hasBias: bias != nil,
                                       blocked: blocked, part: part)
            primitives[key] = made
            return (images, made)
        }
    }

    /// The backward pass on oneDNN's shares of the batch: dx share by share; each share's dW and
    /// db apart, then added in share order (so a thread count always gives the same result).
    private func oneDNNBackward(_ parts: [(images: Range<Int>, primitives: DNNLConvolution)], _ g: ConvGeometry,
                                x: UnsafePointer<Float>, dy: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                dx: UnsafeMutablePointer<Float>, dw: UnsafeMutablePointer<Float>?,
                                db: UnsafeMutablePointer<Float>?) {
        let (inImage, outImage) = (inChannels * g.inPlane, outChannels * g.outPlane)
        if parts.count == 1 {
            parts[0].primitives.backward(x: x, dy: dy, weight: weight, dx: dx, dw: dw, db: db)
            return
        }
        let (wCount, bCount) = (self.weight.count, bias == nil ? 0 : outChannels)
        let shares = UnsafeMutablePointer<Float>.allocate(capacity: parts.count * (wCount + bCount))
        defer { shares.deallocate() }
        shares.initialize(repeating: 0, count: parts.count * (wCount + bCount))
        nonisolated(unsafe) let (x, dy, weight, dx, hasW, hasB) = (x, dy, weight, dx, dw != nil, db != nil)
        runParts(parts.count) { i in
            let n0 = parts[i].images.lowerBound, share = shares + i * (wCount + bCount)
            parts[i].primitives.backward(x: x + n0 * inImage, dy: dy + n0 * outImage, weight: weight, dx: dx + n0 * inImage,
                                         dw: hasW ? share : nil, db: hasB ? share + wCount : nil)
        }
        for i in parts.indices {
            let share = shares + i * (wCount + bCount)
            if let dw { for j in 0..<wCount { dw[j] += share[j] } }
            if let db { for j in 0..<bCount { db[j] += share[wCount + j] } }
        }
    }

    private func chunkImages(_ g: ConvGeometry, batch: Int) -> Int {
        max(1, min(batch, Conv2d.columnBudget / (g.columnRows * g.outPlane)))
    }
}

/// Scratch buffers a convolution reuses across calls, so that the hot loop never
/// allocates (and never page-faults fresh memory).
private final class ConvScratch {
    private var cols = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private var colsCapacity = 1
    private var stage = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private var stageCapacity = 1

    deinit {
        cols.deallocate()
        stage.deallocate()
    }

    func columns(_ n: Int) -> UnsafeMutablePointer<Float> {
        if n > colsCapacity { cols.deallocate(); cols = .allocate(capacity: n); colsCapacity = n }
        return cols
    }

    func staging(_ n: Int) -> UnsafeMutablePointer<Float> {
        if n > stageCapacity { stage.deallocate(); stage = .allocate(capacity: n); stageCapacity = n }
        return stage
    }
}

/// Runs `body(0..<count)` on `count` threads (inline for one).
private func runParts(_ count: Int, _ body: (Int) -> Void) {
    guard count > 1 else { body(0); return }
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let run = body
        DispatchQueue.concurrentPerform(iterations: count) { run($0) }
    }
}
