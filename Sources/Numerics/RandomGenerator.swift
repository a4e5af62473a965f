import Foundation

/// A seeded, splittable random generator: xoshiro256** seeded through SplitMix64.
///
/// Every run is reproducible from one seed. `split(_:)` derives an independent child
/// stream from a key (an actor index, a step number) without advancing the parent, so
/// work handed to different processes or threads never shares or reorders a stream.
public struct RandomGenerator: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64
    /// Identity of this stream, kept so that `split` is a pure function of (stream, key).
    private let streamKey: UInt64

    public init(seed: UInt64) {
        self.init(streamKey: RandomGenerator.mix(seed &+ 0x9E37_79B9_7F4A_7C15))
    }

    private init(streamKey: UInt64) {
        self.streamKey = streamKey
        var sm = streamKey
        s0 = RandomGenerator.splitMix(&sm)
        s1 = RandomGenerator.splitMix(&sm)
        s2 = RandomGenerator.splitMix(&sm)
        s3 = RandomGenerator.splitMix(&sm)
    }

    /// The state as four words followed by the stream key, for checkpoints.
    public var state: [UInt64] { [s0, s1, s2, s3, streamKey] }

    /// Restores a generator saved with `state`; nil if the words cannot be a state.
    public init?(state: [UInt64]) {
        guard state.count == 5, state[0...3].contains(where: { $0 != 0 }) else { return nil }
        (s0, s1, s2, s3, streamKey) = (state[0], state[1], state[2], state[3], state[4])
    }

    /// An independent generator for `key`; the parent is unchanged.
    public func split(_ key: UInt64) -> RandomGenerator {
        RandomGenerator(streamKey: RandomGenerator.mix(streamKey ^ RandomGenerator.mix(key &+ 0xD1B5_4A32_D192_ED03)))
    }

    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextUniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [lo, hi).
    public mutating func nextUniform(_ lo: Float, _ hi: Float) -> Float {
        lo + (hi - lo) * nextUniform()
    }

    /// Standard normal by Box–Muller (one of the pair is discarded: simpler state, and
    /// sampling cost is dominated by the network, not by this).
    public mutating func nextGaussian() -> Float {
        let u1 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        let r = (-2.0 * log(1.0 - u1)).squareRoot()
        return Float(r * cos(2.0 * Double.pi * u2))
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    private static func splitMix(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        return mix(x)
    }

    private static func mix(_ v: UInt64) -> UInt64 {
        var z = v
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
