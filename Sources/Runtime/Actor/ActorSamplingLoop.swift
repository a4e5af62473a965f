import Foundation
import Numerics
import Wire
import World

/// The actor's sampling thread: installs weights between batches, draws prompts from the
/// configured prompt set (a stream seeded per actor), samples a batch with the held version,
/// gets it scored (by the broker, or in-process), and posts it for sending.
///
/// `@unchecked Sendable`: the sampler and scorer are used only by this thread.
final class ActorSamplingLoop: @unchecked Sendable {
    private let sampler: PolicySampler
    private let scorer: RewardScorer?
    private let mailbox: ActorMailbox
    private let prompts: [TextPrompt]
    private let batchSize: Int
    private let textShare: Double
    private let log: RuntimeLog
    private let wake: @Sendable () -> Void
    private var rng: RandomGenerator
    private var streamChosen = false
    private var nextRequestID: UInt64 = 0
    private var loggedEpoch = 0
    private var lastInstalled: (version: UInt64, at: ContinuousClock.Instant)?
    private let finished = DispatchSemaphore(value: 0)

    /// A loop for actor number `index`; `scorer` nil means the reward broker scores.
    init(config: RunConfig, index: Int, sampler: PolicySampler, scorer: RewardScorer?, mailbox: ActorMailbox,
         log: RuntimeLog, wake: @escaping @Sendable () -> Void) {
        self.sampler = sampler
        self.scorer = scorer
        self.mailbox = mailbox
        self.log = log
        self.wake = wake
        prompts = config.prompts
        batchSize = config.trajectoriesPerBatch
        textShare = config.adversarial.textShare
        // The per-actor stream: different slots never share one, and a slot starting at version
        // 1 (an undisturbed run) always draws the same prompts and noises. A life that starts
        // later (a restarted actor) switches to the stream of its first version (`sampleBatch`):
        // replaying the first batches of the slot's stream in every life made the training data
        // of a run with frequent restarts a few prompts over and over.
        rng = RandomGenerator(seed: config.seed).split(0xAC70_0000 + UInt64(index))
    }

    /// Starts the thread.
    func start() {
        let thread = Thread { [self] in
            self.main()
            self.finished.signal()
        }
        thread.name = "actor-sampling"
        thread.stackSize = 16 << 20
        thread.start()
    }

    /// Waits up to `timeout` for the thread to end after `mailbox.stop()`.
    func join(timeout: Duration) -> Bool {
        finished.wait(timeout: .now() + .milliseconds(Int(timeout.components.seconds * 1000))) == .success
    }

    private func main() {
        while true {
            switch mailbox.next() {
            case .stop:
                return
            case let .install(weights, epoch):
                let trainable = Dictionary(uniqueKeysWithValues: weights.tensors.map { ($0.name, $0.tensor) })
                do {
                    try sampler.load(trainable: trainable, version: weights.version)
                    mailbox.installed(version: weights.version, epoch: epoch)
                    logInstall(version: weights.version, epoch: epoch)
                } catch {
                    mailbox.installed(version: nil, epoch: epoch)
                    log.limited("weights-refused", "WEIGHTS v\(weights.version) refused: \(error)")
                }
            case let .sample(version, epoch):
                sampleBatch(version: version, epoch: epoch)
            }
        }
    }

    /// Logs the first install after each WELCOME, and any that skipped versions or came a
    /// second or more after the previous one (so a real run logs each; the cluster test times
    /// the catch-up after a partition from them) — not the test policy's hundreds a second.
    private func logInstall(version: UInt64, epoch: Int) {
        let now = ContinuousClock.now
        defer { lastInstalled = (version, now) }
        if epoch != loggedEpoch {
            loggedEpoch = epoch
            log.info("installed v\(version), the first weights since WELCOME")
        } else if let last = lastInstalled, version > last.version + 1 || now - last.at >= .seconds(1) {
            log.info("installed v\(version)")
        }
    }

    /// The text an actor samples for `prompt`: an adversarial rewrite for a share `textShare`
    /// of the draws (adversarial DDPO), else the prompt. The safe side stays the prompt's.
    private func adversarialText(_ prompt: TextPrompt) -> String {
        guard textShare > 0, Double(rng.nextUniform()) < textShare else { return prompt.text }
        return AdversarialRewrite.rewrite(prompt, rng: &rng).text
    }

    private func sampleBatch(version: UInt64, epoch: Int) {
        if !streamChosen {
            streamChosen = true
            if version > 1 { rng = rng.split(version) }
        }
        let chosen = (0..<batchSize).map { _ in prompts[Int(rng.next() % UInt64(prompts.count))] }
        let texts = chosen.map(adversarialText), safe = chosen.map(\.safeSideText)
        let seeds = chosen.map { _ in rng.next() }
        var (trajectories, images) = sampler.sample(prompts: texts, safePrompts: safe, seeds: seeds, version: version)
        let scores: [RewardScore]
        if let scorer {
            scores = scorer.score(images: images, safePrompts: safe)
        } else {
            nextRequestID += 1
            let request = RewardRequest(requestID: nextRequestID, images: images, prompts: safe)
            images = Tensor(zeros: [0])
            guard let result = mailbox.reward(request, wake: wake) else { return }
            scores = (0..<result.rewards.count).map {
                RewardScore(reward: result.rewards[$0], alignment: result.alignment[$0], unsafe: result.unsafe[$0])
            }
        }
        guard scores.count == trajectories.count else {
            log.limited("score-count", "got \(scores.count) scores for \(trajectories.count) trajectories; batch dropped")
            return
        }
        for i in trajectories.indices {
            trajectories[i].reward = scores[i].reward
            trajectories[i].alignment = scores[i].alignment
            trajectories[i].unsafeProbability = scores[i].unsafe
        }
        if mailbox.post(trajectories, epoch: epoch) { wake() }
    }
}
