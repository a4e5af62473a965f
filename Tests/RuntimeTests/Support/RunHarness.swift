import CommandSupport
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Why a test could not set up its run (the message says how to fix it).
struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One test's run: a temporary folder, its own ipc endpoints (or tcp loopback ports), a YAML config selecting the
/// test-linear policy with tiny settings, and the `shielddiff` processes it starts (their
/// stderr goes to one log file each). Everything still running is killed on `tearDown`.
final class RunHarness {
    /// The built binary, next to the test bundle (or $SHIELDDIFF_BIN).
    static var binary: String { ShieldDiffBinary.path }

    /// How the run's processes reach the learner.
    enum Transport {
        /// ipc sockets in the run's folder.
        case ipc
        /// tcp loopback with `*` ports: the learner binds ephemeral ports, and the peers get
        /// the ports it logged (`resolveEndpoints`).
        case tcp
    }

    let directory: URL
    let transport: Transport
    /// The endpoints `writeConfig` writes, by name (control, weights, frontend, backend).
    private(set) var endpoints: [String: String] = [:]
    private(set) var processes: [String: Process] = [:]
    private var restarts: [String: Int] = [:]

    /// A fresh folder under /tmp (short paths: ipc endpoint paths are limited to ~100 bytes).
    init(_ name: String, transport: Transport = .ipc) throws {
        self.transport = transport
        directory = URL(fileURLWithPath: "/tmp/sd-\(name)-\(getpid())-\(UInt16.random(in: .min ... .max))")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for name in ["control", "weights", "frontend", "backend"] {
            endpoints[name] = transport == .ipc ? "ipc://\(directory.path)/\(name).sock" : "tcp://127.0.0.1:*"
        }
        // A failure, not a skip: these process tests are what prove the runtime works.
        _ = try ShieldDiffBinary.checked()
    }

    /// Over tcp: waits for the learner's log line naming the ports it bound and makes them the
    /// endpoints of configs written from now on (for the peers). Over ipc: nothing to do.
    func resolveEndpoints(learner name: String = "learner", file: StaticString = #filePath, line: UInt = #line) {
        guard transport == .tcp else { return }
        let pattern = "control (\\S+), weights (\\S+), reward (\\S+) / (\\S+)\n"
        var found: [String] = []
        waitUntil("the learner logs its bound endpoints", file: file, line: line) {
            let log = self.log(name)
            guard let match = try? NSRegularExpression(pattern: pattern)
                .firstMatch(in: log, range: NSRange(log.startIndex..., in: log)) else { return false }
            found = (1...4).map { String(log[Range(match.range(at: $0), in: log)!]) }
            return true
        }
        guard found.count == 4 else { return }
        for (name, endpoint) in zip(["control", "weights", "frontend", "backend"], found) {
            XCTAssertFalse(endpoint.hasSuffix(":*"), "unresolved \(endpoint)", file: file, line: line)
            endpoints[name] = endpoint.hasSuffix(",") ? String(endpoint.dropLast()) : endpoint
        }
    }

