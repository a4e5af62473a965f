/// The part a process plays in a run (`shielddiff.v1.Role`).
public enum Role: Int32, Equatable, Sendable, CaseIterable {
    case actor = 1
    case rewardWorker = 2
    case learner = 3
    case supervisor = 4
}

/// A named number (`shielddiff.v1.Metric`): a counter or a measurement.
public struct Metric: Equatable, Sendable {
    /// Non-empty, unique within its message.
    public var name: String
    /// Finite.
    public var value: Double

    /// Creates the message from its fields, unvalidated (encoding and decoding validate).
    public init(name: String, value: Double) {
        self.name = name
        self.value = value
    }
}

/// A peer's first message on a control socket, and again after a reconnect.
public struct Hello: Equatable, Sendable {
    /// The role the sender plays.
    public var role: Role
    /// Non-empty, stable across restarts of the same process slot, e.g. "actor-3".
    public var instanceID: String
    /// Operating-system process id, for logs.
    public var pid: UInt32
    /// The policy version whose weights the sender holds; 0 = none.
    public var policyVersion: UInt64
    /// Digest of the sender's run configuration; empty = not checked.
    public var configDigest: String

    /// Creates the message from its fields, unvalidated (encoding and decoding validate).
    public init(role: Role, instanceID: String, pid: UInt32, policyVersion: UInt64, configDigest: String = "") {
        self.role = role
        self.instanceID = instanceID
        self.pid = pid
        self.policyVersion = policyVersion
        self.configDigest = configDigest
    }

    func validate(limits: WireLimits) throws(WireError) {
        try Validation.checkName(instanceID.utf8, what: "instance id of hello", limits: limits)
        try Validation.checkText(configDigest.utf8, what: "config digest of hello", limits: limits, allowEmpty: true)
    }
}

/// The answer to `Hello`: the run, the newest version and the liveness settings.
public struct Welcome: Equatable, Sendable {
    /// Non-empty identifier of the run.
    public var runID: String
    /// The newest policy version.
    public var policyVersion: UInt64
    /// Heartbeat interval both sides use, in milliseconds; at least 1.
    public var heartbeatIntervalMilliseconds: UInt32
    /// Missed heartbeat intervals after which a silent peer is dead; at least 1.
    public var liveness: UInt32
    /// Digest of the learner's run configuration.
    public var configDigest: String
    /// Most unacknowledged trajectory batches an actor may have (0 for reward workers).
    public var maxInFlightBatches: UInt32

    /// Creates the message from its fields, unvalidated (encoding and decoding validate).
    public init(runID: String, policyVersion: UInt64, heartbeatIntervalMilliseconds: UInt32 = 1000,
                liveness: UInt32 = 3, configDigest: String = "", maxInFlightBatches: UInt32 = 0) {
        self.runID = runID
        self.policyVersion = policyVersion
        self.heartbeatIntervalMilliseconds = heartbeatIntervalMilliseconds
        self.liveness = liveness
        self.configDigest = configDigest
        self.maxInFlightBatches = maxInFlightBatches
    }

    func validate(limits: WireLimits) throws(WireError) {
        try Validation.checkText(runID.utf8, what: "run id of welcome", limits: limits)
        try Validation.checkAtLeast(heartbeatIntervalMilliseconds, 1, what: "heartbeat interval ms of welcome")
        try Validation.checkAtLeast(liveness, 1, what: "liveness of welcome")
        try Validation.checkText(configDigest.utf8, what: "config digest of welcome", limits: limits, allowEmpty: true)
    }
}

/// A sign of life, sent every heartbeat interval by each side of a control connection.
public struct Heartbeat: Equatable, Sendable {
    /// Actor or worker: the version it holds; learner or broker: the newest version.
    public var policyVersion: UInt64
    /// Optional cumulative counters.
    public var counters: [Metric]

    /// Creates the message from its fields, unvalidated (encoding and decoding validate).
    public init(policyVersion: UInt64, counters: [Metric] = []) {
        self.policyVersion = policyVersion
        self.counters = counters
    }

    func validate(limits: WireLimits) throws(WireError) {
        try validateMetrics(counters, what: "counters of heartbeat", limits: limits)
    }
}

/// A snapshot of named measurements of the sender.
public struct Stats: Equatable, Sendable {
    /// The policy version the sender holds or has published.
    public var policyVersion: UInt64
    /// The measurements; names unique, values finite.
    public var metrics: [Metric]

    /// Creates the message from its fields, unvalidated (encoding and decoding validate).
    public init(policyVersion: UInt64, metrics: [Metric]) {
        self.policyVersion = policyVersion
        self.metrics = metrics
    }

    func validate(limits: WireLimits) throws(WireError) {
        try validateMetrics(metrics, what: "metrics of stats", limits: limits)
    }
}

/// A reward worker grants the broker `credit` more requests.
public struct Ready: Equatable, Sendable {
    /// At least 1.
    public var credit: UInt32

    /// Creates the message from its fields, unvalidated (encoding and decoding validate).
    public init(credit: UInt32 = 1) {
        self.credit = credit
    }

    func validate() throws(WireError) {
        try Validation.checkAtLeast(credit, 1, what: "credit of ready")
    }
}

/// Asks the receiver to stop; it answers `TerminateAck` and exits.
public struct Terminate: Equatable, Sendable {
    /// Why, for logs; may be empty.
    public var reason: String

    /// Creates the message from its fields, unvalidated (encoding and decoding validate).
    public init(reason: String = "") {
        self.reason = reason
    }

    func validate(limits: WireLimits) throws(WireError) {
        try Validation.checkText(reason.utf8, what: "reason of terminate", limits: limits, allowEmpty: true)
    }
}

/// The acknowledgement of `Terminate`, sent just before exiting.
public struct TerminateAck: Equatable, Sendable {
    /// The acknowledgement (it has no fields).
    public init() {}
}

private func validateMetrics(_ metrics: [Metric], what: String, limits: WireLimits) throws(WireError) {
    try Validation.checkCount(metrics.count, what: what, limit: limits.maxMetrics, allowEmpty: true)
    for (i, metric) in metrics.enumerated() {
        try Validation.checkName(metric.name.utf8, what: "name of metric \(i) of \(what)", limits: limits)
        guard metric.value.isFinite else { throw .nonFinite(name: "metric '\(metric.name)' of \(what)", index: 0) }
    }
    try Validation.checkUnique(metrics.lazy.map(\.name), what: what)
}
