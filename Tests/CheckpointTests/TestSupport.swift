import Checkpoint
import Foundation
import Numerics
import XCTest

/// A fresh empty directory, removed when `test` finishes.
func temporaryDirectory(for test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("checkpoint-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// The error `body` throws; records a failure (and returns nil) if it returns instead.
func checkpointError<T>(_ body: () throws(CheckpointError) -> T,
                        file: StaticString = #filePath, line: UInt = #line) -> CheckpointError? {
    do {
        _ = try body()
        XCTFail("expected a CheckpointError, got success", file: file, line: line)
        return nil
    } catch {
        return error
    }
}

/// Asserts `body` throws an error of `kind` whose message contains every string in `mentions`.
func assertThrows<T>(_ kind: CheckpointError.Kind, mentioning mentions: [String] = [],
                     _ body: () throws(CheckpointError) -> T,
                     file: StaticString = #filePath, line: UInt = #line) {
    guard let error = checkpointError(body, file: file, line: line) else { return }
    XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
    for text in mentions {
        XCTAssertTrue(error.description.contains(text), "message lacks \(text): \(error)", file: file, line: line)
    }
}

/// A safetensors file assembled by hand: `header` as given (no padding), then `data`.
/// `declaredLength` overrides the header length field.
func rawFile(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    let json = Array(header.utf8)
    var bytes: [UInt8] = []
    withUnsafeBytes(of: (declaredLength ?? UInt64(json.count)).littleEndian) { bytes += $0 }
    return bytes + json + data
}

/// Little-endian bytes of `values`.
func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
}

/// Whether two tensors have the same shape and bit-identical elements (NaN payloads included).
func bitIdentical(_ a: Tensor?, _ b: Tensor?) -> Bool {
    guard let a, let b else { return false }
    return a.shape == b.shape && a.data.map(\.bitPattern) == b.data.map(\.bitPattern)
}
