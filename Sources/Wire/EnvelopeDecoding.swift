import Foundation
import CShieldProto
import Numerics

extension Envelope {
    /// Decodes and validates one envelope: version supported, names non-empty UTF-8 within
    /// limits, every tensor's element count equal to its shape's product and within limits,
    /// every element finite.
    public init(decoding bytes: UnsafeRawBufferPointer, limits: WireLimits = .default) throws(WireError) {
        // Checked before unpacking, so oversized input is never parsed or allocated for.
        guard bytes.count <= limits.maxMessageBytes else {
            throw .tooLarge(what: "message bytes", size: bytes.count, limit: limits.maxMessageBytes)
        }
        let unpacked = try UnpackedEnvelope(bytes)
        self = try unpacked.withMessage { (message) throws(WireError) in
            try Envelope(converting: message, limits: limits)
        }
    }

    /// Decodes and validates one envelope held in an array; see `init(decoding:limits:)`.
    public init(decoding bytes: [UInt8], limits: WireLimits = .default) throws(WireError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(WireError) in try Envelope(decoding: raw, limits: limits) }
        }
        self = try result.get()
    }

    private init(converting message: Shielddiff__V1__Envelope, limits: WireLimits) throws(WireError) {
        try Validation.checkVersion(message.protocol_version)
        let sender = try string(message.sender, what: "sender", limits: limits)
        let payload: Payload
        switch message.payload_case {
        case SHIELDDIFF__V1__ENVELOPE__PAYLOAD_TENSOR:
            guard let tensor = message.tensor else { throw .missingPayload }
            payload = .tensor(try WireTensor(converting: tensor.pointee, what: "tensor name", limits: limits))
        case SHIELDDIFF__V1__ENVELOPE__PAYLOAD_TENSOR_LIST:
            guard let list = message.tensor_list?.pointee else { throw .missingPayload }
            guard list.n_tensors <= limits.maxTensors else {
                throw .tooLarge(what: "tensor list", size: list.n_tensors, limit: limits.maxTensors)
            }
            var tensors: [WireTensor] = []
            tensors.reserveCapacity(list.n_tensors)
            for i in 0..<list.n_tensors {
                guard let tensor = list.tensors[i] else { throw .missingPayload }
                tensors.append(try WireTensor(converting: tensor.pointee, what: "name of tensor \(i)", limits: limits))
            }
            payload = .tensorList(tensors)
        default:
            // A payload field from a newer peer lands among the unknown fields.
            let unknown = UnsafeBufferPointer(start: message.base.unknown_fields, count: Int(message.base.n_unknown_fields))
            if let field = unknown.first(where: { $0.tag >= Envelope.firstPayloadField }) {
                throw .unknownPayload(field: field.tag)
            }
            throw .missingPayload
        }
        self.init(protocolVersion: message.protocol_version, sender: sender,
                  sequence: message.sequence, payload: payload)
    }

    /// Payload kinds take field numbers from 16 up; 1-15 are header fields (see the .proto).
    static let firstPayloadField: UInt32 = 16
}

extension WireTensor {
    fileprivate init(converting message: Shielddiff__V1__Tensor, what: String, limits: WireLimits) throws(WireError) {
        let name = try string(message.name, what: what, limits: limits)
        // Rank is bounded before the shape is copied out.
        try Validation.checkRank(message.n_shape, name: name, limits: limits)
        let shape = UnsafeBufferPointer(start: message.shape, count: message.n_shape).map { Int($0) }
        let data = UnsafeBufferPointer(start: message.data, count: message.n_data)
        try Validation.checkTensor(name: name, shape: shape, data: data, limits: limits)
        // One memcpy out of protobuf-c's buffer, which is freed with the message.
        let elements = [Float](unsafeUninitializedCapacity: data.count) { buffer, count in
            if let source = data.baseAddress { buffer.baseAddress!.initialize(from: source, count: data.count) }
            count = data.count
        }
        self.init(name: name, tensor: Tensor(shape: shape, data: elements))
    }
}

/// A validated Swift copy of a protobuf-c string field.
private func string(_ pointer: UnsafePointer<CChar>?, what: String, limits: WireLimits) throws(WireError) -> String {
    guard let pointer else { throw .invalidName(what: what, problem: .empty) }
    let utf8 = UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self),
                                   count: strlen(pointer))
    try Validation.checkName(utf8, what: what, limits: limits)
    guard let string = String(validating: utf8, as: UTF8.self) else {
        throw .invalidName(what: what, problem: .notUTF8)
    }
    return string
}
