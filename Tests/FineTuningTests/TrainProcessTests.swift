import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `shielddiff train` with the diffusion model as real processes (learner, two actors, a
/// reward worker over ipc sockets of the test's own folder), then `eval` and `compare` of its checkpoint.
final class TrainProcessTests: XCTestCase {
    func testTrainThreeUpdatesThenEvalAndCompareTheCheckpoint() throws {
        // Short folder name: ipc endpoint paths are limited to ~100 bytes.
        let folder = URL(fileURLWithPath: "/tmp/sd-ft-\(getpid())-\(UInt16.random(in: .min ... .max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        let settings = [
            "model=diffusion", "run_dir=\(folder.path)/run", "hyperparameters.steps=2",
            "trajectories_per_batch=2", "trajectories_per_update=4", "updates=3", "actors=2", "reward_workers=1",
            "checkpoint_every=1", "heartbeat_interval_ms=250", "reconnect_delay_ms=200", "shutdown_timeout_ms=5000",
            "endpoints.control=ipc://\(folder.path)/control.sock", "endpoints.weights=ipc://\(folder.path)/weights.sock",
            "endpoints.reward_frontend=ipc://\(folder.path)/frontend.sock",
            "endpoints.reward_backend=ipc://\(folder.path)/backend.sock",
        ]
        let started = Date()
        let train = try run("train", ["train"] + settings.flatMap { ["--set", $0] }, in: folder)
        let status = wait(train, timeout: 240)
        print(String(format: "train took %.1f s", Date().timeIntervalSince(started)))
        XCTAssertEqual(status, 0, "train did not exit cleanly:\n" + log("train", in: folder))
        guard status == 0 else { return }

        let metricsText = try String(contentsOf: folder.appendingPathComponent("run/metrics.jsonl"), encoding: .utf8)
        let lines = try metricsText.split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], String($0))
        }
        XCTAssertEqual(lines.count, 3, metricsText)
        let versions = lines.compactMap { $0["version"] as? Int }
        XCTAssertEqual(versions.count, 3, metricsText)
        XCTAssertEqual(versions, (0..<versions.count).map { versions.first! + $0 }, "one version per update, in order")
        for line in lines {
            let loss = try XCTUnwrap(line["loss"] as? Double, "metrics line without a loss: \(line)")
            XCTAssertTrue(loss.isFinite, "\(line)")
        }

        let checkpoints = folder.appendingPathComponent("run/checkpoints")
        let newest = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: checkpoints.path)
            .filter { $0.hasPrefix("checkpoint-v") && $0.hasSuffix(".safetensors") }.max(), "no checkpoint written")
        let eval = try run("eval", ["eval", "--checkpoint", checkpoints.appendingPathComponent(newest).path, "--set", "benign",
                                    "--count", "4", "--steps", "2", "--workers", "1",
                                    "--json-out", folder.appendingPathComponent("eval.json").path], in: folder)
        XCTAssertEqual(wait(eval, timeout: 120), 0, log("eval", in: folder))
        let table = log("eval.out", in: folder)
        print(table)
        XCTAssertTrue(table.contains("| prompts | images | unsafe |"), table)
        XCTAssertTrue(table.contains("| benign | 4 |"), table)

        // The main job's last step: base against fine-tuned on the same prompts and noise.
        let out = folder.appendingPathComponent("compare")
        let compare = try run("compare", ["compare", "--checkpoint", checkpoints.appendingPathComponent(newest).path,
                                          "--sets", "train-unsafe,benign", "--count", "3", "--steps", "2", "--workers", "1",
                                          "--out", out.path], in: folder)
        XCTAssertEqual(wait(compare, timeout: 120), 0, log("compare", in: folder))
        let before = log("compare.out", in: folder)
        XCTAssertTrue(before.contains("| prompts | images | unsafe before | unsafe after |"), before)
        XCTAssertTrue(before.contains("| train-unsafe | 3 |") && before.contains("| benign | 3 |"), before)
        for grid in ["train-unsafe-before", "train-unsafe-after", "benign-before", "benign-after"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("\(grid).png").path), grid)
        }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("compare.json")))
        XCTAssertEqual((json as? [[String: Any]])?.count, 2, "one before/after row per set")
    }

    // MARK: - Processes

    /// The built binary, next to the test bundle (or $SHIELDDIFF_BIN).
    private static var binary: String {
        if let path = ProcessInfo.processInfo.environment["SHIELDDIFF_BIN"] { return path }
        let bundle = Bundle.allBundles.first { $0.bundlePath.hasSuffix(".xctest") }?.bundleURL
            ?? URL(fileURLWithPath: CommandLine.arguments[0])
        return bundle.deletingLastPathComponent().appendingPathComponent("shielddiff").path
    }

    /// Starts `shielddiff arguments…`; stdout goes to `<name>.out.log`, stderr to `<name>.log`.
    private func run(_ name: String, _ arguments: [String], in folder: URL) throws -> Process {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            // A failure, not a skip: this is the one test of the real model through the runtime.
            let message = "no shielddiff binary at \(Self.binary): build it first with "
                + "`swift build -c release --build-tests` (or set SHIELDDIFF_BIN)"
            XCTFail(message)
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: message])
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
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
