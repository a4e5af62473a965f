import CShieldProto

// protobuf-c conversion of the session messages (Messages/Session.swift, ErrorReport.swift):
// `init(converting:)` copies out of an unpacked struct, `cMessage(_:)` builds one in an arena.

extension Metric {
    init(converting c: Shielddiff__V1__Metric, what: String) throws(WireError) {
        self.init(name: try CRead.string(c.name, what: "name of metric of \(what)"), value: c.value)
    }

    func cMessage(_ arena: CArena) -> UnsafeMutablePointer<Shielddiff__V1__Metric> {
        var c = Shielddiff__V1__Metric()
        shielddiff__v1__metric__init(&c)
        c.name = arena.string(name)
        c.value = value
        return arena.new(c)
    }
}

extension Hello {
    init(converting c: Shielddiff__V1__Hello) throws(WireError) {
        let raw = CRead.enumValue(c.role)
        guard let role = Role(rawValue: raw) else { throw .invalidEnum(what: "role of hello", value: raw) }
        self.init(role: role, instanceID: try CRead.string(c.instance_id, what: "instance id of hello"),
                  pid: c.pid, policyVersion: c.policy_version,
                  configDigest: try CRead.string(c.config_digest, what: "config digest of hello"))
    }

    func cMessage(_ arena: CArena) -> UnsafeMutablePointer<Shielddiff__V1__Hello> {
        var c = Shielddiff__V1__Hello()
        shielddiff__v1__hello__init(&c)
        c.role = Shielddiff__V1__Role(rawValue: numericCast(role.rawValue))
        c.instance_id = arena.string(instanceID)
        c.pid = pid
        c.policy_version = policyVersion
        c.config_digest = arena.string(configDigest)
        return arena.new(c)
    }
}

extension Welcome {
    init(converting c: Shielddiff__V1__Welcome) throws(WireError) {
        self.init(runID: try CRead.string(c.run_id, what: "run id of welcome"), policyVersion: c.policy_version,
                  heartbeatIntervalMilliseconds: c.heartbeat_interval_ms, liveness: c.liveness,
                  configDigest: try CRead.string(c.config_digest, what: "config digest of welcome"),
                  maxInFlightBatches: c.max_in_flight_batches)
    }

    func cMessage(_ arena: CArena) -> UnsafeMutablePointer<Shielddiff__V1__Welcome> {
        var c = Shielddiff__V1__Welcome()
        shielddiff__v1__welcome__init(&c)
        c.run_id = arena.string(runID)
        c.policy_version = policyVersion
        c.heartbeat_interval_ms = heartbeatIntervalMilliseconds
        c.liveness = liveness
        c.config_digest = arena.string(configDigest)
        c.max_in_flight_batches = maxInFlightBatches
        return arena.new(c)
    }
}

extension Heartbeat {
    init(converting c: Shielddiff__V1__Heartbeat, limits: WireLimits) throws(WireError) {
        let what = "counters of heartbeat"
        let counters = try CRead.messages(c.counters, count: c.n_counters, what: what, limit: limits.maxMetrics) {
            (metric, _) throws(WireError) in try Metric(converting: metric, what: what)
        }
        self.init(policyVersion: c.policy_version, counters: counters)
    }

    func cMessage(_ arena: CArena) -> UnsafeMutablePointer<Shielddiff__V1__Heartbeat> {
        var c = Shielddiff__V1__Heartbeat()
        shielddiff__v1__heartbeat__init(&c)
        c.policy_version = policyVersion
        c.n_counters = counters.count
        c.counters = arena.pointers(counters.map { $0.cMessage(arena) })
        return arena.new(c)
    }
}

extension Stats {
    init(converting c: Shielddiff__V1__Stats, limits: WireLimits) throws(WireError) {
        let what = "metrics of stats"
        let metrics = try CRead.messages(c.metrics, count: c.n_metrics, what: what, limit: limits.maxMetrics) {
            (metric, _) throws(WireError) in try Metric(converting: metric, what: what)
        }
        self.init(policyVersion: c.policy_version, metrics: metrics)
    }

    func cMessage(_ arena: CArena) -> UnsafeMutablePointer<Shielddiff__V1__Stats> {
        var c = Shielddiff__V1__Stats()
        shielddiff__v1__stats__init(&c)
        c.policy_version = policyVersion
        c.n_metrics = metrics.count
        c.metrics = arena.pointers(metrics.map { $0.cMessage(arena) })
        return arena.new(c)
    }
}

extension Ready {
    init(converting c: Shielddiff__V1__Ready) {
        self.init(credit: c.credit)
    }

    func cMessage(_ arena: CArena) -> UnsafeMutablePointer<Shielddiff__V1__Ready> {
        var c = Shielddiff__V1__Ready()
        shielddiff__v1__ready__init(&c)
        c.credit = credit
        return arena.new(c)
    }
}

extension Terminate {
    init(converting c: Shielddiff__V1__Terminate) throws(WireError) {
        self.init(reason: try CRead.string(c.reason, what: "reason of terminate"))
    }

    func cMessage(_ arena: CArena) -> UnsafeMutablePointer<Shielddiff__V1__Terminate> {
        var c = Shielddiff__V1__Terminate()
        shielddiff__v1__terminate__init(&c)
        c.reason = arena.string(reason)
        return arena.new(c)
    }
}

extension TerminateAck {
    func cMessage(_ arena: CArena) -> UnsafeMutablePointer<Shielddiff__V1__TerminateAck> {
        var c = Shielddiff__V1__TerminateAck()
        shielddiff__v1__terminate_ack__init(&c)
        return arena.new(c)
    }
}

extension ErrorReport {
    init(converting c: Shielddiff__V1__Error) throws(WireError) {
        let raw = CRead.enumValue(c.code)
        guard let code = Code(rawValue: raw) else { throw .invalidEnum(what: "code of error", value: raw) }
        self.init(code: code, detail: try CRead.string(c.detail, what: "detail of error"), inReplyTo: c.in_reply_to)
    }

    func cMessage(_ arena: CArena) -> UnsafeMutablePointer<Shielddiff__V1__Error> {
        var c = Shielddiff__V1__Error()
        shielddiff__v1__error__init(&c)
        c.code = Shielddiff__V1__Error__Code(rawValue: numericCast(code.rawValue))
        c.detail = arena.string(detail)
        c.in_reply_to = inReplyTo
        return arena.new(c)
    }
}
