/// Checks shared by encoding and decoding, so a sender never emits what a receiver rejects.
enum Validation {
    static func checkVersion(_ version: UInt32) throws(WireError) {
        guard Envelope.supportedVersions.contains(version) else {
            throw .unsupportedVersion(got: version, supported: Envelope.supportedVersions)
        }
    }

    /// Checks a name given as its UTF-8 bytes (without terminator).
    static func checkName(_ utf8: some Collection<UInt8>, what: String, limits: WireLimits) throws(WireError) {
        guard !utf8.isEmpty else { throw .invalidName(what: what, problem: .empty) }
        guard utf8.count <= limits.maxNameBytes else {
            throw .tooLarge(what: what, size: utf8.count, limit: limits.maxNameBytes)
        }
        guard !utf8.contains(0) else { throw .invalidName(what: what, problem: .containsNUL) }
    }

    static func checkRank(_ rank: Int, name: String, limits: WireLimits) throws(WireError) {
        guard rank <= limits.maxRank else {
            throw .tooLarge(what: "rank of tensor '\(name)'", size: rank, limit: limits.maxRank)
        }
    }

    /// Checks a tensor's shape against its elements (`data`), the limits, and finiteness.
    static func checkTensor(
        name: String, shape: [Int], data: UnsafeBufferPointer<Float>, limits: WireLimits
    ) throws(WireError) {
        try checkRank(shape.count, name: name, limits: limits)
        guard shape.allSatisfy({ 0...Int(UInt32.max) ~= $0 }) else {
            throw .invalidDimension(name: name, shape: shape)
        }
        guard data.count <= limits.maxElements else {
            throw .tooLarge(what: "elements of tensor '\(name)'", size: data.count, limit: limits.maxElements)
        }
        guard product(shape) == data.count else {
            throw .shapeMismatch(name: name, shape: shape, count: data.count)
        }
        if let index = firstNonFinite(data) { throw .nonFinite(name: name, index: index) }
    }

    /// Product of non-negative dimensions taken left to right, as `Tensor` computes it,
    /// saturating at `Int.max`: a shape like [2^32-1, 2^32-1, 2^32-1, 0] must be rejected
    /// here, because `Tensor.init` would trap on its overflowing intermediate product.
    static func product(_ shape: [Int]) -> Int {
        var p = 1
        for d in shape {
            let (next, overflow) = p.multipliedReportingOverflow(by: d)
            if overflow { return .max }
            p = next
        }
        return p
    }

    /// Index of the first NaN or infinity, if any.
    ///
    /// One branch-free pass in the common all-finite case. A float is non-finite exactly
    /// when its magnitude bits are at least 0x7F80_0000, i.e. when adding 0x0080_0000 to
    /// them carries into bit 31; OR-ing those sums is an and/add/or loop that vectorizes
    /// even on baseline SSE2. Only a bad buffer is scanned again for the index.
    static func firstNonFinite(_ data: UnsafeBufferPointer<Float>) -> Int? {
        guard let base = data.baseAddress else { return nil }
        let bits = UnsafeRawPointer(base).assumingMemoryBound(to: UInt32.self)
        var carries: UInt32 = 0
        for i in 0..<data.count { carries |= (bits[i] & 0x7FFF_FFFF) &+ 0x0080_0000 }
        guard carries & 0x8000_0000 != 0 else { return nil }
        return data.firstIndex { !$0.isFinite }
    }
}
