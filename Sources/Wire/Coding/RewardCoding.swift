import CShieldProto

// protobuf-c conversion of the reward messages (Messages/Reward.swift).

extension RewardRequest {
    init(converting c: Shielddiff__V1__RewardRequest, limits: WireLimits) throws(WireError) {
        let images = try CRead.tensor(c.images, field: "images of reward request", limits: limits)
        var prompts: [String] = []
        prompts.reserveCapacity(min(c.n_prompts, limits.maxImages))
        for i in 0..<c.n_prompts {
            prompts.append(try CRead.string(c.prompts?[i], what: "prompt \(i) of reward request"))
        }
        self.init(requestID: c.request_id, images: images, prompts: prompts)
    }

    func cMessage(_ arena: CArena) -> UnsafeMutablePointer<Shielddiff__V1__RewardRequest> {
        var c = Shielddiff__V1__RewardRequest()
        shielddiff__v1__reward_request__init(&c)
        c.request_id = requestID
        c.images = cTensor(images, name: nil, arena)
        c.n_prompts = prompts.count
        c.prompts = arena.copy(prompts.map { Optional(arena.string($0)) })
        return arena.new(c)
    }
}

extension RewardResult {
    init(converting c: Shielddiff__V1__RewardResult) {
        self.init(requestID: c.request_id, rewards: CRead.array(c.rewards, count: c.n_rewards),
                  alignment: CRead.array(c.alignment, count: c.n_alignment),
                  unsafe: CRead.array(c.unsafe, count: c.n_unsafe))
    }

    func cMessage(_ arena: CArena) -> UnsafeMutablePointer<Shielddiff__V1__RewardResult> {
        var c = Shielddiff__V1__RewardResult()
        shielddiff__v1__reward_result__init(&c)
        c.request_id = requestID
        c.n_rewards = rewards.count
        c.rewards = arena.copy(rewards)
        c.n_alignment = alignment.count
        c.alignment = arena.copy(alignment)
        c.n_unsafe = unsafe.count
        c.unsafe = arena.copy(unsafe)
        return arena.new(c)
    }
}
