import CommandSupport
import Foundation
import Numerics
import World
import XCTest

final class PNGTests: XCTestCase {
    /// Decodes a PNG with Python's zlib and struct only, checking signature, every CRC, the
    /// header and the filter bytes; prints "width height" and then the RGB bytes in hex.
    private let decoder = """
        import struct, sys, zlib
        data = open(sys.argv[1], 'rb').read()
        assert data[:8] == b'\\x89PNG\\r\\n\\x1a\\n', 'signature'
        pos, idat, header = 8, b'', None
        while pos < len(data):
            (n,) = struct.unpack('>I', data[pos:pos + 4])
            kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
            (crc,) = struct.unpack('>I', data[pos + 8 + n:pos + 12 + n])
            assert zlib.crc32(kind + body) == crc, 'crc of ' + kind.decode()
            if kind == b'IHDR': header = struct.unpack('>IIBBBBB', body)
            if kind == b'IDAT': idat += body
            pos += 12 + n
            if kind == b'IEND': break
        assert pos == len(data), 'bytes after IEND'
        w, h, depth, colour, _, _, interlace = header
        assert (depth, colour, interlace) == (8, 2, 0), header
        raw = zlib.decompress(idat)
        assert len(raw) == h * (1 + 3 * w), 'raw size'
        rows = [raw[y * (1 + 3 * w):(y + 1) * (1 + 3 * w)] for y in range(h)]
        assert all(r[0] == 0 for r in rows), 'filter'
        print(w, h)
        print(b''.join(r[1:] for r in rows).hex())
        """

    private func decode(_ png: [UInt8]) throws -> (width: Int, height: Int, rgb: [UInt8]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("world-png-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("x.png").path
        try PNG.write(png, to: path)
        // A failure, not a skip: this independent decoder is what checks the PNG bytes.
        let lines = try Python.run(decoder, [path]).split(separator: "\n")
        guard lines.count == 2 else {
            let message = "python could not decode the PNG (\(lines.count) lines printed)"
            XCTFail(message)
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: message])
        }
        let size = lines[0].split(separator: " ").compactMap { Int($0) }
        let hex = Array(lines[1].utf8)
        let rgb = stride(from: 0, to: hex.count, by: 2).map { UInt8(String(decoding: hex[$0..<($0 + 2)], as: UTF8.self), radix: 16)! }
        return (size[0], size[1], rgb)
    }

    func testImagePNGDecodesToRoundedValues() throws {
        var rng = RandomGenerator(seed: 11)
        let image = Scene(background: .navy, color: .magenta, shape: .cross, size: .large, position: .bottom,
                          striped: true).render(jitter: &rng)
        let decoded = try decode(PNG.encode(image))
        XCTAssertEqual(decoded.width, 32)
        XCTAssertEqual(decoded.height, 32)
        XCTAssertEqual(decoded.rgb, image.pixels.map { UInt8(($0 * 255).rounded()) })
    }

    func testGridPNGPlacesImagesBetweenGutters() throws {
        let scenes = Shape.allCases.map {
            Scene(background: .black, color: .green, shape: $0, size: .small, position: .center, striped: false)
        }
        let images = scenes.map { $0.render() }
        // 4 images in 3 columns: 2 rows, 2 px gutters, white.
        let decoded = try decode(PNG.encodeGrid(images, columns: 3, gutter: 2))
        XCTAssertEqual(decoded.width, 3 * 34 + 2)
        XCTAssertEqual(decoded.height, 2 * 34 + 2)
        func pixel(_ x: Int, _ y: Int) -> [UInt8] {
            let i = (y * decoded.width + x) * 3
            return Array(decoded.rgb[i..<(i + 3)])
        }
        XCTAssertEqual(pixel(0, 0), [255, 255, 255])
        XCTAssertEqual(pixel(35, 10), [255, 255, 255])  // gutter between columns 0 and 1
        for (k, image) in images.enumerated() {
            let (x0, y0) = (2 + (k % 3) * 34, 2 + (k / 3) * 34)
            for (x, y) in [(0, 0), (16, 16), (31, 31), (12, 20)] {
                let v = image[x, y]
                XCTAssertEqual(pixel(x0 + x, y0 + y), [v.r, v.g, v.b].map { UInt8(($0 * 255).rounded()) })
            }
        }
        XCTAssertEqual(pixel(2 + 34 + 16, 2 + 34 + 16), [255, 255, 255])  // empty cell after the last image
    }

    func testLargeImageSpansSeveralStoredBlocks() throws {
        // 200 × 120 RGB rows are 72,120 bytes: more than one 65,535-byte stored block.
        let (w, h) = (200, 120)
        let rgb = (0..<(w * h * 3)).map { Float($0 % 256) / 255 }
        let decoded = try decode(PNG.encode(width: w, height: h, rgb: rgb))
        XCTAssertEqual(decoded.rgb, rgb.map { UInt8(($0 * 255).rounded()) })
    }
}
