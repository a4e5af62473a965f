import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import FineTuning
import Foundation
import Models
import Numerics
import Runtime

/// `shielddiff train`: the supervisor of a whole run on this machine.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Start the learner, the actors and the reward workers as child processes and supervise them.",
        discussion: "Ctrl-C or SIGTERM ends the run cleanly (TERMINATE → acknowledgements → final checkpoint).\n\n"
            + configKeysDiscussion)

    @OptionGroup var options: RunOptions

    @Flag(help: "Continue from the newest checkpoint in the checkpoint folder (if there is one).")
    var resume = false

    func validate() throws { try options.check() }

    func run() throws {
        RuntimeLog(name: "supervisor").info(BLASKernel.description + "; the children inherit it")
        var config = try options.resolve()
        // Refused here, before any child starts: a learner failing on it would only restart.
        if config.model == "diffusion" && !config.initCheckpoint.isEmpty {
            _ = try InitialDenoiser.load(path: config.initCheckpoint, like: try DiffusionModel.load())
        }
        StopSignal.install()
        try FileManager.default.createDirectory(atPath: config.runDir, withIntermediateDirectories: true)
        let keyFolder = config.security.mode == "curve" && config.security.key.isEmpty ? try Self.makeRunKeys(&config) : nil
        // The children read exactly this configuration, whatever flags produced it.
        let configURL = URL(fileURLWithPath: config.runDir).appendingPathComponent("config.yaml")
        try config.renderedYAML().write(to: configURL, atomically: true, encoding: .utf8)
        // On a terminal: a progress bar on the last line, and every line (the children's
        // through a relay) above it; elsewhere the lines as they come.
        let progress = ProgressBar.isShown ? TrainProgress(config: config) : nil
        let relay = progress != nil && isatty(STDERR_FILENO) == 1 ? try LineRelay() : nil
        let log = relay == nil ? RuntimeLog(name: "supervisor")
            : RuntimeLog(name: "supervisor") { Console.shared.line(String($0.dropLast()), to: STDERR_FILENO) }
        let supervisor = try Supervisor(config: config, executable: Self.executablePath(),
                                        configPath: configURL.path, resume: resume, childKeyFolder: keyFolder,
                                        log: log, childOutput: relay?.descriptor) { progress?.record($0) }
        progress?.start()
        let status: Int32
        do {
            defer {
                relay?.finish()
                progress?.finish()
            }
            status = try supervisor.run()
        }
        writeCurves(config)
        if status != 0 { throw ExitCode(status) }
    }

    /// The training curves of the run so far, beside its metrics file (also after a failed run:
    /// what it trained is worth seeing).
    private func writeCurves(_ config: RunConfig) {
        let log = RuntimeLog(name: "supervisor")
        let url = URL(fileURLWithPath: config.runDir).appendingPathComponent("curves.png")
        do {
            if try TrainingCurves.write(metrics: config.resolvedMetricsFile, to: url) { log.info("training curves: \(url.path)") }
        } catch {
            log.info("no training curves: \(error)")
        }
    }

    /// `security.mode: curve` without keys: throwaway keys for this run only, in
    /// `<run_dir>/keys` (made fresh each start), one per child and the supervisor, with the
    /// allowlist of exactly those; returns the folder.
    private static func makeRunKeys(_ config: inout RunConfig) throws -> String {
        let folder = config.runDir + "/keys"
        try? FileManager.default.removeItem(atPath: folder)
        var members: [(KeyRole, String)] = [(.learner, "learner"), (.supervisor, "supervisor")]
        members += (0..<config.actors).map { (.actor, "actor-\($0)") }
        members += (0..<config.rewardWorkers).map { (.rewardWorker, "reward-\($0)") }
        var entries: [PublicKeyEntry] = []
        for (role, name) in members {
            let identity = try CurveIdentity.generate(role: role, name: name)
            try identity.write(to: folder)
            if role != .learner { entries.append(identity.publicEntry) }
        }
        let allowlist = folder + "/allowlist"
        try Allowlist(entries).rendered.write(toFile: allowlist, atomically: true, encoding: .utf8)
        config.security.key = folder + "/supervisor.key"
        config.security.learnerPublicKey = folder + "/learner.pub"
        config.security.allowlist = allowlist
        return folder
    }

    /// The absolute path of this binary, so children start it from any directory.
    private static func executablePath() -> String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    }
}

/// `shielddiff config`: the resolved configuration, or every key.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print the resolved configuration as YAML (or, with --keys, every key with its meaning).")

    @OptionGroup var options: RunOptions

    @Flag(help: "List every key, its meaning, allowed values and default.")
    var keys = false

    func validate() throws { try options.check() }

    func run() throws {
        print(keys ? RunConfig.keyHelp : try options.resolve().renderedYAML(), terminator: keys ? "\n" : "")
    }
}
