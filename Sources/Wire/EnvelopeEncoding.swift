import CShieldProto
import Foundation
import Numerics

extension Envelope {
    /// The protobuf encoding of this envelope, after the same checks `init(decoding:limits:)`
    /// applies, so a receiver with the same limits accepts it.
    public func encoded(limits: WireLimits = .default) throws(WireError) -> [UInt8] {
        try Validation.checkVersion(protocolVersion)
        try Validation.checkName(sender.utf8, what: "sender", limits: limits)
        switch payload {
        case let .tensor(tensor):
            try tensor.validate(what: "tensor name", limits: limits)
        case let .tensorList(tensors):
            guard tensors.count <= limits.maxTensors else {
                throw .tooLarge(what: "tensor list", size: tensors.count, limit: limits.maxTensors)
            }
            for (i, tensor) in tensors.enumerated() {
                try tensor.validate(what: "name of tensor \(i)", limits: limits)
            }
        }
        let result = withCEnvelope { envelope -> Result<[UInt8], WireError> in
            let size = shielddiff__v1__envelope__get_packed_size(envelope)
            guard size <= limits.maxMessageBytes else {
                return .failure(.tooLarge(what: "message bytes", size: size, limit: limits.maxMessageBytes))
            }
            return .success([UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                count = shielddiff__v1__envelope__pack(envelope, buffer.baseAddress)
            })
        }
        return try result.get()
    }

    /// Runs `body` on a protobuf-c view of this envelope that borrows the Swift storage
    /// (float data is not copied); the view is valid only inside `body`.
    private func withCEnvelope<R>(_ body: (UnsafePointer<Shielddiff__V1__Envelope>) -> R) -> R {
        let tensors: [WireTensor]
        switch payload {
        case let .tensor(tensor): tensors = [tensor]
        case let .tensorList(list): tensors = list
        }
        return withCTensors(tensors) { cTensors in
            sender.withCString { cSender in
                var envelope = Shielddiff__V1__Envelope()
                shielddiff__v1__envelope__init(&envelope)
                envelope.protocol_version = protocolVersion
                envelope.sender = UnsafeMutablePointer(mutating: cSender)
                envelope.sequence = sequence
                var list = Shielddiff__V1__TensorList()
                shielddiff__v1__tensor_list__init(&list)
                return withUnsafeMutablePointer(to: &list) { listPointer in
                    switch payload {
                    case .tensor:
                        envelope.payload_case = SHIELDDIFF__V1__ENVELOPE__PAYLOAD_TENSOR
                        envelope.tensor = cTensors[0]
                    case .tensorList:
                        listPointer.pointee.n_tensors = cTensors.count
                        listPointer.pointee.tensors = cTensors.baseAddress
                        envelope.payload_case = SHIELDDIFF__V1__ENVELOPE__PAYLOAD_TENSOR_LIST
                        envelope.tensor_list = listPointer
                    }
                    return withUnsafePointer(to: envelope, body)
                }
            }
        }
    }
}

extension WireTensor {
    fileprivate func validate(what: String, limits: WireLimits) throws(WireError) {
        try Validation.checkName(name.utf8, what: what, limits: limits)
        let result = tensor.data.withUnsafeBufferPointer { data in
            Result { () throws(WireError) in
                try Validation.checkTensor(name: name, shape: tensor.shape, data: data, limits: limits)
            }
        }
        try result.get()
    }
}

/// Runs `body` on protobuf-c tensors for `tensors`: names and shapes are copied into C
/// memory freed on return, float data is borrowed from the Swift arrays.
private func withCTensors<R>(
    _ tensors: [WireTensor],
    _ body: (UnsafeMutableBufferPointer<UnsafeMutablePointer<Shielddiff__V1__Tensor>?>) -> R
) -> R {
    let structs = UnsafeMutableBufferPointer<Shielddiff__V1__Tensor>.allocate(capacity: tensors.count)
    let pointers = UnsafeMutableBufferPointer<UnsafeMutablePointer<Shielddiff__V1__Tensor>?>.allocate(capacity: tensors.count)
    defer {
        for tensor in structs {
            free(tensor.name)
            tensor.shape?.deallocate()
        }
        structs.deallocate()
        pointers.deallocate()
    }
    for (i, tensor) in tensors.enumerated() {
        var cTensor = Shielddiff__V1__Tensor()
        shielddiff__v1__tensor__init(&cTensor)
        cTensor.name = strdup(tensor.name)
        let shape = UnsafeMutablePointer<UInt32>.allocate(capacity: tensor.tensor.rank)
        for (d, dimension) in tensor.tensor.shape.enumerated() { shape[d] = UInt32(dimension) }
        cTensor.n_shape = tensor.tensor.rank
        cTensor.shape = shape
        structs.initializeElement(at: i, to: cTensor)
        pointers.initializeElement(at: i, to: structs.baseAddress! + i)
    }
    return borrowingData(of: tensors, from: 0, into: structs) { body(pointers) }
}

/// Points each C tensor at its Swift float storage, one nested borrow per tensor, then runs
/// `body`; the nesting depth is the tensor count, already bounded by `WireLimits.maxTensors`.
private func borrowingData<R>(
    of tensors: [WireTensor], from index: Int,
    into structs: UnsafeMutableBufferPointer<Shielddiff__V1__Tensor>, _ body: () -> R
) -> R {
    guard index < tensors.count else { return body() }
    return tensors[index].tensor.data.withUnsafeBufferPointer { data in
        structs[index].n_data = data.count
        structs[index].data = UnsafeMutablePointer(mutating: data.baseAddress)
        return borrowingData(of: tensors, from: index + 1, into: structs, body)
    }
}
