import ArgumentParser
import Runtime

/// `shielddiff actor`: one actor process.
struct ActorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "actor",
        abstract: "Run an actor: sample trajectories with the newest weights, get them scored, send them to the learner.",
        discussion: configKeysDiscussion)

    @OptionGroup var options: RunOptions
    @OptionGroup var process: ProcessOptions

    @Option(help: "Actor number, which selects its prompt and noise stream (default: the number ending --instance).")
    var index: Int?

    func validate() throws {
        try options.check()
        if index == nil, actorIndex == nil {
            throw ValidationError("--index is required unless --instance ends in a number (e.g. actor-3)")
        }
    }

    private var actorIndex: Int? {
        index ?? process.instance.flatMap { name in Int(name.reversed().prefix { $0.isNumber }.reversed().map(String.init).joined()) }
    }

    func run() throws {
        let config = try options.resolve()
        StopSignal.install()
        let index = actorIndex!
        process.announceKernel(defaultName: "actor-\(index)")
        let models = makeModels(config: config)
        let actor = try Actor(config: config, instanceID: process.instance ?? "actor-\(index)", index: index,
                              sampler: try models.sampler(), scorer: config.rewardWorkers == 0 ? try models.scorer() : nil,
                              parentPID: process.parentPID)
        if case let .misconfigured(reason) = try actor.run() {
            throw RuntimeError("the learner refused this actor: \(reason)")
        }
    }
}
