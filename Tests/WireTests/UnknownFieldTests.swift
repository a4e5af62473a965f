import Numerics
import Wire
import XCTest

/// Unknown fields inside a known message are ignored (a newer peer may add them); unknown
/// payload kinds are rejected naming their field number.
final class UnknownFieldTests: XCTestCase {
    /// One unknown field of each wire type: varint, fixed64, length-delimited, fixed32.
    private let unknown: [UInt8] = {
        var w = ProtoWriter()
        w.uint(99, 12345)
        w.double(100, 2.5)
        w.message(101) { $0.string(1, "from the future") }
        w.fixed32(102, 7)
        return w.bytes
    }()

    func testUnknownFieldsInEveryPayloadAreIgnored() throws {
        for payload in Samples.payloads {
            let envelope = Samples.envelope(payload)
            let bytes = referenceBytes(envelope, unknownFields: unknown)
            XCTAssertGreaterThan(bytes.count, referenceBytes(envelope).count)
            XCTAssertEqual(try Envelope(decoding: bytes), envelope, "\(payload.kind)")
        }
    }

    func testUnknownFieldsInNestedMessagesAreIgnored() throws {
        let trajectory = Samples.trajectory()
        let bytes = envelopeBytes(sender: "peer-1", sequence: 1) { w in
            w.message(MessageKind.trajectoryBatch.rawValue) { b in
                b.string(1, "actor-1")
                b.message(3) { t in
                    writeTrajectory(&t, trajectory)
                    t.raw(self.unknown)
                }
            }
        }
        let expected = Samples.envelope(.trajectoryBatch(TrajectoryBatch(actorID: "actor-1", batchID: 0,
                                                                          trajectories: [trajectory])))
        XCTAssertEqual(try Envelope(decoding: bytes), expected)
    }

    func testUnknownPayloadKindRejected() {
        for field: UInt32 in [31, 64, 1000] {
            let bytes = envelopeBytes { w in w.message(field) { $0.uint(1, 1) } }
            assertDecodeThrows(bytes, .unknownPayload(field: field))
        }
    }
}
