import Numerics
import Wire

/// An encoder of `Envelope` values written from the .proto and PROTOCOL.md alone, with
/// ProtoWriter and a bitwise CRC-32C: the oracle for the protobuf-c path. It encodes any
/// value, valid or not, so tests can feed the decoder content the real encoder refuses.
/// `checksum` overrides the weights checksum it would compute; `unknownFields` (raw field
/// bytes) are appended inside the payload message.
func referenceBytes(_ envelope: Envelope, checksum: UInt32? = nil, unknownFields: [UInt8] = []) -> [UInt8] {
    envelopeBytes(version: envelope.protocolVersion, sender: envelope.sender, sequence: envelope.sequence) { w in
        w.message(envelope.payload.kind.rawValue) { m in
            writeBody(&m, envelope.payload, checksum: checksum)
            m.raw(unknownFields)
        }
    }
}

private func writeBody(_ m: inout ProtoWriter, _ payload: Envelope.Payload, checksum: UInt32?) {
    switch payload {
    case let .tensor(t): writeTensor(t.name, t.tensor)(&m)
    case let .tensorList(list): for t in list { m.message(1, writeTensor(t.name, t.tensor)) }
    case let .hello(h):
        m.int32(1, h.role.rawValue); m.string(2, h.instanceID); m.uint(3, UInt64(h.pid))
        m.uint(4, h.policyVersion); m.string(5, h.configDigest)
    case let .welcome(x):
        m.string(1, x.runID); m.uint(2, x.policyVersion); m.uint(3, UInt64(x.heartbeatIntervalMilliseconds))
        m.uint(4, UInt64(x.liveness)); m.string(5, x.configDigest); m.uint(6, UInt64(x.maxInFlightBatches))
    case let .heartbeat(x): m.uint(1, x.policyVersion); writeMetrics(&m, 2, x.counters)
    case let .trajectoryBatch(b):
        m.string(1, b.actorID); m.uint(2, b.batchID)
        for t in b.trajectories { m.message(3) { writeTrajectory(&$0, t) } }
    case let .batchAck(a):
        m.uint(1, a.batchID); m.uint(2, UInt64(a.accepted)); m.uint(3, UInt64(a.rejected))
        m.string(4, a.reason); m.uint(5, a.policyVersion)
    case let .rewardRequest(r):
        m.uint(1, r.requestID); m.message(2, writeTensor("", r.images))
        for p in r.prompts { m.lengthDelimited(3, Array(p.utf8)) }
    case let .rewardResult(r):
        m.uint(1, r.requestID); m.packedFloats(2, r.rewards); m.packedFloats(3, r.alignment); m.packedFloats(4, r.unsafe)
    case let .weights(x):
        m.uint(1, x.version); m.fixed32(2, checksum ?? referenceChecksum(x))
        for t in x.tensors { m.message(3, writeTensor(t.name, t.tensor)) }
    case let .stats(s): m.uint(1, s.policyVersion); writeMetrics(&m, 2, s.metrics)
    case let .terminate(t): m.string(1, t.reason)
    case .terminateAck: break
    case let .ready(r): m.uint(1, UInt64(r.credit))
    case let .error(e): m.int32(1, e.code.rawValue); m.string(2, e.detail); m.uint(3, e.inReplyTo)
    }
}

func writeTensor(_ name: String, _ tensor: Tensor) -> (inout ProtoWriter) -> Void {
    writeTensor(name: name, shape: tensor.shape.map { UInt32(truncatingIfNeeded: $0) }, data: tensor.data)
}

private func writeMetrics(_ w: inout ProtoWriter, _ field: UInt32, _ metrics: [Metric]) {
    for metric in metrics { w.message(field) { m in m.string(1, metric.name); m.double(2, metric.value) } }
}

func writeTrajectory(_ m: inout ProtoWriter, _ t: Trajectory) {
    m.string(1, t.prompt); m.string(2, t.safePrompt); m.uint(3, t.seed); m.uint(4, t.policyVersion)
    m.packedUInt32(5, t.timesteps); m.message(6, writeTensor("", t.latents)); m.packedFloats(7, t.logProbs)
    m.float(8, t.reward); m.float(9, t.alignment); m.float(10, t.unsafeProbability)
    m.float(11, t.conceptEta)
}

/// The weights checksum as PROTOCOL.md defines it, byte string built explicitly.
func referenceChecksum(_ weights: Weights) -> UInt32 {
    var s: [UInt8] = []
    func le<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { s += $0 } }
    le(weights.version)
    le(UInt32(weights.tensors.count))
    for t in weights.tensors {
        le(UInt32(t.name.utf8.count)); s += Array(t.name.utf8)
        le(UInt32(t.tensor.rank)); for d in t.tensor.shape { le(UInt32(d)) }
        for v in t.tensor.data { le(v.bitPattern) }
    }
    return bitwiseCRC32C(s)
}

/// CRC-32C one bit at a time, straight from the definition (reflected 0x82F63B78).
func bitwiseCRC32C(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }
    return crc ^ 0xFFFF_FFFF
}
