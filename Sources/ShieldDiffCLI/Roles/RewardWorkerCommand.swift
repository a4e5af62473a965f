import ArgumentParser
import Runtime

/// `shielddiff reward-worker`: one reward-worker process.
struct RewardWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reward-worker",
        abstract: "Run a reward worker: score images for the learner's reward broker.",
        discussion: configKeysDiscussion)

    @OptionGroup var options: RunOptions
    @OptionGroup var process: ProcessOptions

    func validate() throws { try options.check() }

    func run() throws {
        process.announceKernel(defaultName: "reward-0")
        let config = try options.resolve()
        StopSignal.install()
        let worker = try RewardWorker(config: config, instanceID: process.instance ?? "reward-0",
                                      scorer: try makeModels(config: config).scorer(), parentPID: process.parentPID)
        if case let .misconfigured(reason) = try worker.run() {
            throw RuntimeError("the broker refused this worker: \(reason)")
        }
    }
}
