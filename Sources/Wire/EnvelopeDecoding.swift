import CShieldProto

extension Envelope {
    /// Decodes and validates one envelope: version supported, names and texts within limits,
    /// tensor shapes consistent with their elements, every rule of the payload's message
    /// (see the message types and proto/PROTOCOL.md), and the weights checksum.
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
        let sender = try CRead.string(message.sender, what: "sender")
        try Validation.checkName(sender.utf8, what: "sender", limits: limits)
        let payload = try Payload(converting: message, limits: limits)
        try payload.validate(limits: limits)
        self.init(protocolVersion: message.protocol_version, sender: sender,
                  sequence: message.sequence, payload: payload)
    }

    /// Payload kinds take field numbers from 16 up; 1-15 are header fields (see the .proto).
    static let firstPayloadField: UInt32 = 16
}

extension Envelope.Payload {
    /// Copies the payload out of an unpacked envelope (the rules are checked afterwards).
    fileprivate init(converting message: Shielddiff__V1__Envelope, limits: WireLimits) throws(WireError) {
        switch message.payload_case {
        case SHIELDDIFF__V1__ENVELOPE__PAYLOAD_TENSOR:
            self = .tensor(try WireTensor(converting: required(message.tensor), what: "tensor name", limits: limits))
        case SHIELDDIFF__V1__ENVELOPE__PAYLOAD_TENSOR_LIST:
            let list = try required(message.tensor_list)
            self = .tensorList(try wireTensors(list.tensors, count: list.n_tensors, what: "tensor list",
                                               suffix: "", limits: limits))
        case SHIELDDIFF__V1__ENVELOPE__PAYLOAD_HELLO:
            self = .hello(try Hello(converting: required(message.hello)))
        case SHIELDDIFF__V1__ENVELOPE__PAYLOAD_WELCOME:
            self = .welcome(try Welcome(converting: required(message.welcome)))
        case SHIELDDIFF__V1__ENVELOPE__PAYLOAD_HEARTBEAT:
            self = .heartbeat(try Heartbeat(converting: required(message.heartbeat), limits: limits))
        case SHIELDDIFF__V1__ENVELOPE__PAYLOAD_TRAJECTORY_BATCH:
            self = .trajectoryBatch(try TrajectoryBatch(converting: required(message.trajectory_batch), limits: limits))
        case SHIELDDIFF__V1__ENVELOPE__PAYLOAD_BATCH_ACK:
            self = .batchAck(try BatchAck(converting: required(message.batch_ack)))
        case SHIELDDIFF__V1__ENVELOPE__PAYLOAD_REWARD_REQUEST:
            self = .rewardRequest(try RewardRequest(converting: required(message.reward_request), limits: limits))
        case SHIELDDIFF__V1__ENVELOPE__PAYLOAD_REWARD_RESULT:
            self = .rewardResult(RewardResult(converting: try required(message.reward_result)))
        case SHIELDDIFF__V1__ENVELOPE__PAYLOAD_WEIGHTS:
            self = .weights(try Weights(converting: required(message.weights), limits: limits))
        case SHIELDDIFF__V1__ENVELOPE__PAYLOAD_STATS:
            self = .stats(try Stats(converting: required(message.stats), limits: limits))
        case SHIELDDIFF__V1__ENVELOPE__PAYLOAD_TERMINATE:
            self = .terminate(try Terminate(converting: required(message.terminate)))
        case SHIELDDIFF__V1__ENVELOPE__PAYLOAD_TERMINATE_ACK:
            _ = try required(message.terminate_ack)
            self = .terminateAck(TerminateAck())
        case SHIELDDIFF__V1__ENVELOPE__PAYLOAD_READY:
            self = .ready(Ready(converting: try required(message.ready)))
        case SHIELDDIFF__V1__ENVELOPE__PAYLOAD_ERROR:
            self = .error(try ErrorReport(converting: required(message.error)))
        default:
            // A payload field from a newer peer lands among the unknown fields.
            let unknown = UnsafeBufferPointer(start: message.base.unknown_fields, count: Int(message.base.n_unknown_fields))
            if let field = unknown.first(where: { $0.tag >= Envelope.firstPayloadField }) {
                throw .unknownPayload(field: field.tag)
            }
            throw .missingPayload
        }
    }
}

/// The sub-message a set payload case points to (protobuf-c never leaves it NULL; checked anyway).
private func required<T>(_ pointer: UnsafeMutablePointer<T>?) throws(WireError) -> T {
    guard let pointer else { throw .missingPayload }
    return pointer.pointee
}
