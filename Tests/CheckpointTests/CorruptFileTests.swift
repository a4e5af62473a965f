import Checkpoint
import Foundation
import Numerics
import XCTest

final class CorruptFileTests: XCTestCase {
    /// Parses `bytes`, naming the source so messages can be checked for it.
    func parse(_ bytes: [UInt8]) throws(CheckpointError) -> SafeTensorsFile {
        try SafeTensorsFile(bytes: bytes, source: "test.safetensors")
    }

    func small() throws -> [UInt8] {
        try SafeTensorsFile(tensors: ["a": Tensor(shape: [2], data: [1, 2]), "b": Tensor(shape: [], data: [3])],
                            metadata: ["k": "v"]).encoded()
    }

    func testEveryTruncationIsAClearError() throws {
        let bytes = try small()
        let headerEnd = 8 + Int(bytes[0])
        var kinds: [String: Int] = [:]
        for length in 0..<bytes.count {
            guard let error = checkpointError({ () throws(CheckpointError) in try parse(Array(bytes[..<length])) }) else { continue }
            let expected: CheckpointError.Kind = length < 8 ? .truncated : length < headerEnd ? .headerBeyondFile : .incompleteBuffer
            XCTAssertEqual(error.kind, expected, "length \(length): \(error)")
            XCTAssertTrue(error.description.hasPrefix("test.safetensors: "), "\(error)")
            kinds["\(error.kind)", default: 0] += 1
        }
        XCTAssertNoThrow(try parse(bytes))
        print("truncations of a \(bytes.count)-byte file: \(kinds.sorted { $0.key < $1.key })")
    }

    func testHeaderLengthPastEndOfFile() throws {
        var bytes = try small()
        bytes[0] &+= 100
        assertThrows(.headerBeyondFile, mentioning: ["test.safetensors", "past the end"]) { () throws(CheckpointError) in try parse(bytes) }
        for huge: UInt64 in [100_000_001, 1 << 40, .max] {
            let file = rawFile(header: "{}", declaredLength: huge)
            assertThrows(.headerTooLarge, mentioning: ["\(huge)"]) { () throws(CheckpointError) in try parse(file) }
        }
    }

