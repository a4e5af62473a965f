/// Softmax over the last axis, following the `Linear` layer convention.
///
/// Each row subtracts its maximum before `exp`, so large logits cannot overflow.
public final class Softmax {
    private var output: Tensor?  // y: (..., N)

    public init() {}

    /// y: (..., N), each row summing to 1, from x: (..., N).
    public func forward(_ x: Tensor) -> Tensor {
        guard let cols = x.shape.last, cols > 0 else { preconditionFailure("Softmax needs a nonempty last axis, got \(x.shape)") }
        var y = x  // y: (..., N)
        y.data.withUnsafeMutableBufferPointer { yp in
            softmaxRows(yp.baseAddress!, rows: x.count / cols, cols: cols, keep: nil)
        }
        output = y
        return y
    }

    /// dL/dx from dL/dy, both (..., N).
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
/// becomes all zeros rather than NaN. Unmasked rows take the 8-lane path below.
@inline(__always)
func softmaxRows(_ p: UnsafeMutablePointer<Float>, rows: Int, cols: Int, keep: UnsafePointer<Bool>?) {
    for r in 0..<rows {
        if let keep {
            maskedSoftmaxRow(p + r * cols, cols: cols, keep: keep)
        } else {
            softmaxRow(p + r * cols, cols: cols)
        }
    }
}

@inline(__always)
private func softmaxRow(_ row: UnsafeMutablePointer<Float>, cols: Int) {
    let full = cols & ~7
    var m8 = SIMD8<Float>(repeating: -.infinity)
    for c in stride(from: 0, to: full, by: 8) { m8 = Lanes.max(m8, Lanes.load(row + c)) }
    var m = m8.max()
    for c in full..<cols { m = max(m, row[c]) }
    let m8b = SIMD8<Float>(repeating: m)
    var s8 = SIMD8<Float>()
    for c in stride(from: 0, to: full, by: 8) {
        let e = fastExp(Lanes.load(row + c) - m8b)
        Lanes.store(e, row + c)
        s8 += e
    }
    var sum = s8.sum()
    for c in full..<cols {
        row[c] = fastExp(SIMD8(repeating: row[c] - m))[0]
        sum += row[c]
    }
    let inv = 1 / sum
    let inv8 = SIMD8<Float>(repeating: inv)
    for c in stride(from: 0, to: full, by: 8) { Lanes.store(Lanes.load(row + c) * inv8, row + c) }
    for c in full..<cols { row[c] *= inv }
}

@inline(__always)
private func maskedSoftmaxRow(_ row: UnsafeMutablePointer<Float>, cols: Int, keep: UnsafePointer<Bool>) {
    var m = -Float.infinity
    for c in 0..<cols where keep[c] { m = max(m, row[c]) }
    guard m > -Float.infinity else {
        row.update(repeating: 0, count: cols)
        return
    }
    var sum: Float = 0
    for c in 0..<cols {
        let e = keep[c] ? fastExp(SIMD8(repeating: row[c] - m))[0] : 0
        row[c] = e
        sum += e
    }
    let inv = 1 / sum
    for c in 0..<cols { row[c] *= inv }
}

/// Softmax backward per row, in place: grad ← p ⊙ (grad − Σ grad·p).
/// Entries with p = 0 (masked) get exactly zero gradient.
@inline(__always)
func softmaxBackwardRows(probs: UnsafePointer<Float>, grad: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
    let full = cols & ~7
    for r in 0..<rows {
        let p = probs + r * cols, g = grad + r * cols
        var d8 = SIMD8<Float>()
        for c in stride(from: 0, to: full, by: 8) { d8 += Lanes.load(g + c) * Lanes.load(p + c) }
        var dot = d8.sum()
        for c in full..<cols { dot += g[c] * p[c] }
        let dot8 = SIMD8<Float>(repeating: dot)
        for c in stride(from: 0, to: full, by: 8) {
            Lanes.store(Lanes.load(p + c) * (Lanes.load(g + c) - dot8), g + c)
        }
        for c in full..<cols { g[c] = p[c] * (g[c] - dot) }
    }
}

/// eˣ on 8 lanes for x ≤ 0 (softmax after max subtraction), within a few ulp of `expf`:
/// x = n·ln2 + r with |r| ≤ ln2/2, eʳ by its degree-6 Taylor polynomial (error < 2e-7),
/// 2ⁿ built in the exponent bits. Inputs below −87 return e⁻⁸⁷ ≈ 1.6e-38 instead of
/// underflowing, which no softmax sum (≥ 1) can notice. A libm call per element would cost
/// as much as the score matmul itself at these head sizes.
@inline(__always)
func fastExp(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let x = Lanes.max(x, SIMD8(repeating: -87))
    // Adding 1.5·2²³ rounds x·log₂e to an integer held in the low mantissa bits.
    let magic = SIMD8<Float>(repeating: 12_582_912)
    let t = x * SIMD8(repeating: 1.442_695_04) + magic
    let n = t - magic
    let r = x - n * SIMD8(repeating: 0.693_145_75) - n * SIMD8(repeating: 1.428_606_8e-6)
    var poly = SIMD8<Float>(repeating: 1.0 / 720)
    poly = poly * r + SIMD8(repeating: 1.0 / 120)
    poly = poly * r + SIMD8(repeating: 1.0 / 24)
    poly = poly * r + SIMD8(repeating: 1.0 / 6)
    poly = poly * r + SIMD8(repeating: 0.5)
    poly = poly * r + SIMD8(repeating: 1)
    poly = poly * r + SIMD8(repeating: 1)
    let bits = unsafeBitCast(t, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
    return poly * unsafeBitCast((bits &+ 127) &<< 23, to: SIMD8<Float>.self)
}

/// Unaligned 8-lane loads and stores on Float pointers, and a lane-wise max that always
/// inlines (the generic `pointwiseMax` stayed an out-of-line call in the hot loop).
enum Lanes {
    @inline(__always)
    static func max(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .> a) }
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }
    @inline(__always)
    static func load(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> { load(UnsafePointer(p)) }
    @inline(__always)
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }
}
