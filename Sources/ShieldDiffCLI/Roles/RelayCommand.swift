import ArgumentParser
import Runtime

/// `shielddiff relay`: one node's WEIGHTS relay (see `WeightsRelay`).
struct RelayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Relay the learner's WEIGHTS to this node's actors: subscribe to endpoints.weights once, re-publish on the ipc endpoint endpoints.weights_relay.",
        discussion: "Start one per node before its actors, and give those actors the same endpoints.weights_relay. "
            + "With security.mode curve the relay needs an actor key (security.key) named as its --instance, on the learner's allowlist.\n\n"
            + configKeysDiscussion)

    @OptionGroup var options: RunOptions
    @OptionGroup var process: ProcessOptions

    func validate() throws {
        try options.check()
        if try options.resolve().endpoints.weightsRelay.isEmpty {
            throw ValidationError("a relay needs endpoints.weights_relay: the ipc:// endpoint to serve this node's actors on")
        }
    }

    func run() throws {
        process.announceKernel(defaultName: "relay-0")
        StopSignal.install()
        try WeightsRelay(config: try options.resolve(), instanceID: process.instance ?? "relay-0",
                         parentPID: process.parentPID).run()
    }
}
