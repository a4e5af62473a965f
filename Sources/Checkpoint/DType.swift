/// The element types safetensors defines, by their header string.
///
/// Sub-byte types (F4, F6_*) are left out: their tensors are not whole bytes, so they
/// are reported as unknown dtypes rather than mis-sized.
enum DType: String, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2", f8e8m0 = "F8_E8M0"
    case c64 = "C64"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8"
    case bool = "BOOL"

    /// Bytes per element.
    var size: Int {
        switch self {
        case .c64, .f64, .i64, .u64: 8
        case .f32, .i32, .u32: 4
        case .f16, .bf16, .i16, .u16: 2
        case .f8e4m3, .f8e5m2, .f8e8m0, .i8, .u8, .bool: 1
        }
    }

    /// Whether `floats(from:count:)` can convert this dtype to Float32.
    var convertsToFloat: Bool { [.f32, .f64, .f16, .bf16].contains(self) }

    /// `count` little-endian elements at `raw` as Float32. F64 values beyond Float32 range become ±inf.
    func floats(from raw: UnsafeRawPointer, count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { out, initialized in
            switch self {
            case .f32:
                // Bulk copy: on a little-endian host the file bytes are the Float32 bytes.
                if count > 0 { UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: raw, byteCount: count * 4) }
            case .f64:
                for i in 0..<count {
                    let bits = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                    out[i] = Float(Double(bitPattern: bits))
                }
            case .f16:
                for i in 0..<count {
                    out[i] = floatFromHalf(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            case .bf16:
                // bfloat16 is the top half of a Float32.
                for i in 0..<count {
                    let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    out[i] = Float(bitPattern: UInt32(bits) << 16)
                }
            default:
                preconditionFailure("\(rawValue) does not convert to Float32")
            }
            initialized = count
        }
    }
}

#if !_endian(little)
#error("Checkpoint copies Float32 bytes as they are; safetensors data is little-endian")
#endif

/// An IEEE binary16 bit pattern as Float32, exactly (Float16 is not available on every platform).
func floatFromHalf(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x3FF)
    switch exponent {
    case 0x1F:  // inf or NaN, payload kept
        return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
    case 0:  // zero or subnormal: mantissa · 2^-24
        let magnitude = Float(mantissa) * 0x1p-24
        return sign == 0 ? magnitude : -magnitude
    default:  // rebias 15 → 127
        return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }
}
