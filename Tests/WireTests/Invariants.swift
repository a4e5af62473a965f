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
    XCTAssertEqual(invariantViolations(envelope.payload, limits: limits), [], file: file, line: line)
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

/// Asserts that `payload` is refused with `expected` both ways: by the encoder, and by the
/// decoder given the reference encoder's bytes for it.
func assertRejected(
    _ payload: Envelope.Payload, _ expected: WireError, limits: WireLimits = .default,
    file: StaticString = #filePath, line: UInt = #line
) {
    let envelope = Samples.envelope(payload)
    assertEncodeThrows(envelope, expected, limits: limits, file: file, line: line)
    assertDecodeThrows(referenceBytes(envelope), expected, limits: limits, file: file, line: line)
}
