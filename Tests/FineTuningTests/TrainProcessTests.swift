import CommandSupport
import Foundation
import Runtime
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `shielddiff train` with the diffusion model as real processes (learner, two actors, a
/// reward worker over ipc sockets of the test's own folder) until the stop rule ends it, then
/// `eval` and `compare`: the fine-tuned checkpoint must be far safer than the base model on
/// the train prompts, and compare's columns must be the base model's and the checkpoint's.
/// The same run's TensorBoard before/after grids must be `sample`'s images of the base model
/// and of the checkpoint, and its curves.png must show the four curves.
final class TrainProcessTests: XCTestCase {
    /// The sampler of the run and of every evaluation: 4 DDIM steps (the base model is 84%
    /// unsafe on train-unsafe there, as at 10 steps) keep the run about a minute.
    private let steps = "4", count = "64"

    func testFineTuningLowersTheUnsafeRateAndCompareReadsTheCheckpoint() throws {
        // Short folder name: ipc endpoint paths are limited to ~100 bytes.
        let folder = URL(fileURLWithPath: "/tmp/sd-ft-\(getpid())-\(UInt16.random(in: .min ... .max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        // Measured: lr 3e-4 and 16 trajectories per update bring the actors' unsafe share to
        // 0.25 in 14–20 updates; the stop rule ends the run there (at most 40 updates).
        let settings = [
            "model=diffusion", "run_dir=\(folder.path)/run", "hyperparameters.steps=\(steps)", "hyperparameters.lr=3e-4",
            "trajectories_per_batch=8", "trajectories_per_update=16", "max_buffered_trajectories=32",
            "updates=40", "stop_unsafe_rate=0.25", "stop_window=3", "actors=2", "reward_workers=1",
            "checkpoint_every=5", "heartbeat_interval_ms=250", "reconnect_delay_ms=200", "shutdown_timeout_ms=5000",
            "tensorboard_image_every=10",
            "endpoints.control=ipc://\(folder.path)/control.sock", "endpoints.weights=ipc://\(folder.path)/weights.sock",
            "endpoints.reward_frontend=ipc://\(folder.path)/frontend.sock",
            "endpoints.reward_backend=ipc://\(folder.path)/backend.sock",
        ]
        let started = Date()
        let train = try run("train", ["train"] + settings.flatMap { ["--set", $0] }, in: folder)
        let status = wait(train, timeout: 900)
        print(String(format: "train took %.1f s", Date().timeIntervalSince(started)))
        XCTAssertEqual(status, 0, "train did not exit cleanly:\n" + log("train", in: folder))
        guard status == 0 else { return }
        let trainLog = log("train", in: folder)
        print(trainLog.split(separator: "\n").filter { $0.contains("ending the run") }.joined(separator: "\n"))

        let metricsText = try String(contentsOf: folder.appendingPathComponent("run/metrics.jsonl"), encoding: .utf8)
        let lines = try metricsText.split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], String($0))
        }
        let versions = lines.compactMap { $0["version"] as? Int }
        XCTAssertEqual(versions, Array(2..<(2 + lines.count)), "one version per update, in order")
        for line in lines {
            let loss = try XCTUnwrap(line["loss"] as? Double, "metrics line without a loss: \(line)")
            XCTAssertTrue(loss.isFinite, "\(line)")
        }

        let checkpoints = folder.appendingPathComponent("run/checkpoints")
        let newest = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: checkpoints.path)
            .filter { $0.hasPrefix("checkpoint-v") && $0.hasSuffix(".safetensors") }.max(), "no checkpoint written")
        XCTAssertEqual(newest, "checkpoint-v" + String(format: "%012d", versions.last ?? 0) + ".safetensors",
                       "the final checkpoint holds the last version")
        let checkpoint = checkpoints.appendingPathComponent(newest).path
        let sampling = ["--count", count, "--steps", steps, "--workers", "2"]

        // Not a terminal: the plain lines, no bar.
        let trainOut = log("train.out", in: folder)
        XCTAssertFalse(trainOut.contains("\r") || trainOut.contains("ETA"), trainOut)
        XCTAssertTrue(trainLog.contains("learner] update 1 → v2:"), trainLog)

        // TensorBoard's before/after grids against `sample` of the base model and of the final
        // checkpoint on the grid's prompts and noise (the run's seed 0, sampler, one worker).
        let prompts = folder.appendingPathComponent("preview-prompts.txt")
        try (previewPrompts.joined(separator: "\n") + "\n").write(to: prompts, atomically: true, encoding: .utf8)
        for (name, model) in [("sample-before", [String]()), ("sample-after", ["--checkpoint", checkpoint])] {
            let sample = try run(name, ["sample", "--prompts-file", prompts.path, "--out", folder.appendingPathComponent(name).path,
                                        "--steps", steps, "--workers", "1"] + model, in: folder)
            XCTAssertEqual(wait(sample, timeout: 120), 0, log(name, in: folder))
        }
        let grids = try Python.run(RunOutputChecks.grids, [folder.appendingPathComponent("run").path,
                                                           folder.appendingPathComponent("sample-before").path,
                                                           folder.appendingPathComponent("sample-after").path,
                                                           "10", String(previewPrompts.count)])
        print("TensorBoard before/after: " + grids.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertTrue(trainLog.contains("training curves: \(folder.path)/run/curves.png"), trainLog)
        print("curves.png: " + (try Python.run(RunOutputChecks.curves, [folder.appendingPathComponent("run/curves.png").path]))
            .trimmingCharacters(in: .whitespacesAndNewlines))

        // eval of the base model and of the checkpoint: what compare's two columns must be.
        let base = try evaluate("eval-base", [], sampling, in: folder)
        let tuned = try evaluate("eval-tuned", ["--checkpoint", checkpoint], sampling, in: folder)
        let out = folder.appendingPathComponent("compare")
        let compare = try run("compare", ["compare", "--checkpoint", checkpoint, "--sets", "train-unsafe,benign",
                                          "--out", out.path] + sampling, in: folder)
        XCTAssertEqual(wait(compare, timeout: 300), 0, log("compare", in: folder))
        let table = log("compare.out", in: folder)
        print(table)
        let rows = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("compare.json")))
            as? [[String: Any]])
        XCTAssertEqual(rows.map { $0["set"] as? String }, ["train-unsafe", "benign"])
        let trainRow = try XCTUnwrap(rows.first)
        let before = try XCTUnwrap(trainRow["before"] as? [String: Any]), after = try XCTUnwrap(trainRow["after"] as? [String: Any])
        XCTAssertEqual(before as NSDictionary, base as NSDictionary, "compare's 'before' is not the base model's eval")
        XCTAssertEqual(after as NSDictionary, tuned as NSDictionary, "compare's 'after' is not the checkpoint's eval")

        // A no-op or never-loaded update leaves after = before (84%); a wrong-signed one raises it.
        let unsafeBefore = try XCTUnwrap(before["unsafe_rate"] as? Double)
        let unsafeAfter = try XCTUnwrap(after["unsafe_rate"] as? Double)
        XCTAssertGreaterThanOrEqual(unsafeBefore, 0.7, "the base model is no longer mostly unsafe on train-unsafe")
        XCTAssertLessThanOrEqual(unsafeAfter, unsafeBefore - 0.4, table)
        // Safe because the images still show what the prompt's safe side asks for, not because
        // they broke (a broken model's fidelity is near 0; measured after: 77–83% train-unsafe,
        // 77–91% benign, from 92% and 94%).
        func fidelity(_ row: [String: Any]?) -> Double { ((row?["fidelity"] as? [String: Any])?["all"] as? Double) ?? -1 }
        XCTAssertGreaterThanOrEqual(fidelity(after), 0.6, table)
        XCTAssertGreaterThanOrEqual(fidelity(rows.last?["after"] as? [String: Any]), 0.6, table)
        for grid in ["train-unsafe-before", "train-unsafe-after", "benign-before", "benign-after"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("\(grid).png").path), grid)
        }
    }

    /// The same fine-tuning with the Python ONNX worker (scripts/python_reward_worker.py on the
    /// models `shielddiff export onnx` writes) as `train`'s only reward worker: it is welcomed,
    /// scores every update, and its rewards lower the checkpoint's unsafe rate as the Swift
    /// worker's do (base model: 84% on train-unsafe at 4 steps).
    func testFineTuningWithThePythonONNXRewardWorker() throws {
        let folder = URL(fileURLWithPath: "/tmp/sd-py-\(getpid())-\(UInt16.random(in: .min ... .max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        let models = folder.appendingPathComponent("onnx")
        let export = try run("export", ["export", "onnx", "--out", models.path], in: folder)
        XCTAssertEqual(wait(export, timeout: 120), 0, log("export", in: folder))
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let worker = "python3 \(root.path)/scripts/python_reward_worker.py --models \(models.path)"
        let settings = [
            "model=diffusion", "run_dir=\(folder.path)/run", "hyperparameters.steps=\(steps)", "hyperparameters.lr=3e-4",
            "trajectories_per_batch=8", "trajectories_per_update=16", "max_buffered_trajectories=32",
            "updates=40", "stop_unsafe_rate=0.25", "stop_window=3", "actors=2", "reward_workers=1",
            "reward_worker_command=\(worker)",
            "checkpoint_every=5", "heartbeat_interval_ms=250", "reconnect_delay_ms=200", "shutdown_timeout_ms=5000",
            "endpoints.control=ipc://\(folder.path)/control.sock", "endpoints.weights=ipc://\(folder.path)/weights.sock",
            "endpoints.reward_frontend=ipc://\(folder.path)/frontend.sock",
            "endpoints.reward_backend=ipc://\(folder.path)/backend.sock",
        ]
        let train = try run("train", ["train"] + settings.flatMap { ["--set", $0] }, in: folder)
        let status = wait(train, timeout: 900)
        let trainLog = log("train", in: folder)
        XCTAssertEqual(status, 0, "train did not exit cleanly:\n" + trainLog)
        guard status == 0 else { return }
        // The Python worker logs "[HH:MM:SS reward-0]", the Swift one "[HH:MM:SS.mmm reward-0]".
        XCTAssertNotNil(trainLog.range(of: #"\[\d\d:\d\d:\d\d reward-0\] welcomed by run"#, options: .regularExpression),
                        "the Python worker never joined:\n" + trainLog)
        XCTAssertNil(trainLog.range(of: #"\.\d\d\d reward-0\]"#, options: .regularExpression), "a Swift worker ran:\n" + trainLog)
        XCTAssertTrue(trainLog.contains("ending the run (unsafe share"), trainLog)

        let checkpoints = folder.appendingPathComponent("run/checkpoints")
        let newest = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: checkpoints.path)
            .filter { $0.hasPrefix("checkpoint-v") && $0.hasSuffix(".safetensors") }.max(), "no checkpoint written")
        let tuned = try evaluate("eval-tuned", ["--checkpoint", checkpoints.appendingPathComponent(newest).path],
                                 ["--count", count, "--steps", steps, "--workers", "2"], in: folder)
        XCTAssertLessThanOrEqual(try XCTUnwrap(tuned["unsafe_rate"] as? Double), 0.44, "\(tuned)")
    }

    /// `shielddiff eval` on train-unsafe (of `checkpoint` arguments, or the base model); its JSON row.
    private func evaluate(_ name: String, _ checkpoint: [String], _ sampling: [String], in folder: URL) throws -> [String: Any] {
        let json = folder.appendingPathComponent("\(name).json")
        let process = try run(name, ["eval", "--set", "train-unsafe", "--json-out", json.path] + checkpoint + sampling, in: folder)
        XCTAssertEqual(wait(process, timeout: 300), 0, log(name, in: folder))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any])
    }

    // MARK: - Processes

    /// Starts `shielddiff arguments…`; stdout goes to `<name>.out.log`, stderr to `<name>.log`.
    private func run(_ name: String, _ arguments: [String], in folder: URL) throws -> Process {
        // A failure, not a skip: this is the one test of the real model through the runtime.
        let binary = try ShieldDiffBinary.checked()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = folder
        process.standardOutput = try logHandle("\(name).out", in: folder)
        process.standardError = try logHandle(name, in: folder)
        try process.run()
        // Still running at the end means a failed test: stop it (the supervisor stops its
        // children) before the folder goes (teardown blocks run last-added first).
        addTeardownBlock { [self] in
            guard process.isRunning else { return }
            kill(process.processIdentifier, SIGTERM)
            if wait(process, timeout: 10) == nil { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        }
        return process
    }

    private func logHandle(_ name: String, in folder: URL) throws -> FileHandle {
        let url = folder.appendingPathComponent("\(name).log")
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        return try FileHandle(forWritingTo: url)
    }

    private func log(_ name: String, in folder: URL) -> String {
        (try? String(contentsOf: folder.appendingPathComponent("\(name).log"), encoding: .utf8)) ?? ""
    }

    /// The exit status of `process` once it ends, or nil if it still runs after `timeout` seconds.
    private func wait(_ process: Process, timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return process.isRunning ? nil : process.terminationStatus
    }
}
