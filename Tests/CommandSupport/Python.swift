import Foundation

/// Runs Python checks of the tests: `python3 -c script args…` (or a file), with the repository's
/// proto/python on PYTHONPATH. A missing python3 or package is a failure naming what to
/// install, never a skip: these checks are part of the test command.
enum Python {
    /// The repository root (three folders above this file).
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The environment for Python processes: proto/python first on PYTHONPATH.
    static var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        let path = root.appendingPathComponent("proto/python").path
        environment["PYTHONPATH"] = [path, environment["PYTHONPATH"]].compactMap { $0 }.joined(separator: ":")
        environment["PYTHONUNBUFFERED"] = "1"
        return environment
    }

    /// Runs `script` with `arguments`; its stdout, or a failure with its stderr.
    @discardableResult
    static func run(_ script: String, _ arguments: [String] = []) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        process.environment = environment
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("py-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errors) }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        let stdout = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let stderr = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
        switch process.terminationStatus {
        case 0: return stdout
        case 127: throw Failure(description: "python3 is not on PATH (scripts/setup.sh installs it and the test packages)")
        default: throw Failure(description: "python3 exited with status \(process.terminationStatus):\n\(stderr)\(stdout)")
        }
    }
}
