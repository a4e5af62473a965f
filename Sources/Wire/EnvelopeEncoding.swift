import CShieldProto

extension Envelope {
    /// The protobuf encoding of this envelope, after the same checks `init(decoding:limits:)`
    /// applies, so a receiver with the same limits accepts it. A `Weights` payload gets the
    /// checksum of its content.
    public func encoded(limits: WireLimits = .default) throws(WireError) -> [UInt8] {
        try Validation.checkVersion(protocolVersion)
        try Validation.checkName(sender.utf8, what: "sender", limits: limits)
        try payload.validate(limits: limits)
        let arena = CArena()
        let envelope = cEnvelope(arena)
        let result = arena.withLoans { () -> Result<[UInt8], WireError> in
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

    /// A protobuf-c view of this envelope in `arena`; tensor data is lent, so it is complete
    /// only inside `arena.withLoans`.
    private func cEnvelope(_ arena: CArena) -> UnsafeMutablePointer<Shielddiff__V1__Envelope> {
        var c = Shielddiff__V1__Envelope()
        shielddiff__v1__envelope__init(&c)
        c.protocol_version = protocolVersion
        c.sender = arena.string(sender)
        c.sequence = sequence
        c.payload_case = Shielddiff__V1__Envelope__PayloadCase(rawValue: numericCast(payload.kind.rawValue))
        switch payload {
        case let .tensor(tensor): c.tensor = tensor.cMessage(arena)
        case let .tensorList(tensors):
            var list = Shielddiff__V1__TensorList()
            shielddiff__v1__tensor_list__init(&list)
            list.n_tensors = tensors.count
            list.tensors = arena.pointers(tensors.map { $0.cMessage(arena) })
            c.tensor_list = arena.new(list)
        case let .hello(hello): c.hello = hello.cMessage(arena)
        case let .welcome(welcome): c.welcome = welcome.cMessage(arena)
        case let .heartbeat(heartbeat): c.heartbeat = heartbeat.cMessage(arena)
        case let .trajectoryBatch(batch): c.trajectory_batch = batch.cMessage(arena)
        case let .batchAck(ack): c.batch_ack = ack.cMessage(arena)
        case let .rewardRequest(request): c.reward_request = request.cMessage(arena)
        case let .rewardResult(result): c.reward_result = result.cMessage(arena)
        case let .weights(weights): c.weights = weights.cMessage(arena)
        case let .stats(stats): c.stats = stats.cMessage(arena)
        case let .terminate(terminate): c.terminate = terminate.cMessage(arena)
        case let .terminateAck(ack): c.terminate_ack = ack.cMessage(arena)
        case let .ready(ready): c.ready = ready.cMessage(arena)
        case let .error(report): c.error = report.cMessage(arena)
        }
        return arena.new(c)
    }
}
