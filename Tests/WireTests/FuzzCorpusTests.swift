import Foundation
import Wire
import XCTest

/// The Envelope fuzz target's committed seeds (Tests/Fuzz/Corpus/FuzzEnvelope: one sample of
/// every payload kind) and its kept crash inputs (Tests/Fuzz/Regressions/FuzzEnvelope),
/// replayed through the target's invariant without the sanitizers.
final class FuzzCorpusTests: XCTestCase {
    private static let fuzz = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz")

    private static func files(_ folder: String) throws -> [URL] {
        let url = fuzz.appendingPathComponent(folder)
        return try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)
            .filter { !$0.lastPathComponent.hasPrefix(".") }.sorted { $0.path < $1.path }
    }

    /// Every kind has its seed; SHIELDDIFF_WRITE_SEEDS=1 rewrites them from `Samples`.
    func testSeedsHoldEveryPayloadKind() throws {
        let folder = Self.fuzz.appendingPathComponent("Corpus/FuzzEnvelope")
        for payload in Samples.payloads {
            let bytes = try Samples.envelope(payload).encoded()
            let file = folder.appendingPathComponent("\(payload.kind).bin")
            if ProcessInfo.processInfo.environment["SHIELDDIFF_WRITE_SEEDS"] != nil { try Data(bytes).write(to: file) }
            XCTAssertEqual(try? Data(contentsOf: file), Data(bytes), "seed of \(payload.kind) missing or stale: \(file.path)")
        }
    }

    /// Decode → encode → decode gives the same envelope and bytes (the fuzz target's check).
    func testSeedsAndRegressionsKeepTheRoundTripInvariant() throws {
        let inputs = try Self.files("Corpus/FuzzEnvelope") + Self.files("Regressions/FuzzEnvelope")
        XCTAssertGreaterThanOrEqual(inputs.count, Samples.payloads.count)
        for file in inputs {
            guard let envelope = try? Envelope(decoding: [UInt8](try Data(contentsOf: file))) else { continue }
            let encoded = try envelope.encoded()
            XCTAssertEqual(try Envelope(decoding: encoded), envelope, file.path)
            XCTAssertEqual(try Envelope(decoding: encoded).encoded(), encoded, file.path)
        }
    }
}
