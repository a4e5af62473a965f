import CShieldProto
import Foundation
import Numerics

/// Copies out of protobuf-c's unpacked structs into Swift values, with the checks that must
/// precede construction (UTF-8, tensor shape against element count, list counts). The
/// message rules proper are checked afterwards on the Swift values, by the same `validate`
/// that encoding uses.
enum CRead {
    /// A Swift copy of a C string field; `what` names the field in errors.
    static func string(_ pointer: UnsafePointer<CChar>?, what: String) throws(WireError) -> String {
        guard let pointer else { return "" }
        let utf8 = UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self),
                                       count: strlen(pointer))
        guard let string = String(validating: utf8, as: UTF8.self) else {
            throw .invalidName(what: what, problem: .notUTF8)
        }
        return string
    }

    /// A Swift copy of a C array (one memcpy).
    static func array<T>(_ pointer: UnsafePointer<T>?, count: Int) -> [T] {
        guard let pointer, count > 0 else { return [] }
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            buffer.baseAddress!.initialize(from: pointer, count: count)
            initialized = count
        }
    }

    /// A Swift copy of a C tensor's shape and data; `name` names it in errors.
    static func tensor(_ message: Shielddiff__V1__Tensor, name: String, limits: WireLimits) throws(WireError) -> Tensor {
        // Rank is bounded before the shape is copied out.
        try Validation.checkRank(message.n_shape, name: name, limits: limits)
        let shape = UnsafeBufferPointer(start: message.shape, count: message.n_shape).map { Int($0) }
        try Validation.checkShape(name: name, shape: shape, count: message.n_data, limits: limits)
        return Tensor(shape: shape, data: array(message.data, count: message.n_data))
    }

    /// A required tensor sub-message whose enclosing field names it (its own name is ignored).
    static func tensor(
        _ pointer: UnsafeMutablePointer<Shielddiff__V1__Tensor>?, field: String, limits: WireLimits
    ) throws(WireError) -> Tensor {
        guard let pointer else { throw .missingField(what: field) }
        return try tensor(pointer.pointee, name: field, limits: limits)
    }

    /// Converts a repeated message field, after checking its count against `limit`.
    static func messages<C, T>(
        _ pointers: UnsafeMutablePointer<UnsafeMutablePointer<C>?>?, count: Int, what: String, limit: Int,
        _ convert: (C, Int) throws(WireError) -> T
    ) throws(WireError) -> [T] {
        guard count <= limit else { throw .tooLarge(what: what, size: count, limit: limit) }
        var result: [T] = []
        result.reserveCapacity(count)
        for i in 0..<count {
            guard let pointer = pointers?[i] else { throw .missingField(what: "entry \(i) of \(what)") }
            result.append(try convert(pointer.pointee, i))
        }
        return result
    }

    /// A C enum field's value as the signed number protobuf sends.
    static func enumValue<E: RawRepresentable>(_ value: E) -> Int32 where E.RawValue: BinaryInteger {
        Int32(truncatingIfNeeded: value.rawValue)
    }
}
