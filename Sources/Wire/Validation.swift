import Numerics

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

    /// Checks a free text (prompt, reason, ...) given as its UTF-8 bytes.
    static func checkText(
        _ utf8: some Collection<UInt8>, what: String, limits: WireLimits, allowEmpty: Bool = false
    ) throws(WireError) {
        guard allowEmpty || !utf8.isEmpty else { throw .invalidName(what: what, problem: .empty) }
        guard utf8.count <= limits.maxTextBytes else {
            throw .tooLarge(what: what, size: utf8.count, limit: limits.maxTextBytes)
        }
        guard !utf8.contains(0) else { throw .invalidName(what: what, problem: .containsNUL) }
    }

    /// Checks that a list has between 1 (unless `allowEmpty`) and `limit` entries.
    static func checkCount(_ count: Int, what: String, limit: Int, allowEmpty: Bool = false) throws(WireError) {
        guard allowEmpty || count > 0 else { throw .empty(what: what) }
        guard count <= limit else { throw .tooLarge(what: what, size: count, limit: limit) }
    }

    static func checkRank(_ rank: Int, name: String, limits: WireLimits) throws(WireError) {
        guard rank <= limits.maxRank else {
            throw .tooLarge(what: "rank of tensor '\(name)'", size: rank, limit: limits.maxRank)
        }
    }

    /// Checks a shape against an element count and the limits, without reading the elements;
    /// passing it makes `Tensor(shape:data:)` safe to call.
    static func checkShape(name: String, shape: [Int], count: Int, limits: WireLimits) throws(WireError) {
        try checkRank(shape.count, name: name, limits: limits)
        guard shape.allSatisfy({ 0...Int(UInt32.max) ~= $0 }) else {
            throw .invalidDimension(name: name, shape: shape)
        }
        guard count <= limits.maxElements else {
            throw .tooLarge(what: "elements of tensor '\(name)'", size: count, limit: limits.maxElements)
        }
        guard product(shape) == count else {
            throw .shapeMismatch(name: name, shape: shape, count: count)
        }
    }

    /// Checks a tensor's shape against its elements (`data`), the limits, and finiteness.
    static func checkTensor(
        name: String, shape: [Int], data: UnsafeBufferPointer<Float>, limits: WireLimits
    ) throws(WireError) {
        try checkShape(name: name, shape: shape, count: data.count, limits: limits)
        if let index = firstNonFinite(data) { throw .nonFinite(name: name, index: index) }
    }

    /// `checkTensor` for a Swift tensor.
    static func checkTensor(_ tensor: Tensor, name: String, limits: WireLimits) throws(WireError) {
        let result = tensor.data.withUnsafeBufferPointer { data in
            Result { () throws(WireError) in try checkTensor(name: name, shape: tensor.shape, data: data, limits: limits) }
        }
        try result.get()
    }

    /// Checks that every element of `values` is finite.
    static func checkFinite(_ values: [Float], name: String) throws(WireError) {
        if let index = values.withUnsafeBufferPointer(firstNonFinite) { throw .nonFinite(name: name, index: index) }
    }

    /// Checks that every element of `values` is finite and within `allowed`; `what(i)` names element i.
    static func checkRange(
        _ values: [Float], name: String, allowed: ClosedRange<Float>, what: (Int) -> String
    ) throws(WireError) {
        try checkFinite(values, name: name)
        // Comparisons only, so the all-in-range pass vectorizes; only a bad array is searched.
        var outside: UInt8 = 0
        for v in values { outside |= (v < allowed.lowerBound || v > allowed.upperBound) ? 1 : 0 }
        guard outside != 0, let index = values.firstIndex(where: { !allowed.contains($0) }) else { return }
        throw .outOfRange(what: what(index), value: Double(values[index]),
                          allowed: Double(allowed.lowerBound)...Double(allowed.upperBound))
    }

    /// Checks that `value` is finite and within `allowed`.
    static func checkScalar(_ value: Float, what: String, allowed: ClosedRange<Float>? = nil) throws(WireError) {
        guard value.isFinite else { throw .nonFinite(name: what, index: 0) }
        if let allowed, !allowed.contains(value) {
            throw .outOfRange(what: what, value: Double(value),
                              allowed: Double(allowed.lowerBound)...Double(allowed.upperBound))
        }
    }

    /// Checks that an integer is at least `minimum`.
    static func checkAtLeast<I: FixedWidthInteger>(_ value: I, _ minimum: I, what: String) throws(WireError) {
        guard value >= minimum else {
            throw .outOfRange(what: what, value: Double(value), allowed: Double(minimum)...Double(I.max))
        }
    }

    /// Checks that `names` holds no name twice.
    static func checkUnique(_ names: some Sequence<String>, what: String) throws(WireError) {
        var seen = Set<String>()
        for name in names where !seen.insert(name).inserted { throw .duplicateName(what: what, name: name) }
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
