import Foundation

/// Runs the Python checks of the tests: `python3 -c script args…`, with the repository's
/// proto/python on PYTHONPATH. A missing python3 or package is a failure naming what to
/// install, never a skip: these checks are part of the test command.
public enum Python {
    /// The repository root (three folders above this file).
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The environment for Python processes: proto/python first on PYTHONPATH.
    public static var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        let path = root.appendingPathComponent("proto/python").path
        environment["PYTHONPATH"] = [path, environment["PYTHONPATH"]].compactMap { $0 }.joined(separator: ":")
        environment["PYTHONUNBUFFERED"] = "1"
        return environment
    }

    /// Runs `script` with `arguments`; its stdout, or a failure with its stderr.
    @discardableResult
    public static func run(_ script: String, _ arguments: [String] = []) throws -> String {
        let result = try Command.run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script] + arguments,
                                     environment: environment)
        switch result.status {
        case 0: return result.stdout
        case 127: throw Failure(description: "python3 is not on PATH (scripts/setup.sh installs it and the test packages)")
        default: throw Failure(description: "python3 exited with status \(result.status):\n\(result.stderr)\(result.stdout)")
        }
    }
}
