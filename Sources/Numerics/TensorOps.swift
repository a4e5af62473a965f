/// The few whole-tensor operations layers compose with; everything else lives in a layer.
extension Tensor {
    /// self += other, elementwise; the shapes must match.
    public mutating func add(_ other: Tensor) {
        precondition(shape == other.shape, "Tensor.add: shapes \(shape) and \(other.shape)")
        data.withUnsafeMutableBufferPointer { a in
            other.data.withUnsafeBufferPointer { b in
                let (ap, bp) = (a.baseAddress!, b.baseAddress!)
                parallelRanges(a.count, grain: 1 << 15) { r in
                    for i in r { ap[i] += bp[i] }
                }
            }
        }
    }

    /// self(B, C, H, W) += v(B, C), broadcast over each H×W plane.
    public mutating func addPerPlane(_ v: Tensor) {
        precondition(rank == 4 && v.shape == [shape[0], shape[1]], "Tensor.addPerPlane: \(v.shape) onto \(shape)")
        let plane = shape[2] * shape[3]
        data.withUnsafeMutableBufferPointer { a in
            v.data.withUnsafeBufferPointer { b in
                for p in b.indices {
                    let base = a.baseAddress! + p * plane, bias = b[p]
                    for j in 0..<plane { base[j] += bias }
                }
            }
        }
    }

    /// The sum of each H×W plane: (B, C, H, W) → (B, C); the adjoint of `addPerPlane`.
    public func sumPerPlane() -> Tensor {
        precondition(rank == 4, "Tensor.sumPerPlane expects (B, C, H, W), got \(shape)")
        let plane = shape[2] * shape[3]
        var s = Tensor(zeros: [shape[0], shape[1]])  // s: (B, C)
        data.withUnsafeBufferPointer { a in
            s.data.withUnsafeMutableBufferPointer { out in
                for p in out.indices {
                    let base = a.baseAddress! + p * plane
                    var acc: Float = 0
                    for j in 0..<plane { acc += base[j] }
                    out[p] = acc
                }
            }
        }
        return s
    }
}
