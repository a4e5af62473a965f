import Numerics
import Wire
import XCTest

/// Every new message kind, fed whole, truncated, mutated and as random payload bytes:
/// decoding never crashes, and whatever it accepts satisfies every invariant.
final class MessageRobustnessTests: XCTestCase {
    private func decodeChecked(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> Bool {
        do {
            assertSatisfiesValidation(try Envelope(decoding: bytes), file: file, line: line)
            return true
        } catch {
            XCTAssertFalse(error.description.isEmpty, file: file, line: line)
            return false
        }
    }

    private var encodedSamples: [(MessageKind, [UInt8])] {
        Samples.payloads.map { ($0.kind, try! Samples.envelope($0).encoded()) }
    }

    func testEveryTruncatedPrefix() {
        for (kind, bytes) in encodedSamples {
            XCTAssertTrue(decodeChecked(bytes), "\(kind)")
            var accepted = 0
            for length in 0..<bytes.count where decodeChecked(Array(bytes[..<length])) { accepted += 1 }
            print("truncation \(kind): \(accepted) of \(bytes.count) proper prefixes decoded (each checked valid)")
        }
    }

    func testMutatedMessages() {
        var rng = RandomGenerator(seed: 44)
        for (kind, valid) in encodedSamples {
            var accepted = 0
            let trials = 1500
            for _ in 0..<trials {
                var bytes = valid
                for _ in 0..<(1 + rng.next() % 4) {
                    let i = Int(rng.next() % UInt64(bytes.count))
                    switch rng.next() % 3 {
                    case 0: bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                    case 1: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
                    default: if bytes.count > 1 { bytes.remove(at: i) }
                    }
                }
                if decodeChecked(bytes) { accepted += 1 }
            }
            print("mutation \(kind): \(accepted) of \(trials) mutated messages decoded (each checked valid)")
        }
    }

    /// A valid header and payload key followed by random bytes reaches each message's parser.
    func testRandomPayloadBodies() {
        var rng = RandomGenerator(seed: 45)
        for kind in MessageKind.allCases {
            var accepted = 0
            for _ in 0..<1000 {
                let body = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if decodeChecked(envelopeBytes { $0.lengthDelimited(kind.rawValue, body) }) { accepted += 1 }
            }
            print("random body \(kind): \(accepted) of 1000 decoded (each checked valid)")
        }
    }

    func testOversizedBatchRejectedBothWays() throws {
        let batch = Samples.envelope(.trajectoryBatch(TrajectoryBatch(
            actorID: "a", batchID: 1, trajectories: (0..<4).map { Samples.trajectory(latentSize: 64, seed: UInt64($0)) })))
        let bytes = try batch.encoded()
        let limits = WireLimits(maxMessageBytes: bytes.count - 1)
        assertDecodeThrows(bytes, .tooLarge(what: "message bytes", size: bytes.count, limit: bytes.count - 1), limits: limits)
        assertEncodeThrows(batch, .tooLarge(what: "message bytes", size: bytes.count, limit: bytes.count - 1), limits: limits)
    }
}
