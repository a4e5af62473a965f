import Numerics

/// FNV-1a (64-bit) over a stream of words: the project's content digest (learner checkpoints'
/// tensor digest, the run config's digest, the safety report's cells). Not cryptographic:
/// it catches damage and changed inputs, not a forger.
public struct FNV1a: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func mix(_ word: UInt64) { value = (value ^ word) &* 0x100_0000_01b3 }

    /// Each byte as one word.
    public mutating func mix<Bytes: Sequence>(bytes: Bytes) where Bytes.Element == UInt8 {
        for byte in bytes { mix(UInt64(byte)) }
    }

    /// The value in hexadecimal.
    public var hex: String { String(value, radix: 16) }

    /// Every tensor's name, shape and float bits in name order.
    public static func digest(_ tensors: [String: Tensor]) -> String {
        var hash = FNV1a()
        for name in tensors.keys.sorted() {
            hash.mix(bytes: name.utf8)
            let t = tensors[name]!
            for d in t.shape { hash.mix(UInt64(d)) }
            t.data.withUnsafeBufferPointer { for x in $0 { hash.mix(UInt64(x.bitPattern)) } }
        }
        return hash.hex
    }
}
