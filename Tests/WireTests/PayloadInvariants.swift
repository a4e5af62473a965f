import Numerics
import Wire

/// Every property a decoded payload must have, stated again independently of the decoder's
/// validation code; returns a description of each one violated.
func invariantViolations(_ payload: Envelope.Payload, limits: WireLimits) -> [String] {
    var problems: [String] = []
    func require(_ condition: Bool, _ what: @autoclosure () -> String) { if !condition { problems.append(what()) } }
    func name(_ s: String) { require(!s.isEmpty && s.utf8.count <= limits.maxNameBytes && !s.utf8.contains(0), "name '\(s)'") }
    func text(_ s: String, empty: Bool) {
        require((empty || !s.isEmpty) && s.utf8.count <= limits.maxTextBytes && !s.utf8.contains(0), "text '\(s)'")
    }
    func tensor(_ t: Tensor) {
        require(t.rank <= limits.maxRank && t.count <= limits.maxElements, "tensor size \(t.shape)")
        require(t.shape.reduce(1, *) == t.count, "tensor count \(t.shape) \(t.count)")
        require(t.data.allSatisfy(\.isFinite), "tensor finite")
    }
    func named(_ list: [WireTensor]) {
        require(list.count <= limits.maxTensors, "tensor count")
        for t in list { name(t.name); tensor(t.tensor) }
    }
    func metrics(_ list: [Metric]) {
        require(list.count <= limits.maxMetrics, "metric count")
        require(Set(list.map(\.name)).count == list.count, "metric names unique")
        for m in list { name(m.name); require(m.value.isFinite, "metric finite") }
    }
    switch payload {
    case let .tensor(t): named([t])
    case let .tensorList(list): named(list)
    case let .hello(h): name(h.instanceID); text(h.configDigest, empty: true)
    case let .welcome(w):
        text(w.runID, empty: false); text(w.configDigest, empty: true)
        require(w.heartbeatIntervalMilliseconds >= 1 && w.liveness >= 1, "liveness settings")
    case let .heartbeat(h): metrics(h.counters)
    case let .stats(s): metrics(s.metrics)
    case let .trajectoryBatch(b):
        name(b.actorID)
        require((1...limits.maxTrajectories).contains(b.trajectories.count), "trajectory count")
        for t in b.trajectories {
            let n = t.timesteps.count
            text(t.prompt, empty: false); text(t.safePrompt, empty: false)
            require((1...limits.maxSteps).contains(n), "steps")
            require(zip(t.timesteps, t.timesteps.dropFirst()).allSatisfy { $0 > $1 }, "timesteps decrease")
            require(t.latents.rank == 2 && t.latents.shape[0] == n + 1 && t.latents.shape[1] >= 1, "latents shape")
            tensor(t.latents)
            require(t.logProbs.count == n && t.logProbs.allSatisfy(\.isFinite), "log-probs")
            require(t.reward.isFinite && t.alignment.isFinite && (0...1).contains(t.unsafeProbability), "reward parts")
            require(t.conceptEta.isFinite && t.conceptEta >= 0, "concept eta")
        }
    case let .batchAck(a):
        require(Int(a.accepted) + Int(a.rejected) <= limits.maxTrajectories, "ack counts")
        text(a.reason, empty: a.rejected == 0)
    case let .rewardRequest(r):
        let b = r.images.shape.first ?? 0
        require(r.images.shape == [b, 3, 32, 32] && (1...limits.maxImages).contains(b), "images shape")
        require(r.images.data.allSatisfy { (0...1).contains($0) }, "pixels in [0, 1]")
        require(r.prompts.count == b, "prompt count")
        for p in r.prompts { text(p, empty: false) }
    case let .rewardResult(r):
        let b = r.rewards.count
        require((1...limits.maxImages).contains(b) && r.alignment.count == b && r.unsafe.count == b, "result counts")
        require(r.rewards.allSatisfy(\.isFinite) && r.alignment.allSatisfy(\.isFinite), "result finite")
        require(r.unsafe.allSatisfy { (0...1).contains($0) }, "unsafe in [0, 1]")
    case let .weights(w):
        require(w.version >= 1, "weights version")
        named(w.tensors)
        require(Set(w.tensors.map(\.name)).count == w.tensors.count, "weights names unique")
    case let .terminate(t): text(t.reason, empty: true)
    case .terminateAck: break
    case let .ready(r): require(r.credit >= 1, "credit")
    case let .error(e): text(e.detail, empty: true)
    }
    return problems
}
