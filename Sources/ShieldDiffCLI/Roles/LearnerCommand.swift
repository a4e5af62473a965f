import ArgumentParser
import FineTuning
import Foundation
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
        let model = try makeModels(config: config).learner()
        let learner = try Learner(config: config, model: model, resume: resume, parentPID: process.parentPID)
        try learner.run()
        // LoRA runs also leave their final adapters as PEFT files, for PEFT/diffusers users.
        if let adapter = (model as? DiffusionPolicyLearner)?.policy.peftAdapter {
            let folder = URL(fileURLWithPath: config.runDir).appendingPathComponent("adapter")
            try adapter.write(to: folder)
            RuntimeLog(name: "learner").info("PEFT adapter (r \(adapter.rank), \(adapter.targetModules.count) modules) in \(folder.path)")
        }
    }
}
