import CShieldProto
import Numerics

// protobuf-c conversion of the trajectory messages (Messages/Trajectory.swift).

extension Trajectory {
    init(converting c: Shielddiff__V1__Trajectory, what: String, limits: WireLimits) throws(WireError) {
        self.init(
            prompt: try CRead.string(c.prompt, what: "prompt of \(what)"),
            safePrompt: try CRead.string(c.safe_prompt, what: "safe prompt of \(what)"),
            seed: c.seed, policyVersion: c.policy_version,
            timesteps: CRead.array(c.timesteps, count: c.n_timesteps),
            latents: try CRead.tensor(c.latents, field: "latents of \(what)", limits: limits),
            logProbs: CRead.array(c.log_probs, count: c.n_log_probs),
            reward: c.reward, alignment: c.alignment, unsafeProbability: c.unsafe_prob, conceptEta: c.concept_eta)
    }

    func cMessage(_ arena: CArena) -> UnsafeMutablePointer<Shielddiff__V1__Trajectory> {
        var c = Shielddiff__V1__Trajectory()
        shielddiff__v1__trajectory__init(&c)
        c.prompt = arena.string(prompt)
        c.safe_prompt = arena.string(safePrompt)
        c.seed = seed
        c.policy_version = policyVersion
        c.n_timesteps = timesteps.count
        c.timesteps = arena.copy(timesteps)
        c.latents = cTensor(latents, name: nil, arena)
        c.n_log_probs = logProbs.count
        c.log_probs = arena.copy(logProbs)
        c.reward = reward
        c.alignment = alignment
        c.unsafe_prob = unsafeProbability
        c.concept_eta = conceptEta
        return arena.new(c)
    }
}

extension TrajectoryBatch {
    init(converting c: Shielddiff__V1__TrajectoryBatch, limits: WireLimits) throws(WireError) {
        let trajectories = try CRead.messages(c.trajectories, count: c.n_trajectories, what: "trajectories of batch",
                                              limit: limits.maxTrajectories) { (trajectory, i) throws(WireError) in
            try Trajectory(converting: trajectory, what: "trajectory \(i)", limits: limits)
        }
        self.init(actorID: try CRead.string(c.actor_id, what: "actor id of trajectory batch"),
                  batchID: c.batch_id, trajectories: trajectories)
    }

    func cMessage(_ arena: CArena) -> UnsafeMutablePointer<Shielddiff__V1__TrajectoryBatch> {
        var c = Shielddiff__V1__TrajectoryBatch()
        shielddiff__v1__trajectory_batch__init(&c)
        c.actor_id = arena.string(actorID)
        c.batch_id = batchID
        c.n_trajectories = trajectories.count
        c.trajectories = arena.pointers(trajectories.map { $0.cMessage(arena) })
        return arena.new(c)
    }
}

extension BatchAck {
    init(converting c: Shielddiff__V1__BatchAck) throws(WireError) {
        self.init(batchID: c.batch_id, accepted: c.accepted, rejected: c.rejected,
                  reason: try CRead.string(c.reason, what: "reason of batch ack"), policyVersion: c.policy_version)
    }

    func cMessage(_ arena: CArena) -> UnsafeMutablePointer<Shielddiff__V1__BatchAck> {
        var c = Shielddiff__V1__BatchAck()
        shielddiff__v1__batch_ack__init(&c)
        c.batch_id = batchID
        c.accepted = accepted
        c.rejected = rejected
        c.reason = arena.string(reason)
        c.policy_version = policyVersion
        return arena.new(c)
    }
}

/// A C tensor in `arena` whose data is lent from `tensor` (see `CArena.lend`); `name` nil
/// leaves the name empty, for fields that name the tensor themselves.
func cTensor(_ tensor: Tensor, name: String?, _ arena: CArena) -> UnsafeMutablePointer<Shielddiff__V1__Tensor> {
    var c = Shielddiff__V1__Tensor()
    shielddiff__v1__tensor__init(&c)
    if let name { c.name = arena.string(name) }
    c.n_shape = tensor.rank
    c.shape = arena.copy(tensor.shape.map { UInt32($0) })
    let pointer = arena.new(c)
    arena.lend(tensor.data) { data in
        pointer.pointee.n_data = data.count
        pointer.pointee.data = UnsafeMutablePointer(mutating: data.baseAddress)
    }
    return pointer
}
