/// The kind of an envelope's payload, named as in proto/PROTOCOL.md (e.g. "TRAJECTORY_BATCH"),
/// for dispatch tables, logs and `ErrorReport` details.
public enum MessageKind: UInt32, Equatable, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    // Raw values are the payload field numbers in proto/shielddiff.proto.
    case tensor = 16, tensorList, hello, welcome, heartbeat, trajectoryBatch, batchAck,
         rewardRequest, rewardResult, weights, stats, terminate, terminateAck, ready, error

    public var description: String {
        switch self {
        case .tensor: return "TENSOR"
        case .tensorList: return "TENSOR_LIST"
        case .hello: return "HELLO"
        case .welcome: return "WELCOME"
        case .heartbeat: return "HEARTBEAT"
        case .trajectoryBatch: return "TRAJECTORY_BATCH"
        case .batchAck: return "BATCH_ACK"
        case .rewardRequest: return "REWARD_REQUEST"
        case .rewardResult: return "REWARD_RESULT"
        case .weights: return "WEIGHTS"
        case .stats: return "STATS"
        case .terminate: return "TERMINATE"
        case .terminateAck: return "TERMINATE_ACK"
        case .ready: return "READY"
        case .error: return "ERROR"
        }
    }
}

extension Envelope.Payload {
    /// This payload's kind.
    public var kind: MessageKind {
        switch self {
        case .tensor: return .tensor
        case .tensorList: return .tensorList
        case .hello: return .hello
        case .welcome: return .welcome
        case .heartbeat: return .heartbeat
        case .trajectoryBatch: return .trajectoryBatch
        case .batchAck: return .batchAck
        case .rewardRequest: return .rewardRequest
        case .rewardResult: return .rewardResult
        case .weights: return .weights
        case .stats: return .stats
        case .terminate: return .terminate
        case .terminateAck: return .terminateAck
        case .ready: return .ready
        case .error: return .error
        }
    }

    /// Checks every rule of this payload's message, as decoding does.
    func validate(limits: WireLimits) throws(WireError) {
        switch self {
        case let .tensor(tensor):
            try tensor.validate(what: "tensor name", limits: limits)
        case let .tensorList(tensors):
            try Validation.checkCount(tensors.count, what: "tensor list", limit: limits.maxTensors, allowEmpty: true)
            for (i, tensor) in tensors.enumerated() {
                try tensor.validate(what: "name of tensor \(i)", limits: limits)
            }
        case let .hello(hello): try hello.validate(limits: limits)
        case let .welcome(welcome): try welcome.validate(limits: limits)
        case let .heartbeat(heartbeat): try heartbeat.validate(limits: limits)
        case let .trajectoryBatch(batch): try batch.validate(limits: limits)
        case let .batchAck(ack): try ack.validate(limits: limits)
        case let .rewardRequest(request): try request.validate(limits: limits)
        case let .rewardResult(result): try result.validate(limits: limits)
        case let .weights(weights): try weights.validate(limits: limits)
        case let .stats(stats): try stats.validate(limits: limits)
        case let .terminate(terminate): try terminate.validate(limits: limits)
        case .terminateAck: break
        case let .ready(ready): try ready.validate()
        case let .error(report): try report.validate(limits: limits)
        }
    }
}
