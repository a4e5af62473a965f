import Numerics
import Wire
import XCTest

/// Valid protobuf with wrong content, and oversized input: each is rejected with its own
/// error case, on decoding and (where a Swift value can express it) on encoding.
final class ContentValidationTests: XCTestCase {
    func testCountNotShapeProduct() {
        assertDecodeThrows(tensorEnvelopeBytes(name: "w", shape: [2, 3], data: [1, 2, 3, 4, 5]),
                           .shapeMismatch(name: "w", shape: [2, 3], count: 5))
        assertDecodeThrows(tensorEnvelopeBytes(name: "s", shape: [], data: []),
                           .shapeMismatch(name: "s", shape: [], count: 0))
        var tensor = Tensor(shape: [2], data: [1, 2])
        tensor.data.append(3)
        assertEncodeThrows(Envelope(sender: "a", sequence: 0, payload: .tensor(WireTensor(name: "w", tensor: tensor))),
                           .shapeMismatch(name: "w", shape: [2], count: 3))
    }

    func testNonFiniteValues() {
        assertDecodeThrows(tensorEnvelopeBytes(name: "w", shape: [5], data: [0, 1, 2, .nan, .infinity]),
                           .nonFinite(name: "w", index: 3))
        assertDecodeThrows(tensorEnvelopeBytes(name: "w", shape: [2], data: [-.infinity, 1]),
                           .nonFinite(name: "w", index: 0))
        // A NaN far into a large buffer is found at its exact index.
        var data = [Float](repeating: 1, count: 100_000)
        data[99_998] = .infinity
        assertDecodeThrows(tensorEnvelopeBytes(name: "w", shape: [100_000], data: data),
                           .nonFinite(name: "w", index: 99_998))
        let bad = Tensor(shape: [3], data: [1, .nan, 2])
        assertEncodeThrows(Envelope(sender: "a", sequence: 0, payload: .tensor(WireTensor(name: "w", tensor: bad))),
                           .nonFinite(name: "w", index: 1))
    }

    func testUnsupportedVersion() {
        assertDecodeThrows(tensorEnvelopeBytes(version: 2, shape: [1], data: [1]),
                           .unsupportedVersion(got: 2, supported: 1...1))
        // proto3 leaves out a zero version, which reads back as version 0.
        assertDecodeThrows(tensorEnvelopeBytes(version: 0, shape: [1], data: [1]),
                           .unsupportedVersion(got: 0, supported: 1...1))
        let future = Envelope(protocolVersion: 9, sender: "a", sequence: 0,
                              payload: .tensor(WireTensor(name: "w", tensor: Tensor(shape: [1], data: [1]))))
        assertEncodeThrows(future, .unsupportedVersion(got: 9, supported: 1...1))
    }

    func testMissingAndUnknownPayload() {
        assertDecodeThrows(envelopeBytes { _ in }, .missingPayload)
        assertDecodeThrows(envelopeBytes { w in w.message(99) { $0.uint(1, 5) } }, .unknownPayload(field: 99))
    }

    func testRankTooHigh() {
        assertDecodeThrows(tensorEnvelopeBytes(name: "w", shape: Array(repeating: 1, count: 9), data: [1]),
                           .tooLarge(what: "rank of tensor 'w'", size: 9, limit: 8))
    }

    func testElementAndTensorCountLimits() {
        let limits = WireLimits(maxElements: 4, maxTensors: 2)
        assertDecodeThrows(tensorEnvelopeBytes(name: "w", shape: [5], data: [1, 2, 3, 4, 5]),
                           .tooLarge(what: "elements of tensor 'w'", size: 5, limit: 4), limits: limits)
        let list = envelopeBytes { w in
            w.message(Field.tensorList) { list in
                for name in ["a", "b", "c"] { list.message(Field.listTensors, writeTensor(name: name, shape: [1], data: [1])) }
            }
        }
        assertDecodeThrows(list, .tooLarge(what: "tensor list", size: 3, limit: 2), limits: limits)
        // A shape whose product overflows is a mismatch, not a crash.
        assertDecodeThrows(tensorEnvelopeBytes(name: "w", shape: [.max, .max, .max], data: [1]),
                           .shapeMismatch(name: "w", shape: [Int(UInt32.max), Int(UInt32.max), Int(UInt32.max)], count: 1))
        // Even when a trailing zero makes the true product 0, the overflowing intermediate
        // product (which Tensor would trap on) is rejected.
        let big = Int(UInt32.max)
        assertDecodeThrows(tensorEnvelopeBytes(name: "w", shape: [.max, .max, .max, 0], data: []),
                           .shapeMismatch(name: "w", shape: [big, big, big, 0], count: 0))
    }

