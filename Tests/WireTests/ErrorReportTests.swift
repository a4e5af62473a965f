import Wire
import XCTest

final class ErrorReportTests: XCTestCase {
    func testCodeForDecodeFailure() {
        XCTAssertEqual(ErrorReport(for: .unsupportedVersion(got: 2, supported: 1...1)).code, .unsupportedVersion)
        XCTAssertEqual(ErrorReport(for: .unknownPayload(field: 40)).code, .unknownKind)
        XCTAssertEqual(ErrorReport(for: .malformed(bytes: 3)).code, .malformed)
        let report = ErrorReport(for: .checksumMismatch(version: 2, expected: 1, computed: 2), inReplyTo: 17)
        XCTAssertEqual(report.code, .malformed)
        XCTAssertEqual(report.inReplyTo, 17)
        XCTAssertTrue(report.detail.contains("checksum mismatch"))
    }

    /// A long error description is cut to the text limit on a character boundary, so the
    /// report itself always encodes.
    func testDetailFitsTheLimit() throws {
        let long = WireError.invalidName(what: String(repeating: "ü", count: 3000), problem: .empty)
        let limits = WireLimits(maxTextBytes: 101)
        let report = ErrorReport(for: long, limits: limits)
        XCTAssertEqual(report.detail.utf8.count, 100)
        XCTAssertTrue(long.description.hasPrefix(report.detail))
        let envelope = Envelope(sender: "learner", sequence: 1, payload: .error(report))
        XCTAssertEqual(try Envelope(decoding: envelope.encoded(limits: limits), limits: limits), envelope)
    }

    func testKindNamesAreDistinct() {
        let names = MessageKind.allCases.map(\.description)
        XCTAssertEqual(Set(names).count, names.count)
        XCTAssertEqual(MessageKind.trajectoryBatch.description, "TRAJECTORY_BATCH")
        XCTAssertEqual(Samples.payloads.map(\.kind.rawValue), Array(16...30))
    }
}
