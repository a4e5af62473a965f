import ArgumentParser
import Runtime

/// `shielddiff learner`: the learner process (binds every endpoint, hosts the reward broker).
struct LearnerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learner",
        abstract: "Run the learner: PPO updates, weight broadcasts, reward broker, checkpoints.",
        discussion: configKeysDiscussion)

    @OptionGroup var options: RunOptions
    @OptionGroup var process: ProcessOptions

    @Flag(help: "Continue from the newest checkpoint in the checkpoint folder (if there is one).")
    var resume = false

    func validate() throws { try options.check() }

    func run() throws {
        process.announceKernel(defaultName: "learner")
        let config = try options.resolve()
        StopSignal.install()
        ReloadSignal.install()
        let learner = try Learner(config: config, model: try makeModels(config: config).learner(),
                                  resume: resume, parentPID: process.parentPID)
        try learner.run()
    }
}