    /// The test configuration: test-linear, D = 16, N = 4, 100 ms heartbeats, fast reconnects;
    /// each top-level `key: value` line of `extra` replaces the base line of that key.
    func writeConfig(_ extra: String = "", file: String = "config.yaml") throws -> String {
        let base = """
        model: test-linear
        run_dir: \(directory.path)/run
        endpoints:
          control: "\(endpoints["control"]!)"
          weights: "\(endpoints["weights"]!)"
          reward_frontend: "\(endpoints["frontend"]!)"
          reward_backend: "\(endpoints["backend"]!)"
        actors: 2
        reward_workers: 1
        trajectories_per_batch: 4
        trajectories_per_update: 8
        max_buffered_trajectories: 16
        stop_unsafe_rate: 0
        max_policy_lag: 4
        heartbeat_interval_ms: 100
        liveness: 3
        reconnect_delay_ms: 100
        reconnect_delay_max_ms: 400
        restart_delay_ms: 100
        shutdown_timeout_ms: 2000
        checkpoint_every: 2
        hyperparameters:
          steps: 4
          latent_size: 16
          lr: 0.01
          clip_epsilon: 0.2
          buffer: 4
          min_count: 2

        """
        let replaced = Set(extra.split(separator: "\n").compactMap { $0.split(separator: ":").first.map(String.init) })
        let kept = base.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { line in !replaced.contains(String(line.split(separator: ":").first ?? "")) }
        let text = kept.joined(separator: "\n") + extra
        let url = directory.appendingPathComponent(file)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// The run's metrics file.
    var metricsFile: URL { directory.appendingPathComponent("run/metrics.jsonl") }

    /// Starts `shielddiff arguments…` as `name`; its stderr (and stdout) go to `<name>.log`.
    @discardableResult
    func start(_ name: String, _ arguments: [String]) throws -> Process {
        let life = restarts[name, default: 0]
        restarts[name] = life + 1
        let log = directory.appendingPathComponent(life == 0 ? "\(name).log" : "\(name).\(life).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        processes[name] = process
        return process
    }

    /// Starts a role process with the config and `--parent-pid` of this test process.
    @discardableResult
    func startRole(_ name: String, _ role: String, config: String, _ extra: [String] = []) throws -> Process {
        try start(name, [role, "--config", config, "--parent-pid", String(getpid())] + extra)
    }

    /// Starts `python3 script arguments…` (an absolute path, or one under the repository's
    /// proto/python; that folder is on PYTHONPATH) as `name`, logged like the others.
    @discardableResult
    func startPython(_ name: String, _ script: String, _ arguments: [String]) throws -> Process {
        let life = restarts[name, default: 0]
        restarts[name] = life + 1
        let log = directory.appendingPathComponent(life == 0 ? "\(name).log" : "\(name).\(life).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let path = script.hasPrefix("/") ? script : Python.root.appendingPathComponent("proto/python/\(script)").path
        process.arguments = ["python3", path] + arguments
        process.environment = Python.environment
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        processes[name] = process
        return process
    }

    /// The log text of `name` (its current life, or `life`).
    func log(_ name: String, life: Int? = nil) -> String {
        let index = life ?? (restarts[name, default: 1] - 1)
        let file = directory.appendingPathComponent(index == 0 ? "\(name).log" : "\(name).\(index).log")
        return (try? String(contentsOf: file, encoding: .utf8)) ?? ""
    }

    /// Every log, for failure messages.
    func allLogs() -> String {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".log") }.sorted().map { name in
            "---- \(name)\n" + ((try? String(contentsOfFile: directory.appendingPathComponent(name).path, encoding: .utf8)) ?? "")
        }.joined(separator: "\n")
    }

    /// The metrics lines written so far, decoded.
    func metrics() -> [[String: Any]] {
        guard let text = try? String(contentsOf: metricsFile, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// The newest version in the metrics file (0 if none).
    func latestVersion() -> Int { metrics().compactMap { $0["version"] as? Int }.max() ?? 0 }

    /// Polls `condition` every 20 ms until it holds or `timeout` passes; fails with the logs.
    func waitUntil(_ what: String, timeout: Duration = .seconds(20), file: StaticString = #filePath, line: UInt = #line,
                   _ condition: () -> Bool) {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
        XCTFail("timed out after \(timeout) waiting for: \(what)\n\(allLogs())", file: file, line: line)
    }

    /// Waits for `process` to exit (up to `timeout`); its exit status, or nil if still running.
    func waitForExit(_ process: Process, timeout: Duration = .seconds(15)) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.02) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Sends `signal` to the process named `name`.
    func signal(_ name: String, _ signal: Int32) {
        if let process = processes[name], process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// Kills whatever is still running and removes the folder (kept when $SHIELDDIFF_KEEP_RUNS is set).
    func tearDown() {
        for process in processes.values where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        if ProcessInfo.processInfo.environment["SHIELDDIFF_KEEP_RUNS"] == nil {
            try? FileManager.default.removeItem(at: directory)
        }
    }
}
