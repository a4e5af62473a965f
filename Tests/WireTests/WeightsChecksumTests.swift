import Numerics
import Wire
import XCTest

/// CRC-32C against published vectors and a bitwise reference, and the weights checksum
/// against PROTOCOL.md's definition; corrupted weights are rejected with a typed error.
final class WeightsChecksumTests: XCTestCase {
    /// RFC 3720 (iSCSI) appendix B.4 vectors and the usual check value.
    func testKnownVectors() {
        XCTAssertEqual(CRC32C.checksum(of: Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum(of: [UInt8]()), 0)
        XCTAssertEqual(CRC32C.checksum(of: [UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum(of: [UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum(of: (0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum(of: (0..<32).reversed().map { UInt8($0) }), 0x113F_DB5C)
    }

    /// Slicing-by-8 equals the bit-at-a-time definition for every length mod 8, at
    /// unaligned starts, and when fed in two pieces.
    func testMatchesBitwiseReference() {
        var rng = RandomGenerator(seed: 3)
        for length in 0..<80 {
            let bytes = (0..<(length + 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let offset = length % 4
            let slice = Array(bytes[offset..<(offset + length)])
            let expected = bitwiseCRC32C(slice)
            bytes.withUnsafeBytes { raw in
                let piece = UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + length)])
                var whole = CRC32C()
                whole.update(piece)
                XCTAssertEqual(whole.checksum, expected, "length \(length)")
                let split = length / 3
                var pieces = CRC32C()
                pieces.update(UnsafeRawBufferPointer(rebasing: piece[0..<split]))
                pieces.update(UnsafeRawBufferPointer(rebasing: piece[split...]))
                XCTAssertEqual(pieces.checksum, expected, "length \(length) split at \(split)")
            }
        }
    }

    func testWeightsChecksumFollowsDefinition() {
        let weights = Samples.weights()
        XCTAssertEqual(weights.checksum, referenceChecksum(weights))
        XCTAssertEqual(Weights.checksum(version: weights.version, tensors: weights.tensors), referenceChecksum(weights))
    }

    /// Each kind of corruption, sent with the original checksum, is rejected naming both sums.
    func testCorruptedContentRejected() {
        let original = Samples.weights()
        var oneFloat = original
        oneFloat.tensors[1].tensor.data[4] += 0.001
        var swapped = original
        swapped.tensors.swapAt(0, 1)
        var renamed = original
        renamed.tensors[0].name = "lora.dowm"
        var reshaped = original
        reshaped.tensors[0].tensor.shape = [3, 2]
        var otherVersion = original
        otherVersion.version += 1
        for corrupted in [oneFloat, swapped, renamed, reshaped, otherVersion] {
            let bytes = referenceBytes(Samples.envelope(.weights(corrupted)), checksum: original.checksum)
            assertDecodeThrows(bytes, .checksumMismatch(version: corrupted.version, expected: original.checksum,
                                                        computed: referenceChecksum(corrupted)))
        }
    }

    /// Every single-bit flip of the float bytes in an encoded weights message is caught
    /// (CRC-32C detects all bursts up to 32 bits), even flips that make a float NaN.
    func testEveryBitFlipInTensorDataRejected() throws {
        let weights = Samples.weights()
        let bytes = try Samples.envelope(.weights(weights)).encoded()
        var flips = 0
        for entry in weights.tensors {
            let pattern = entry.tensor.data.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
            let start = try XCTUnwrap(firstRange(of: pattern, in: bytes))
            for byte in start..<(start + pattern.count) {
                for bit in 0..<8 {
                    var corrupted = bytes
                    corrupted[byte] ^= 1 << bit
                    do {
                        _ = try Envelope(decoding: corrupted)
                        XCTFail("bit \(bit) of byte \(byte) flipped went unnoticed")
                    } catch {
                        guard case .checksumMismatch = error else { return XCTFail("\(error)") }
                    }
                    flips += 1
                }
            }
        }
        XCTAssertEqual(flips, 13 * 32)
    }

    func testUntouchedWeightsDecode() throws {
        let envelope = Samples.envelope(.weights(Samples.weights()))
        XCTAssertEqual(try Envelope(decoding: referenceBytes(envelope)), envelope)
    }
}

private func firstRange(of pattern: [UInt8], in bytes: [UInt8]) -> Int? {
    guard bytes.count >= pattern.count else { return nil }
    return (0...(bytes.count - pattern.count)).first { Array(bytes[$0..<($0 + pattern.count)]) == pattern }
}
