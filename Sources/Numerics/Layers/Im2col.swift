/// Shape of one convolution: input planes, kernel, and output planes.
struct ConvGeometry {
    let channels: Int, height: Int, width: Int
    let kernel: Int, stride: Int, padding: Int
    let outHeight: Int, outWidth: Int

    var inPlane: Int { height * width }
    var outPlane: Int { outHeight * outWidth }
    /// Rows of the column matrix: one per (channel, kernel row, kernel column).
    var columnRows: Int { channels * kernel * kernel }

    /// The output columns `lo..<hi` whose input column `ow·stride + kj − padding` lies
    /// inside the image; the rest read zero padding.
    @inline(__always)
    func validColumns(_ kj: Int) -> (lo: Int, hi: Int) {
        let first = padding - kj, last = width - 1 + padding - kj
        let lo = first <= 0 ? 0 : (first + stride - 1) / stride
        let hi = last < 0 ? 0 : min(outWidth, last / stride + 1)
        return (lo, max(lo, hi))
    }

    /// Stride 1 with "same" output size: each column-matrix plane is the input plane
    /// shifted by a constant flat offset, so rows can be moved as one contiguous block.
    var isShiftedPlane: Bool { stride == 1 && outHeight == height && outWidth == width }

    /// For `isShiftedPlane`: the flat offset of kernel tap (ki, kj), and the range of flat
    /// output positions q whose source q + offset lies inside the input plane.
    @inline(__always)
    func shiftedRange(_ ki: Int, _ kj: Int) -> (offset: Int, start: Int, end: Int) {
        let offset = (ki - padding) * width + (kj - padding)
        let start = max(0, -offset), end = min(inPlane, inPlane - offset)
        return (offset, start, max(start, end))
    }
}

/// Lays `images` consecutive images of x (n, C, H, W) out as columns:
/// cols[(c·k + ki)·k + kj, i·Ho·Wo + oh·Wo + ow] = x[i, c, oh·s + ki − p, ow·s + kj − p],
/// zero where that falls in the padding. cols: (C·k·k, n·Ho·Wo).
func im2col(_ g: ConvGeometry, images: Int, x: UnsafePointer<Float>, cols: UnsafeMutablePointer<Float>) {
    parallelRanges(g.channels, grain: max(1, (1 << 14) / (g.kernel * g.kernel * images * g.outPlane))) { channels in
        im2col(g, images: images, channels: channels, x: x, cols: cols)
    }
}

/// `im2col` for the column rows of `channels` only (each channel writes its own rows).
private func im2col(_ g: ConvGeometry, images: Int, channels: Range<Int>, x: UnsafePointer<Float>,
                    cols: UnsafeMutablePointer<Float>) {
    let ld = images * g.outPlane
    for c in channels {
        for ki in 0..<g.kernel {
            for kj in 0..<g.kernel {
                let row = cols + ((c * g.kernel + ki) * g.kernel + kj) * ld
                let (lo, hi) = g.validColumns(kj)
                let shift = kj - g.padding
                if g.isShiftedPlane {
                    // One block copy per image, then zero the taps that fell into the
                    // padding columns (they wrapped onto the neighbouring row).
                    let (offset, start, end) = g.shiftedRange(ki, kj)
                    for i in 0..<images {
                        let src = x + (i * g.channels + c) * g.inPlane, dst = row + i * g.outPlane
                        dst.update(repeating: 0, count: start)
                        (dst + start).update(from: src + start + offset, count: end - start)
                        (dst + end).update(repeating: 0, count: g.outPlane - end)
                        if lo > 0 || hi < g.outWidth {
                            for oh in 0..<g.outHeight {
                                let d = dst + oh * g.outWidth
                                for ow in 0..<lo { d[ow] = 0 }
                                for ow in hi..<g.outWidth { d[ow] = 0 }
                            }
                        }
                    }
                    continue
                }
                for i in 0..<images {
                    let src = x + (i * g.channels + c) * g.inPlane
                    for oh in 0..<g.outHeight {
                        let dst = row + i * g.outPlane + oh * g.outWidth
                        let ih = oh * g.stride + ki - g.padding
                        guard ih >= 0 && ih < g.height else {
                            dst.update(repeating: 0, count: g.outWidth)
                            continue
                        }
                        let srow = src + ih * g.width
                        dst.update(repeating: 0, count: lo)
                        if g.stride == 1 {
                            (dst + lo).update(from: srow + lo + shift, count: hi - lo)
                        } else {
                            for ow in lo..<hi { dst[ow] = srow[ow * g.stride + shift] }
                        }
                        (dst + hi).update(repeating: 0, count: g.outWidth - hi)
                    }
                }
            }
        }
    }
}

/// The adjoint of `im2col`: adds each column entry back onto the input pixel it was read
/// from. dx: (n, C, H, W), accumulated into. The entries of cols that `im2col` reads from
/// padding are overwritten with zero on the way.
func col2im(_ g: ConvGeometry, images: Int, cols: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>) {
    parallelRanges(g.channels, grain: max(1, (1 << 14) / (g.kernel * g.kernel * images * g.outPlane))) { channels in
        col2im(g, images: images, channels: channels, cols: cols, dx: dx)
    }
}

/// `col2im` for input channels `channels` only (each channel adds onto its own planes of dx).
private func col2im(_ g: ConvGeometry, images: Int, channels: Range<Int>, cols: UnsafeMutablePointer<Float>,
                    dx: UnsafeMutablePointer<Float>) {
    let ld = images * g.outPlane
    for c in channels {
        for ki in 0..<g.kernel {
            for kj in 0..<g.kernel {
                let row = cols + ((c * g.kernel + ki) * g.kernel + kj) * ld
                let (lo, hi) = g.validColumns(kj)
                let shift = kj - g.padding
                if g.isShiftedPlane {
                    // Zero the padding taps, then add the whole shifted plane in one loop.
                    let (offset, start, end) = g.shiftedRange(ki, kj)
                    for i in 0..<images {
                        let src = row + i * g.outPlane, dst = dx + (i * g.channels + c) * g.inPlane + offset
                        if lo > 0 || hi < g.outWidth {
                            for oh in 0..<g.outHeight {
                                let s = src + oh * g.outWidth
                                for ow in 0..<lo { s[ow] = 0 }
                                for ow in hi..<g.outWidth { s[ow] = 0 }
                            }
                        }
                        for q in start..<end { dst[q] += src[q] }
                    }
                    continue
                }
                for i in 0..<images {
                    let dst = dx + (i * g.channels + c) * g.inPlane
                    for oh in 0..<g.outHeight {
                        let ih = oh * g.stride + ki - g.padding
                        guard ih >= 0 && ih < g.height else { continue }
                        let src = row + i * g.outPlane + oh * g.outWidth
                        let drow = dst + ih * g.width + shift
                        if g.stride == 1 {
                            for ow in lo..<hi { drow[ow] += src[ow] }
                        } else {
                            for ow in lo..<hi { drow[ow * g.stride] += src[ow] }
                        }
                    }
                }
            }
        }
    }
}
