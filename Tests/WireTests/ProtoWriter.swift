/// A minimal protobuf writer, independent of protobuf-c, used to hand-craft envelopes
/// (including ones that are valid protobuf but carry bad content) as a test oracle.
/// Like proto3 encoders, it leaves out zero scalars and empty strings.
struct ProtoWriter {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func key(_ field: UInt32, wireType: UInt8) {
        varint(UInt64(field) << 3 | UInt64(wireType))
    }

    mutating func uint(_ field: UInt32, _ value: UInt64) {
        guard value != 0 else { return }
        key(field, wireType: 0)
        varint(value)
    }

    /// An enum or int32 field: negative values are sign-extended to ten bytes.
    mutating func int32(_ field: UInt32, _ value: Int32) {
        uint(field, UInt64(bitPattern: Int64(value)))
    }

    /// A float field (wire type 5); like protobuf-c, leaves out both +0 and -0.
    mutating func float(_ field: UInt32, _ value: Float) {
        guard value != 0 else { return }
        fixed32(field, value.bitPattern)
    }

    mutating func fixed32(_ field: UInt32, _ value: UInt32) {
        guard value != 0 else { return }
        key(field, wireType: 5)
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    /// A double field (wire type 1); like protobuf-c, leaves out both +0 and -0.
    mutating func double(_ field: UInt32, _ value: Double) {
        guard value != 0 else { return }
        key(field, wireType: 1)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }

    /// Appends already-encoded field bytes.
    mutating func raw(_ encoded: [UInt8]) {
        bytes += encoded
    }

    mutating func lengthDelimited(_ field: UInt32, _ payload: [UInt8]) {
        key(field, wireType: 2)
        varint(UInt64(payload.count))
        bytes += payload
    }

    mutating func string(_ field: UInt32, _ value: String) {
        guard !value.isEmpty else { return }
        lengthDelimited(field, Array(value.utf8))
    }

    mutating func packedUInt32(_ field: UInt32, _ values: [UInt32]) {
        guard !values.isEmpty else { return }
        var body = ProtoWriter()
        for v in values { body.varint(UInt64(v)) }
        lengthDelimited(field, body.bytes)
    }

    mutating func packedFloats(_ field: UInt32, _ values: [Float]) {
        guard !values.isEmpty else { return }
        var payload: [UInt8] = []
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { payload += $0 } }
        lengthDelimited(field, payload)
    }

    mutating func message(_ field: UInt32, _ build: (inout ProtoWriter) -> Void) {
        var body = ProtoWriter()
        build(&body)
        lengthDelimited(field, body.bytes)
    }
}

/// Field numbers from proto/shielddiff.proto.
enum Field {
    static let version: UInt32 = 1, sender: UInt32 = 2, sequence: UInt32 = 3
    static let tensor: UInt32 = 16, tensorList: UInt32 = 17
    static let tensorName: UInt32 = 1, tensorShape: UInt32 = 2, tensorData: UInt32 = 3
    static let listTensors: UInt32 = 1
}

/// Writes a Tensor message body.
func writeTensor(name: String, shape: [UInt32], data: [Float]) -> (inout ProtoWriter) -> Void {
    { w in
        w.string(Field.tensorName, name)
        w.packedUInt32(Field.tensorShape, shape)
        w.packedFloats(Field.tensorData, data)
    }
}

/// An envelope header followed by `payload` (which may write nothing or anything).
func envelopeBytes(
    version: UInt32 = 1, sender: String = "test", sequence: UInt64 = 0,
    payload: (inout ProtoWriter) -> Void
) -> [UInt8] {
    var w = ProtoWriter()
    w.uint(Field.version, UInt64(version))
    w.string(Field.sender, sender)
    w.uint(Field.sequence, sequence)
    payload(&w)
    return w.bytes
}

/// An envelope carrying one tensor.
func tensorEnvelopeBytes(
    version: UInt32 = 1, sender: String = "test", name: String = "w", shape: [UInt32], data: [Float]
) -> [UInt8] {
    envelopeBytes(version: version, sender: sender) { w in
        w.message(Field.tensor, writeTensor(name: name, shape: shape, data: data))
    }
}
