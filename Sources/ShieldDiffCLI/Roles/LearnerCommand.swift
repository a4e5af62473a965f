import ArgumentParser
import FineTuning
import Foundation
import Runtime
import ZMQ

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
        do {
            let learner = try Learner(config: config, model: model, resume: resume, parentPID: process.parentPID)
            try learner.run()
        } catch let error as ZMQError where error.kind == .addressInUse {
            // Another process holds the endpoint: restarting cannot help, and meanwhile this
            // run's peers would join the other one. Say so and end with the status `train` stops on.
            RuntimeLog(name: "learner").info("\(error.operation): the endpoint is in use by another process "
                + "(another run on this machine?); give this run its own endpoints, e.g. --set endpoints.control=tcp://127.0.0.1:6555 "
                + "and likewise endpoints.weights, endpoints.reward_frontend, endpoints.reward_backend")
            throw ExitCode(Supervisor.endpointInUseStatus)
        }
        // LoRA runs also leave their final adapters as PEFT files, for PEFT/diffusers users.
        if let adapter = (model as? DiffusionPolicyLearner)?.policy.peftAdapter {
            let folder = URL(fileURLWithPath: config.runDir).appendingPathComponent("adapter")
            try adapter.write(to: folder)
            RuntimeLog(name: "learner").info("PEFT adapter (r \(adapter.rank), \(adapter.targetModules.count) modules) in \(folder.path)")
        }
    }
}
