import Numerics
import Wire
import XCTest

/// Every message kind survives encode → decode unchanged, and the encoder's bytes equal
/// those of the reference encoder written from the .proto.
final class MessageRoundTripTests: XCTestCase {
    func testSamplesCoverEveryKind() {
        XCTAssertEqual(Set(Samples.payloads.map(\.kind)), Set(MessageKind.allCases))
    }

    func testEveryKindRoundTrips() throws {
        for (i, payload) in Samples.payloads.enumerated() {
            let envelope = Samples.envelope(payload, sequence: UInt64(i + 1))
            let bytes = try envelope.encoded()
            XCTAssertEqual(try Envelope(decoding: bytes), envelope, "\(payload.kind)")
        }
    }

    func testEveryKindMatchesReferenceEncoder() throws {
        for payload in Samples.payloads {
            let envelope = Samples.envelope(payload)
            XCTAssertEqual(try envelope.encoded(), referenceBytes(envelope), "\(payload.kind)")
        }
    }

    /// Bytes from the reference encoder decode to the value they were written from, so the
    /// field numbers and wire types agree with the .proto in both directions.
    func testReferenceBytesDecode() throws {
        for payload in Samples.payloads {
            let envelope = Samples.envelope(payload)
            XCTAssertEqual(try Envelope(decoding: referenceBytes(envelope)), envelope, "\(payload.kind)")
        }
    }

    func testExtremeValuesRoundTrip() throws {
        var trajectory = Samples.trajectory(steps: 2, latentSize: 3)
        trajectory.seed = .max
        trajectory.policyVersion = .max
        trajectory.timesteps = [.max, 0]
        trajectory.logProbs = [-.greatestFiniteMagnitude, -0.0]
        trajectory.latents.data[0] = .leastNonzeroMagnitude
        trajectory.reward = -.leastNonzeroMagnitude
        trajectory.unsafeProbability = 1
        trajectory.conceptEta = .greatestFiniteMagnitude
        let payloads: [Envelope.Payload] = [
            .trajectoryBatch(TrajectoryBatch(actorID: "a", batchID: .max, trajectories: [trajectory])),
            .hello(Hello(role: .supervisor, instanceID: "s", pid: .max, policyVersion: 0)),
            .welcome(Welcome(runID: "r", policyVersion: .max, heartbeatIntervalMilliseconds: .max, liveness: .max)),
            .batchAck(BatchAck(batchID: 0, accepted: 0, policyVersion: 0)),
            .rewardRequest(RewardRequest(requestID: .max, images: Samples.images(1, value: 1), prompts: ["p"])),
            .stats(Stats(policyVersion: 0, metrics: [Metric(name: "x", value: -.greatestFiniteMagnitude)])),
            .weights(Weights(version: .max, tensors: [])),
            .error(ErrorReport(code: .internal, detail: "", inReplyTo: .max)),
        ]
        for payload in payloads {
            let envelope = Samples.envelope(payload)
            let decoded = try Envelope(decoding: envelope.encoded())
            XCTAssertEqual(decoded, envelope, "\(payload.kind)")
            XCTAssertEqual(try decoded.encoded(), referenceBytes(envelope), "\(payload.kind)")
        }
    }

    func testEveryRoleAndErrorCodeRoundTrips() throws {
        for role in Role.allCases {
            let envelope = Samples.envelope(.hello(Hello(role: role, instanceID: "x", pid: 1, policyVersion: 0)))
            XCTAssertEqual(try Envelope(decoding: envelope.encoded()), envelope)
        }
        for code in ErrorReport.Code.allCases {
            let envelope = Samples.envelope(.error(ErrorReport(code: code, detail: "d")))
            XCTAssertEqual(try Envelope(decoding: envelope.encoded()), envelope)
        }
    }

    /// The largest batch the default limits allow encodes (each trajectory's latents are
    /// lent to protobuf-c in a nested scope) on a thread with a 512 KiB stack.
    func testLargestBatchEncodesOnSmallStack() throws {
        let count = WireLimits.default.maxTrajectories
        let trajectory = Samples.trajectory(steps: 2, latentSize: 2)
        let envelope = Samples.envelope(.trajectoryBatch(
            TrajectoryBatch(actorID: "a", batchID: 1, trajectories: Array(repeating: trajectory, count: count))))
        let weights = Samples.envelope(.weights(Weights(version: 1, tensors: (0..<WireLimits.default.maxTensors).map {
            WireTensor(name: "p\($0)", tensor: Tensor(shape: [1], data: [Float($0)]))
        })))
        nonisolated(unsafe) var results: [Envelope] = []
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            for e in [envelope, weights] {
                if let bytes = try? e.encoded(), let back = try? Envelope(decoding: bytes) { results.append(back) }
            }
            done.signal()
        }
        thread.stackSize = 512 << 10
        thread.start()
        done.wait()
        XCTAssertEqual(results, [envelope, weights])
    }
}
