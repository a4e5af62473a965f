import Foundation
import Numerics
import Wire

/// What the actor's I/O thread and its sampling thread share, under one condition variable.
///
/// The I/O thread offers weights and reward results and tracks the learner session (`epoch`
/// counts WELCOMEs); the sampling thread installs weights between batches, posts reward
/// requests and finished batches to `outbox`, and waits for a free in-flight slot.
final class ActorMailbox: @unchecked Sendable {
    /// Something the sampling thread wants sent.
    enum Outbound {
        case batch([Trajectory], epoch: Int)
        case reward(RewardRequest)
        case cancelReward(UInt64)
    }

    /// Counters kept by the sampling thread (reported in HEARTBEAT).
    struct SamplerCounters {
        var batchesSampled = 0
        var weightsInstalled = 0
        var weightsRefused = 0
    }

    private let condition = NSCondition()
    private var epoch = 0
    private var welcomed = false
    private var maxInFlight = 1
    private var inFlight = 0
    private var pending: (weights: Weights, epoch: Int)?
    private var held: (version: UInt64, epoch: Int)?
    private var outbox: [Outbound] = []
    private var results: [UInt64: RewardResult] = [:]
    private var withdrawn: Set<UInt64> = []
    private var stopping = false
    private var counters = SamplerCounters()

    // MARK: I/O thread

    /// A WELCOME arrived: a new session whose weights follow. `carried` batches of earlier
    /// sessions are being resent in it and keep their slots; weights of earlier sessions are void.
    func welcome(maxInFlight: Int, carried: Int) {
        condition.lock()
        epoch += 1
        welcomed = true
        self.maxInFlight = max(1, maxInFlight)
        inFlight = carried
        pending = nil
        condition.broadcast()
        condition.unlock()
    }

    /// The learner was declared dead: nothing is sampled until the next WELCOME.
    func lostLearner() {
        condition.lock()
        welcomed = false
        pending = nil
        condition.broadcast()
        condition.unlock()
    }

    /// Offers weights of the current session; kept if newer than what is held or pending.
    /// `afterWelcome`: the WEIGHTS that follow WELCOME, installed whatever their version.
    func offer(_ weights: Weights, afterWelcome: Bool) {
        condition.lock()
        defer { condition.unlock() }
        guard welcomed else { return }
        if !afterWelcome {
            if let held, held.epoch == epoch, weights.version <= held.version { return }
            if let pending, pending.epoch == epoch, weights.version <= pending.weights.version { return }
        }
        pending = (weights, epoch)
        condition.broadcast()
    }

    /// A batch was acknowledged or presumed lost: its slot is free.
    func freeSlot() {
        condition.lock()
        inFlight = max(0, inFlight - 1)
        condition.broadcast()
        condition.unlock()
    }

    /// A reward result for a request the sampling thread waits on.
    func deliver(_ result: RewardResult) {
        condition.lock()
        results[result.requestID] = result
        condition.broadcast()
        condition.unlock()
    }

    /// Gives up reward requests the sampling thread waits on (a new run: its batch is void).
    func withdraw(_ ids: [UInt64]) {
        condition.lock()
        withdrawn.formUnion(ids)
        condition.broadcast()
        condition.unlock()
    }

    /// Takes everything the sampling thread posted.
    func takeOutbox() -> [Outbound] {
        condition.lock()
        defer { condition.unlock() }
        let taken = outbox
        outbox.removeAll()
        return taken
    }

    /// The version held in the current session (0 if none) and the sampler's counters.
    var snapshot: (held: UInt64, counters: SamplerCounters) {
        condition.lock()
        defer { condition.unlock() }
        let version = held.flatMap { $0.epoch == epoch ? $0.version : nil } ?? 0
        return (version, counters)
    }

    /// Tells the sampling thread to stop.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    // MARK: Sampling thread

    /// What the sampling thread should do next.
    enum Next {
        case install(Weights, epoch: Int)
        case sample(version: UInt64, epoch: Int)
        case stop
    }

    /// Waits until there are weights to install, or held weights of this session and a free slot.
    func next() -> Next {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if stopping { return .stop }
            if let pending, pending.epoch == epoch {
                self.pending = nil
                return .install(pending.weights, epoch: pending.epoch)
            }
            if welcomed, let held, held.epoch == epoch, inFlight < maxInFlight {
                return .sample(version: held.version, epoch: epoch)
            }
            condition.wait()
        }
    }

    /// Records installed weights (or a refusal).
    func installed(version: UInt64?, epoch: Int) {
        condition.lock()
        if let version {
            held = (version, epoch)
            counters.weightsInstalled += 1
        } else {
            counters.weightsRefused += 1
        }
        condition.unlock()
    }

    /// Posts a reward request and waits for its result (across learner restarts: the I/O
    /// thread resends it to the new broker); nil when the actor stops meanwhile or the I/O
    /// thread withdraws the request (`withdraw`).
    func reward(_ request: RewardRequest, wake: () -> Void) -> RewardResult? {
        condition.lock()
        outbox.append(.reward(request))
        condition.unlock()
        wake()
        condition.lock()
        defer { condition.unlock() }
        while results[request.requestID] == nil && !stopping && !withdrawn.contains(request.requestID) { condition.wait() }
        withdrawn.remove(request.requestID)
        if let result = results.removeValue(forKey: request.requestID) { return result }
        outbox.append(.cancelReward(request.requestID))
        return nil
    }

    /// Posts a finished batch sampled with the weights of session `epoch` (the I/O thread
    /// decides whether it is still valid for the current session, PROTOCOL.md §5.1); returns
    /// true when posted.
    func post(_ trajectories: [Trajectory], epoch batchEpoch: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        counters.batchesSampled += 1
        inFlight += 1
        outbox.append(.batch(trajectories, epoch: batchEpoch))
        return true
    }
}
