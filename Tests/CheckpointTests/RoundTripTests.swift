import Checkpoint
import Foundation
import Numerics
import XCTest

final class RoundTripTests: XCTestCase {
    /// Tensors of awkward shapes and names, with special values.
    static func sample() -> SafeTensorsFile {
        var rng = RandomGenerator(seed: 11)
        var special = Tensor(randomNormal: [2, 3, 4], rng: &rng)
        special.data[0] = -0.0
        special.data[1] = .infinity
        special.data[2] = -.infinity
        special.data[3] = .nan
        special.data[4] = .leastNonzeroMagnitude
        special.data[5] = .greatestFiniteMagnitude
        return SafeTensorsFile(
            tensors: [
                "scalar": Tensor(shape: [], data: [3.25]),
                "empty": Tensor(zeros: [0]),
                "empty.matrix": Tensor(zeros: [0, 3]),
                "vector": Tensor(randomNormal: [5], rng: &rng),
                "special": special,
                "quote \" backslash \\ newline \n tab \t bell \u{07} é ✓": Tensor(repeating: 7, shape: [1, 1]),
            ],
            metadata: ["step": "42", "note": "héllo \"quoted\"\n\\ ✓", "": "empty key"])
    }

    func testBytesRoundTripKeepsShapesValuesAndMetadata() throws {
        let original = Self.sample()
        let bytes = try original.encoded()
        let decoded = try SafeTensorsFile(bytes: bytes)
        XCTAssertEqual(decoded.metadata, original.metadata)
        XCTAssertEqual(Set(decoded.tensors.keys), Set(original.tensors.keys))
        for (name, tensor) in original.tensors {
            XCTAssertTrue(bitIdentical(decoded.tensors[name], tensor), "tensor \(name) changed")
        }
    }

    func testLayoutIsAlignedAndExact() throws {
        let file = Self.sample()
        let bytes = try file.encoded()
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(headerLength % 8, 0, "header not padded to 8 bytes")
        XCTAssertEqual(bytes[8], UInt8(ascii: "{"))
        let dataBytes = file.tensors.values.reduce(0) { $0 + 4 * $1.count }
        XCTAssertEqual(bytes.count, 8 + headerLength + dataBytes)
        print("sample file: header \(headerLength) bytes, data \(dataBytes) bytes")
    }

    func testEncodingIgnoresInsertionOrder() throws {
        let names = (0..<20).map { "t\($0)" }
        var forward = SafeTensorsFile(), backward = SafeTensorsFile()
        for (i, name) in names.enumerated() { forward.tensors[name] = Tensor(repeating: Float(i), shape: [i % 3]) }
        for (i, name) in names.enumerated().reversed() { backward.tensors[name] = Tensor(repeating: Float(i), shape: [i % 3]) }
        XCTAssertEqual(try forward.encoded(), try backward.encoded())
    }

    func testFileRoundTrip() throws {
        let url = try temporaryDirectory(for: self).appendingPathComponent("model.safetensors")
        let original = Self.sample()
        try original.write(to: url)
        let loaded = try SafeTensorsFile(contentsOf: url)
        XCTAssertEqual(loaded.metadata, original.metadata)
        for (name, tensor) in original.tensors {
            XCTAssertTrue(bitIdentical(loaded.tensors[name], tensor), "tensor \(name) changed")
        }
    }

    func testMetadataKeyCannotNameATensor() {
        let file = SafeTensorsFile(tensors: ["__metadata__": Tensor(zeros: [1])])
        assertThrows(.invalidName, mentioning: ["__metadata__"]) { () throws(CheckpointError) in try file.encoded() }
    }

    func testHalfBFloatAndDoubleConvertToFloat() throws {
        // Bit patterns with known values, so the expected numbers do not come from the code under test.
        let half: [UInt16] = [0x3C00, 0xC000, 0x3555, 0x0001, 0x03FF, 0x7BFF, 0x7C00, 0xFC00, 0x8000]
        let halfValues: [Float] = [1, -2, 0.333251953125, 0x1p-24, 0x3FFp-24, 65504, .infinity, -.infinity, -0.0]
        let bfloat: [UInt16] = [0x3F80, 0xC000, 0x3EAB, 0x7F80, 0x0001]
        let bfloatValues: [Float] = [1, -2, 0.333984375, .infinity, 0x1p-133]
        let double: [Double] = [1.0 / 3.0, 1e300, -0.0, 0x1p-149]
        let header = """
            {"h":{"dtype":"F16","shape":[9],"data_offsets":[0,18]},\
            "b":{"dtype":"BF16","shape":[5],"data_offsets":[18,28]},\
            "d":{"dtype":"F64","shape":[2,2],"data_offsets":[28,60]}}
            """
        let bytes = rawFile(header: header, data: littleEndianBytes(half) + littleEndianBytes(bfloat)
                            + littleEndianBytes(double.map(\.bitPattern)))
        let file = try SafeTensorsFile(bytes: bytes)
        XCTAssertTrue(bitIdentical(file.tensors["h"], Tensor(shape: [9], data: halfValues)), "\(file.tensors["h"]!.data)")
        XCTAssertTrue(bitIdentical(file.tensors["b"], Tensor(shape: [5], data: bfloatValues)), "\(file.tensors["b"]!.data)")
        XCTAssertTrue(bitIdentical(file.tensors["d"], Tensor(shape: [2, 2], data: [Float(1.0 / 3.0), .infinity, -0.0, 0x1p-149])),
                      "\(file.tensors["d"]!.data)")
    }

    #if !(os(macOS) && arch(x86_64))
    /// Every binary16 pattern against the platform's Float16 conversion.
    func testEveryHalfPatternMatchesFloat16() throws {
        let patterns = (0...UInt16.max).map { $0 }
        let bytes = rawFile(header: #"{"all":{"dtype":"F16","shape":[65536],"data_offsets":[0,131072]}}"#,
                            data: littleEndianBytes(patterns))
        let values = try SafeTensorsFile(bytes: bytes).tensors["all"]!.data
        var mismatches = 0
        for (bits, value) in zip(patterns, values) {
            let expected = Float(Float16(bitPattern: bits))
            if expected.isNaN ? !value.isNaN : expected.bitPattern != value.bitPattern { mismatches += 1 }
        }
        XCTAssertEqual(mismatches, 0)
    }
    #endif
}
