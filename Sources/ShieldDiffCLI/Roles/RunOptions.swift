import ArgumentParser
import Numerics
import Runtime

/// The configuration options every role shares: a YAML file, named overrides for the most
/// common keys, and `--set key=value` for any key (applied in that order).
struct RunOptions: ParsableArguments {
    @Option(help: "YAML run configuration (keys: `shielddiff config --keys`).")
    var config: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override any key, e.g. --set hyperparameters.lr=1e-4 (repeatable).",
                                                          valueName: "key=value"))
    var overrides: [String] = []

    @Option(help: "Model implementation (model).") var model: String?
    @Option(help: "Run folder (run_dir).") var runDir: String?
    @Option(help: "Checkpoint folder (checkpoint_dir).") var checkpointDir: String?
    @Option(help: "Actor processes (actors).") var actors: Int?
    @Option(help: "Reward-worker processes (reward_workers).") var rewardWorkers: Int?
    @Option(help: "Learner updates, 0 = until stopped (updates).") var updates: Int?
    @Option(help: "Base seed (seed).") var seed: UInt64?
    @Option(help: "Prompt set (prompt_set).") var promptSet: String?
    @Option(help: "Trajectories per learner update (trajectories_per_update).") var trajectoriesPerUpdate: Int?
    @Option(help: "Trajectories per actor batch (trajectories_per_batch).") var trajectoriesPerBatch: Int?

    /// The configuration: defaults, then the file, then named flags, then `--set`; checked.
    func resolve() throws -> RunConfig {
        var resolved = RunConfig()
        if let config { resolved = try RunConfig.loading(path: config) }
        let named: [(String, String?)] = [
            ("model", model), ("run_dir", runDir), ("checkpoint_dir", checkpointDir),
            ("actors", actors.map(String.init)), ("reward_workers", rewardWorkers.map(String.init)),
            ("updates", updates.map(String.init)), ("seed", seed.map(String.init)), ("prompt_set", promptSet),
            ("trajectories_per_update", trajectoriesPerUpdate.map(String.init)),
            ("trajectories_per_batch", trajectoriesPerBatch.map(String.init)),
        ]
        for (key, value) in named { if let value { try resolved.apply(override: "\(key)=\(value)") } }
        for override in overrides { try resolved.apply(override: override) }
        return try resolved.validated()
    }

    /// `resolve()` with its error as a `ValidationError`, for `validate()`.
    func check() throws {
        do { _ = try resolve() } catch let error as ConfigError { throw ValidationError(error.description) }
    }
}

/// Options of a process started by the supervisor.
struct ProcessOptions: ParsableArguments {
    @Option(help: "Instance id, stable across restarts of the same slot (e.g. actor-3).")
    var instance: String?

    @Option(help: .hidden) var parentPID: Int32?

    /// The role's first log line: the OpenBLAS kernel it runs (BLASKernel).
    func announceKernel(defaultName: String) {
        RuntimeLog(name: instance ?? defaultName).info(BLASKernel.description)
    }
}

/// The discussion text of the role commands: every config key with its meaning and default.
let configKeysDiscussion = "Configuration keys (YAML, or --set key=value):\n" + RunConfig.keyHelp
