import Numerics

#if _endian(big)
#error("Weights.checksum hashes float memory as little-endian bytes")
#endif

/// A policy version: the trainable parameters only (`shielddiff.v1.Weights`).
///
/// The checksum is not stored: `Envelope.encoded` computes it over exactly what it sends,
/// and decoding verifies it, throwing `WireError.checksumMismatch` on any difference.
public struct Weights: Equatable, Sendable {
    /// Version number, increasing by one per learner update; at least 1.
    public var version: UInt64
    /// Uniquely named, non-empty-named tensors.
    public var tensors: [WireTensor]

    public init(version: UInt64, tensors: [WireTensor]) {
        self.version = version
        self.tensors = tensors
    }

    /// The checksum of this version's content; see `checksum(version:tensors:)`.
    public var checksum: UInt32 { Self.checksum(version: version, tensors: tensors) }

    /// CRC-32C of the byte string (all integers little-endian, floats as IEEE-754 binary32
    /// little-endian):
    /// `u64 version ‖ u32 tensor count ‖ for each tensor in order:
    ///  u32 name length ‖ name UTF-8 ‖ u32 rank ‖ u32 each dimension ‖ f32 each element`.
    /// Covering names and shapes catches reordered or reshaped tensors, not just changed
    /// values; the length prefixes make the byte string unambiguous.
    public static func checksum(version: UInt64, tensors: [WireTensor]) -> UInt32 {
        var crc = CRC32C()
        crc.update(littleEndian: version)
        crc.update(littleEndian: UInt32(truncatingIfNeeded: tensors.count))
        for entry in tensors {
            var name = entry.name
            name.withUTF8 { utf8 in
                crc.update(littleEndian: UInt32(truncatingIfNeeded: utf8.count))
                crc.update(UnsafeRawBufferPointer(utf8))
            }
            crc.update(littleEndian: UInt32(truncatingIfNeeded: entry.tensor.rank))
            for dimension in entry.tensor.shape { crc.update(littleEndian: UInt32(truncatingIfNeeded: dimension)) }
            // Swift's Linux and Apple targets are little-endian, so the float bytes in memory
            // are already the specified little-endian encoding.
            entry.tensor.data.withUnsafeBytes { crc.update($0) }
        }
        return crc.checksum
    }

    func validate(limits: WireLimits) throws(WireError) {
        try Validation.checkAtLeast(version, 1, what: "version of weights")
        try Validation.checkCount(tensors.count, what: "tensors of weights", limit: limits.maxTensors, allowEmpty: true)
        for (i, entry) in tensors.enumerated() {
            try entry.validate(what: "name of tensor \(i) of weights", limits: limits)
        }
        try Validation.checkUnique(tensors.lazy.map(\.name), what: "tensors of weights")
    }
}
