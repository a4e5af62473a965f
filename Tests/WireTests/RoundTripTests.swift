import Numerics
import Wire
import XCTest

final class RoundTripTests: XCTestCase {
    private func roundTrip(_ envelope: Envelope, file: StaticString = #filePath, line: UInt = #line) throws -> Envelope {
        let decoded = try Envelope(decoding: envelope.encoded())
        XCTAssertEqual(decoded, envelope, file: file, line: line)
        return decoded
    }

    private func single(_ name: String, _ tensor: Tensor, sequence: UInt64 = 7) -> Envelope {
        Envelope(sender: "actor-1", sequence: sequence, payload: .tensor(WireTensor(name: name, tensor: tensor)))
    }

    func testShapesRoundTrip() throws {
        _ = try roundTrip(single("scalar", Tensor(shape: [], data: [3.5])))
        _ = try roundTrip(single("empty", Tensor(shape: [0], data: [])))
        _ = try roundTrip(single("empty-inner", Tensor(shape: [3, 0, 2], data: [])))
        _ = try roundTrip(single("matrix", Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])))
        _ = try roundTrip(single("rank8", Tensor(repeating: 1, shape: [1, 2, 1, 2, 1, 2, 1, 2])))
    }

    func testHeaderFieldsRoundTrip() throws {
        let tensor = Tensor(shape: [1], data: [1])
        _ = try roundTrip(single("w", tensor, sequence: 0))
        _ = try roundTrip(single("w", tensor, sequence: .max))
        let unicode = Envelope(sender: "akteur-ü-3", sequence: 1,
                               payload: .tensor(WireTensor(name: "gewicht-ß", tensor: tensor)))
        _ = try roundTrip(unicode)
    }

    func testLargeTensorRoundTrip() throws {
        var rng = RandomGenerator(seed: 1)
        let tensor = Tensor(randomNormal: [1024, 1024], rng: &rng)
        _ = try roundTrip(single("big", tensor))
    }

    func testTensorListRoundTrip() throws {
        var rng = RandomGenerator(seed: 2)
        let list = (0..<5).map { i in
            WireTensor(name: "t\(i)", tensor: Tensor(randomNormal: [i, 3], rng: &rng))
        }
        _ = try roundTrip(Envelope(sender: "learner", sequence: 3, payload: .tensorList(list)))
        _ = try roundTrip(Envelope(sender: "learner", sequence: 4, payload: .tensorList([])))
        // The most tensors the default limits allow (the encoder borrows each one's storage
        // in a nested scope, so this also exercises its deepest nesting).
        let many = (0..<WireLimits.default.maxTensors).map { i in
            WireTensor(name: "p\(i)", tensor: Tensor(repeating: Float(i), shape: [2]))
        }
        _ = try roundTrip(Envelope(sender: "learner", sequence: 5, payload: .tensorList(many)))
    }

    /// Bit-exact transfer, including values Equatable would blur (-0) or that are easy to
    /// mangle (subnormals, extremes).
    func testSpecialFiniteValuesAreBitExact() throws {
        let values: [Float] = [-0.0, .leastNonzeroMagnitude, -.leastNormalMagnitude,
                               .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .pi]
        let decoded = try roundTrip(single("special", Tensor(shape: [values.count], data: values)))
        guard case let .tensor(t) = decoded.payload else { return XCTFail("payload changed kind") }
        XCTAssertEqual(t.tensor.data.map(\.bitPattern), values.map(\.bitPattern))
    }

    /// The encoder emits standard protobuf: the same bytes an independent writer produces.
    func testEncodingMatchesIndependentWriter() throws {
        let envelope = Envelope(sender: "actor-2", sequence: 300,
                                payload: .tensor(WireTensor(name: "w", tensor: Tensor(shape: [2, 2], data: [1, -2, 0.5, 8]))))
        let expected = envelopeBytes(sender: "actor-2", sequence: 300) { w in
            w.message(Field.tensor, writeTensor(name: "w", shape: [2, 2], data: [1, -2, 0.5, 8]))
        }
        XCTAssertEqual(try envelope.encoded(), expected)
    }

    /// Unknown header fields (numbers below 16) are ignored, so headers can grow compatibly.
    func testUnknownHeaderFieldIsIgnored() throws {
        let bytes = envelopeBytes { w in
            w.uint(9, 42)
            w.message(Field.tensor, writeTensor(name: "w", shape: [1], data: [2]))
        }
        let decoded = try Envelope(decoding: bytes)
        XCTAssertEqual(decoded.payload, .tensor(WireTensor(name: "w", tensor: Tensor(shape: [1], data: [2]))))
    }
}
