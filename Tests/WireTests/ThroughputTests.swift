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

/// Weights encode and decode throughput, checksum included (the receiver verifies it);
/// printed, not asserted.
final class WeightsThroughputTests: XCTestCase {
    func testWeightsEncodeDecodeThroughput() throws {
        var rng = RandomGenerator(seed: 6)
        let tensors = (0..<64).map { WireTensor(name: "lora.\($0)", tensor: Tensor(randomNormal: [128, 128], rng: &rng)) }
        let envelope = Envelope(sender: "learner", sequence: 1, payload: .weights(Weights(version: 3, tensors: tensors)))
        var bytes = try envelope.encoded()
        var decoded = try Envelope(decoding: bytes)
        let reps = 20
        let clock = ContinuousClock()
        let encode = clock.measure { for _ in 0..<reps { bytes = try! envelope.encoded() } }
        let decode = clock.measure { for _ in 0..<reps { decoded = try! Envelope(decoding: bytes) } }
        let checksum = clock.measure { for _ in 0..<reps { _ = Weights.checksum(version: 3, tensors: tensors) } }
        XCTAssertEqual(decoded, envelope)
        let gigabytes = Double(reps * bytes.count) / 1e9
        func rate(_ d: Duration) -> Double { gigabytes / (Double(d.components.attoseconds) * 1e-18 + Double(d.components.seconds)) }
        print(String(format: "weights (%.1f MB): encode %.2f GB/s, decode %.2f GB/s, CRC-32C alone %.2f GB/s",
                     Double(bytes.count) / 1e6, rate(encode), rate(decode), rate(checksum)))
    }
}
