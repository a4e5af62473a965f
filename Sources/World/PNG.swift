import Foundation

/// A minimal PNG encoder: 8-bit RGB, no interlace, filter 0 on every row, and a zlib stream of
/// stored (uncompressed) deflate blocks. Files are ~3 KB per 32×32 image, which is fine for
/// inspection grids and keeps the project free of a compression library.
public enum PNG {
    /// PNG bytes of one image, each value × 255 rounded.
    public static func encode(_ image: Image) -> [UInt8] {
        encode(width: Image.side, height: Image.side, rgb: image.pixels)
    }

    /// PNG bytes of images laid out row by row in `columns` columns, separated (and framed) by
    /// `gutter` pixels of the grey level `gutterValue`.
    public static func encodeGrid(_ images: [Image], columns: Int, gutter: Int = 2,
                                  gutterValue: Float = 1) -> [UInt8] {
        precondition(!images.isEmpty && columns > 0 && gutter >= 0, "a grid needs images, columns > 0, gutter ≥ 0")
        let cell = Image.side + gutter
        let (width, height) = gridSize(count: images.count, columns: columns, gutter: gutter)
        var rgb = [Float](repeating: gutterValue, count: width * height * 3)  // (H, W, 3)
        for (k, image) in images.enumerated() {
            let x0 = gutter + (k % columns) * cell
            let y0 = gutter + (k / columns) * cell
            for y in 0..<Image.side {
                let src = y * Image.side * 3
                let dst = ((y0 + y) * width + x0) * 3
                rgb.replaceSubrange(dst..<(dst + Image.side * 3), with: image.pixels[src..<(src + Image.side * 3)])
            }
        }
        return encode(width: width, height: height, rgb: rgb)
    }

    /// Width and height in pixels of `encodeGrid`'s image of `count` images.
    public static func gridSize(count: Int, columns: Int, gutter: Int = 2) -> (width: Int, height: Int) {
        let rows = (count + columns - 1) / columns, cell = Image.side + gutter
        return (columns * cell + gutter, rows * cell + gutter)
    }

    /// PNG bytes of an HWC RGB buffer with values in [0, 1] (clamped), each × 255 rounded.
    public static func encode(width: Int, height: Int, rgb: [Float]) -> [UInt8] {
        precondition(width > 0 && height > 0 && rgb.count == width * height * 3,
                     "PNG of \(width)×\(height) needs \(width * height * 3) values, got \(rgb.count)")
        var raw = [UInt8]()  // filter byte + row bytes, per row
        raw.reserveCapacity(height * (1 + width * 3))
        for y in 0..<height {
            raw.append(0)
            for i in (y * width * 3)..<((y + 1) * width * 3) {
                raw.append(UInt8((clampUnit(rgb[i]) * 255).rounded()))
            }
        }
        var header = [UInt8]()
        header += bigEndian(UInt32(width))
        header += bigEndian(UInt32(height))
        header += [8, 2, 0, 0, 0]  // bit depth 8, colour type RGB, deflate, filter 0, no interlace
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        png += chunk("IHDR", header)
        png += chunk("IDAT", zlibStored(raw))
        png += chunk("IEND", [])
        return png
    }

    /// Writes PNG bytes to a file, replacing it.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    private static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + typed + bigEndian(crc32(typed))
    }

    /// A zlib stream (RFC 1950) holding the data in stored deflate blocks (RFC 1951 §3.2.4).
    private static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]  // deflate, 32 KiB window, no preset dictionary; 0x7801 % 31 == 0
        var start = 0
        repeat {
            let n = min(65_535, data.count - start)
            let final: UInt8 = start + n == data.count ? 1 : 0
            out.append(final)  // BFINAL, BTYPE = 00 (stored)
            out += [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += data[start..<(start + n)]
            start += n
        } while start < data.count
        return out + bigEndian(adler32(data))
    }

    private static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for x in bytes {
            a = (a + UInt32(x)) % 65_521
            b = (b + a) % 65_521
        }
        return b << 16 | a
    }

    private static func bigEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }
}
