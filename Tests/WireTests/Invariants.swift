import Numerics
import Wire
import XCTest

/// Asserts that a decoded envelope has every property decoding promises, independently of
/// the decoder's own checks, and that it survives an encode/decode round trip.
func assertSatisfiesValidation(
    _ envelope: Envelope, limits: WireLimits = .default, file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertTrue(Envelope.supportedVersions.contains(envelope.protocolVersion), file: file, line: line)
    XCTAssertFalse(envelope.sender.isEmpty, file: file, line: line)
    XCTAssertLessThanOrEqual(envelope.sender.utf8.count, limits.maxNameBytes, file: file, line: line)
    let tensors: [WireTensor]
    switch envelope.payload {
    case let .tensor(tensor): tensors = [tensor]
    case let .tensorList(list): tensors = list
    }
    XCTAssertLessThanOrEqual(tensors.count, limits.maxTensors, file: file, line: line)
    for t in tensors {
        XCTAssertFalse(t.name.isEmpty, file: file, line: line)
        XCTAssertLessThanOrEqual(t.name.utf8.count, limits.maxNameBytes, file: file, line: line)
        XCTAssertLessThanOrEqual(t.tensor.rank, limits.maxRank, file: file, line: line)
        XCTAssertEqual(t.tensor.shape.reduce(1, *), t.tensor.count, file: file, line: line)
        XCTAssertLessThanOrEqual(t.tensor.count, limits.maxElements, file: file, line: line)
        XCTAssertTrue(t.tensor.data.allSatisfy(\.isFinite), file: file, line: line)
    }
    do {
        let again = try Envelope(decoding: envelope.encoded(limits: limits), limits: limits)
        XCTAssertEqual(again, envelope, file: file, line: line)
    } catch {
        XCTFail("re-encoding a decoded envelope failed: \(error)", file: file, line: line)
    }
}

/// Asserts that decoding `bytes` throws exactly `expected`.
func assertDecodeThrows(
    _ bytes: [UInt8], _ expected: WireError, limits: WireLimits = .default,
    file: StaticString = #filePath, line: UInt = #line
) {
    do {
        let envelope = try Envelope(decoding: bytes, limits: limits)
        XCTFail("decoded \(envelope), expected \(expected)", file: file, line: line)
    } catch {
        XCTAssertEqual(error, expected, file: file, line: line)
    }
}

/// Asserts that encoding `envelope` throws exactly `expected`.
func assertEncodeThrows(
    _ envelope: Envelope, _ expected: WireError, limits: WireLimits = .default,
    file: StaticString = #filePath, line: UInt = #line
) {
    do {
        let bytes = try envelope.encoded(limits: limits)
        XCTFail("encoded \(bytes.count) bytes, expected \(expected)", file: file, line: line)
    } catch {
        XCTAssertEqual(error, expected, file: file, line: line)
    }
}
