import ArgumentParser

@main
struct ShieldDiff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shielddiff",
        abstract: "Distributed RL fine-tuning that removes an unsafe concept from a text-to-image diffusion model.",
        subcommands: [TrainCommand.self, LearnerCommand.self, ActorCommand.self, RewardWorkerCommand.self,
                      ConfigCommand.self, Keys.self, Pretrain.self, Sample.self, Eval.self, Compare.self, Bench.self]
    )
}
