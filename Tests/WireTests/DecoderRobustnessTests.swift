import Numerics
import Wire
import XCTest

/// Bytes fed whole, truncated and random, in the spirit of swift-nio's
/// ByteToMessageDecoderVerifier: decoding never crashes, and anything it accepts
/// satisfies every validation property.
final class DecoderRobustnessTests: XCTestCase {
    private let valid: [UInt8] = envelopeBytes(sender: "actor-9", sequence: 12) { w in
        w.message(Field.tensorList) { list in
            list.message(Field.listTensors, writeTensor(name: "a", shape: [2, 2], data: [1, 2, 3, 4]))
            list.message(Field.listTensors, writeTensor(name: "b", shape: [], data: [-1]))
        }
    }

    /// Decodes `bytes`, asserting validity on success; returns whether it decoded.
    private func decodeChecked(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> Bool {
        do {
            assertSatisfiesValidation(try Envelope(decoding: bytes), file: file, line: line)
            return true
        } catch {
            XCTAssertFalse(error.description.isEmpty, file: file, line: line)
            return false
        }
    }

    func testWholeMessageDecodes() {
        XCTAssertTrue(decodeChecked(valid))
    }

    func testEveryTruncatedPrefix() {
        var accepted = 0
        for length in 0..<valid.count where decodeChecked(Array(valid[..<length])) { accepted += 1 }
        print("truncation: \(accepted) of \(valid.count) proper prefixes decoded (each checked valid)")
    }

    func testRandomBuffers() {
        var rng = RandomGenerator(seed: 42)
        var accepted = 0
        let trials = 5000
        for _ in 0..<trials {
            let count = Int(rng.next() % 160)
            let bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if decodeChecked(bytes) { accepted += 1 }
        }
        print("random: \(accepted) of \(trials) random buffers decoded (each checked valid)")
    }

    /// Random edits of a valid message reach deeper into the parser than pure noise.
    func testMutatedValidMessages() {
        var rng = RandomGenerator(seed: 43)
        var accepted = 0
        let trials = 5000
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
        print("mutation: \(accepted) of \(trials) mutated messages decoded (each checked valid)")
        XCTAssertLessThan(accepted, trials, "mutations never rejected: the decoder checks nothing")
    }
}