    func testOversizedMessageRejectedBeforeParsing() {
        let bytes = tensorEnvelopeBytes(shape: [1000], data: [Float](repeating: 1, count: 1000))
        let limits = WireLimits(maxMessageBytes: 1000)
        assertDecodeThrows(bytes, .tooLarge(what: "message bytes", size: bytes.count, limit: 1000), limits: limits)
        let envelope = Envelope(sender: "test", sequence: 0,
                                payload: .tensor(WireTensor(name: "w", tensor: Tensor(repeating: 1, shape: [1000]))))
        assertEncodeThrows(envelope, .tooLarge(what: "message bytes", size: bytes.count, limit: 1000), limits: limits)
    }

    func testBadNames() {
        assertDecodeThrows(tensorEnvelopeBytes(name: "", shape: [1], data: [1]),
                           .invalidName(what: "tensor name", problem: .empty))
        assertDecodeThrows(tensorEnvelopeBytes(sender: "", shape: [1], data: [1]),
                           .invalidName(what: "sender", problem: .empty))
        let long = String(repeating: "x", count: 257)
        assertDecodeThrows(tensorEnvelopeBytes(name: long, shape: [1], data: [1]),
                           .tooLarge(what: "tensor name", size: 257, limit: 256))
        let notUTF8 = envelopeBytes { w in
            w.message(Field.tensor) { t in
                t.lengthDelimited(Field.tensorName, [0x77, 0xFF, 0xFE])
                t.packedUInt32(Field.tensorShape, [1])
                t.packedFloats(Field.tensorData, [1])
            }
        }
        assertDecodeThrows(notUTF8, .invalidName(what: "tensor name", problem: .notUTF8))
        let nul = Envelope(sender: "a\u{0}b", sequence: 0,
                           payload: .tensor(WireTensor(name: "w", tensor: Tensor(shape: [1], data: [1]))))
        assertEncodeThrows(nul, .invalidName(what: "sender", problem: .containsNUL))
    }

    func testListTensorErrorsNameTheirIndex() {
        let bytes = envelopeBytes { w in
            w.message(Field.tensorList) { list in
                list.message(Field.listTensors, writeTensor(name: "a", shape: [1], data: [1]))
                list.message(Field.listTensors, writeTensor(name: "", shape: [1], data: [1]))
            }
        }
        assertDecodeThrows(bytes, .invalidName(what: "name of tensor 1", problem: .empty))
    }

    func testNegativeDimensionCannotBeEncoded() {
        var tensor = Tensor(shape: [1], data: [1])
        tensor.shape = [-1, -1]
        assertEncodeThrows(Envelope(sender: "a", sequence: 0, payload: .tensor(WireTensor(name: "w", tensor: tensor))),
                           .invalidDimension(name: "w", shape: [-1, -1]))
    }

    func testDescriptionsNameWhatIsWrong() {
        let cases: [(WireError, [String])] = [
            (.malformed(bytes: 17), ["malformed", "17"]),
            (.unsupportedVersion(got: 2, supported: 1...1), ["version 2", "1...1"]),
            (.shapeMismatch(name: "w", shape: [2, 3], count: 5), ["'w'", "[2, 3]", "6", "5"]),
            (.nonFinite(name: "w", index: 3), ["'w'", "element 3"]),
            (.tooLarge(what: "message bytes", size: 10, limit: 5), ["message bytes", "10", "5"]),
            (.invalidName(what: "sender", problem: .empty), ["sender is empty"]),
            (.missingPayload, ["no payload"]),
            (.unknownPayload(field: 99), ["99"]),
        ]
        for (error, parts) in cases {
            for part in parts { XCTAssertTrue(error.description.contains(part), "\(error.description) lacks \(part)") }
            XCTAssertEqual(error.localizedDescription, error.description)
        }
    }
}
