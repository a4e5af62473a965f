import Numerics

/// A tensor with the name it travels under.
public struct WireTensor: Equatable, Sendable {
    /// Non-empty identifier, e.g. a parameter name.
    public var name: String
    /// The tensor itself.
    public var tensor: Tensor

    /// A named tensor, unvalidated (encoding and decoding validate).
    public init(name: String, tensor: Tensor) {
        self.name = name
        self.tensor = tensor
    }

    /// Checks the name, the shape against the elements, the limits and finiteness;
    /// `what` names the name field in errors.
    func validate(what: String, limits: WireLimits) throws(WireError) {
        try Validation.checkName(name.utf8, what: what, limits: limits)
        try Validation.checkTensor(tensor, name: name, limits: limits)
    }
}

/// One message on the wire (`shielddiff.v1.Envelope`) as plain, validated Swift values.
public struct Envelope: Equatable, Sendable {
    /// What an envelope carries; one case per `payload` oneof field in the .proto.
    public enum Payload: Equatable, Sendable {
        case tensor(WireTensor)
        case tensorList([WireTensor])
        case hello(Hello)
        case welcome(Welcome)
        case heartbeat(Heartbeat)
        case trajectoryBatch(TrajectoryBatch)
        case batchAck(BatchAck)
        case rewardRequest(RewardRequest)
        case rewardResult(RewardResult)
        case weights(Weights)
        case stats(Stats)
        case terminate(Terminate)
        case terminateAck(TerminateAck)
        case ready(Ready)
        case error(ErrorReport)
    }

    /// The protocol version this build sends.
    public static let currentVersion: UInt32 = 1
    /// The protocol versions this build accepts.
    public static let supportedVersions: ClosedRange<UInt32> = 1...1

    /// The protocol version the sender speaks.
    public var protocolVersion: UInt32
    /// Non-empty identity of the sending process.
    public var sender: String
    /// Per-socket message counter: 1 for the first message a socket sends, then one more per message.
    public var sequence: UInt64
    /// What the envelope carries.
    public var payload: Payload

    /// An envelope, unvalidated (encoding and decoding validate).
    public init(
        protocolVersion: UInt32 = Envelope.currentVersion,
        sender: String,
        sequence: UInt64,
        payload: Payload
    ) {
        self.protocolVersion = protocolVersion
        self.sender = sender
        self.sequence = sequence
        self.payload = payload
    }
}
