import Numerics
import Wire
import XCTest

/// Rough encode and decode throughput for a 16 MiB tensor; printed, not asserted.
final class ThroughputTests: XCTestCase {
    func testEncodeDecodeThroughput() throws {
        var rng = RandomGenerator(seed: 5)
        let tensor = Tensor(randomNormal: [4, 1024, 1024], rng: &rng)
        let envelope = Envelope(sender: "actor-0", sequence: 1,
                                payload: .tensor(WireTensor(name: "batch", tensor: tensor)))
        var bytes = try envelope.encoded()
        var decoded = try Envelope(decoding: bytes)
        let reps = 20

        let encodeStart = Date()
        for _ in 0..<reps { bytes = try envelope.encoded() }
        let encodeSeconds = Date().timeIntervalSince(encodeStart)

        let decodeStart = Date()
        for _ in 0..<reps { decoded = try Envelope(decoding: bytes) }
        let decodeSeconds = Date().timeIntervalSince(decodeStart)

        XCTAssertEqual(decoded, envelope)
        let gigabytes = Double(reps * bytes.count) / 1e9
        print(String(format: "wire throughput (%.1f MB message): encode %.2f GB/s, decode %.2f GB/s, round trip %.2f GB/s",
                     Double(bytes.count) / 1e6, gigabytes / encodeSeconds, gigabytes / decodeSeconds,
                     gigabytes / (encodeSeconds + decodeSeconds)))
    }
}