    func testHeaderThatIsNotAJSONObject() {
        for header in ["", "{\"a\": ", "not json", "[1, 2]", "\"text\"", "{} trailing"] {
            assertThrows(.invalidHeader, mentioning: ["header"]) { () throws(CheckpointError) in try parse(rawFile(header: header)) }
        }
        var invalidUTF8 = rawFile(header: #"{"__metadata__":{"k":"vv"}}"#)
        invalidUTF8[invalidUTF8.count - 4] = 0xFF
        assertThrows(.invalidHeader, mentioning: ["UTF-8"]) { () throws(CheckpointError) in try parse(invalidUTF8) }
    }

    func testEmptyHeaderObjectIsAnEmptyFile() throws {
        let file = try parse(rawFile(header: "{}        "))
        XCTAssertTrue(file.tensors.isEmpty && file.metadata.isEmpty)
    }

    func testMissingField() {
        let header = #"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#
        assertThrows(.missingField, mentioning: ["\"w\"", "shape"]) { () throws(CheckpointError) in
            try parse(rawFile(header: header, data: [0, 0, 0, 0]))
        }
    }

    func testFieldsOfTheWrongType() {
        let cases = [
            (#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, "-1"),
            (#"{"w":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}"#, "shape[0]"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4.5]}}"#, "4.5"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551616]}}"#, "data_offsets[1]"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4]}}"#, "[begin, end]"),
            (#"{"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}}"#, "dtype"),
            (#"{"w":[1,2,3]}"#, "\"w\""),
            (#"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, "too large"),
            (#"{"__metadata__":{"k":1}}"#, "__metadata__"),
        ]
        for (header, mention) in cases {
            assertThrows(.invalidField, mentioning: [mention]) { () throws(CheckpointError) in
                try parse(rawFile(header: header, data: [0, 0, 0, 0]))
            }
        }
    }

    func testOffsetsMustTileTheBuffer() {
        func entry(_ name: String, _ begin: Int, _ end: Int) -> String {
            #""\#(name)":{"dtype":"F32","shape":[1],"data_offsets":[\#(begin),\#(end)]}"#
        }
        let eight = [UInt8](repeating: 0, count: 8)
        assertThrows(.invalidOffsets, mentioning: ["\"b\"", "overlap"]) { () throws(CheckpointError) in
            try parse(rawFile(header: "{\(entry("a", 0, 4)),\(entry("b", 2, 6))}", data: eight))
        }
        assertThrows(.invalidOffsets, mentioning: ["\"b\"", "gap"]) { () throws(CheckpointError) in
            try parse(rawFile(header: "{\(entry("a", 0, 4)),\(entry("b", 6, 10))}", data: eight + [0, 0]))
        }
        assertThrows(.invalidOffsets, mentioning: ["\"a\"", "gap"]) { () throws(CheckpointError) in
            try parse(rawFile(header: "{\(entry("a", 4, 8))}", data: eight))
        }
        assertThrows(.invalidOffsets, mentioning: ["before it begins"]) { () throws(CheckpointError) in
            try parse(rawFile(header: "{\(entry("a", 4, 0))}", data: eight))
        }
        assertThrows(.incompleteBuffer, mentioning: ["8 bytes", "12 bytes"]) { () throws(CheckpointError) in
            try parse(rawFile(header: "{\(entry("a", 0, 4)),\(entry("b", 4, 8))}", data: eight + [0, 0, 0, 0]))
        }
        // Key order in the header does not matter, only the byte ranges.
        let swapped = rawFile(header: "{\(entry("b", 4, 8)),\(entry("a", 0, 4))}",
                              data: littleEndianBytes([Float(1).bitPattern, Float(2).bitPattern]))
        XCTAssertEqual(try parse(swapped).tensors, ["a": Tensor(shape: [1], data: [1]), "b": Tensor(shape: [1], data: [2])])
    }

    func testSizeMustMatchDTypeAndShape() {
        let header = #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        assertThrows(.sizeMismatch, mentioning: ["\"w\"", "8 bytes", "needs 12"]) { () throws(CheckpointError) in
            try parse(rawFile(header: header, data: [UInt8](repeating: 0, count: 8)))
        }
        let half = #"{"w":{"dtype":"F16","shape":[3],"data_offsets":[0,12]}}"#
        assertThrows(.sizeMismatch, mentioning: ["F16", "needs 6"]) { () throws(CheckpointError) in
            try parse(rawFile(header: half, data: [UInt8](repeating: 0, count: 12)))
        }
    }

    func testUnknownAndUnsupportedDTypes() {
        let unknown = #"{"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}"#
        assertThrows(.unknownDType, mentioning: ["F33"]) { () throws(CheckpointError) in
            try parse(rawFile(header: unknown, data: [0, 0, 0, 0]))
        }
        let integer = #"{"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#
        assertThrows(.unsupportedDType, mentioning: ["I64", "\"w\""]) { () throws(CheckpointError) in
            try parse(rawFile(header: integer, data: [UInt8](repeating: 0, count: 8)))
        }
    }

    /// JSONDecoder keeps one value of a repeated key; the reader must notice instead.
    func testDuplicateKeysAreDetected() throws {
        let entry = #"{"dtype":"F32","shape":[0],"data_offsets":[0,0]}"#
        let duplicates = [
            (#"{"a":\#(entry),"a":\#(entry)}"#, "\"a\""),
            (#"{"a":\#(entry),"\u0061":\#(entry)}"#, "\"a\""),
            (#"{"__metadata__":{"k":"1","k":"2"}}"#, "\"k\""),
            (#"{"a":{"dtype":"F32","dtype":"F32","shape":[0],"data_offsets":[0,0]}}"#, "\"dtype\""),
        ]
        for (header, mention) in duplicates {
            assertThrows(.duplicateKey, mentioning: [mention]) { () throws(CheckpointError) in try parse(rawFile(header: header)) }
        }
        // The same key in different objects, or key-like text inside strings, is not a repeat.
        let distinct = #"{"dtype":\#(entry),"shape":\#(entry),"__metadata__":{"dtype":"\"dtype\":","x":"[{\"x\":1}]"}}"#
        let file = try parse(rawFile(header: distinct))
        XCTAssertEqual(Set(file.tensors.keys), ["dtype", "shape"])
        XCTAssertEqual(file.metadata, ["dtype": "\"dtype\":", "x": "[{\"x\":1}]"])
    }

    func testRandomBytesAreRejected() {
        var rng = RandomGenerator(seed: 5)
        for _ in 0..<2000 {
            let count = Int(rng.next() % 300)
            let bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = checkpointError { () throws(CheckpointError) in try parse(bytes) }
        }
    }

    /// Random short header lengths reach the JSON and layout checks, not only the length check.
    func testRandomlyCorruptedFilesNeverCrash() throws {
        let bytes = try small()
        var rng = RandomGenerator(seed: 6)
        var outcomes: [String: Int] = [:]
        for _ in 0..<5000 {
            var corrupt = bytes
            for _ in 0...(rng.next() % 3) {
                corrupt[Int(rng.next() % UInt64(corrupt.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            do {
                _ = try parse(corrupt)
                outcomes["parsed", default: 0] += 1
            } catch {
                outcomes["\(error.kind)", default: 0] += 1
            }
        }
        print("5000 corrupted copies: \(outcomes.sorted { $0.key < $1.key })")
        XCTAssertGreaterThan(outcomes.count, 4, "corruption should reach several different checks")
    }
}
