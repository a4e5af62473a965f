import Foundation
import XCTest

/// A finished process: its exit status and what it printed.
public struct CommandResult {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// Runs programs to their end for the tests, reading stdout and stderr at once so that neither
/// pipe can fill while the other is drained.
public enum Command {
    public static func run(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
                           in folder: URL? = nil) throws -> CommandResult {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let folder { process.currentDirectoryURL = folder }
        let (out, err) = (Pipe(), Pipe())
        (process.standardOutput, process.standardError) = (out, err)
        try process.run()
        nonisolated(unsafe) var stderr = Data()
        let done = DispatchSemaphore(value: 0)
        Thread { stderr = err.fileHandleForReading.readDataToEndOfFile(); done.signal() }.start()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        done.wait()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                             stderr: String(decoding: stderr, as: UTF8.self))
    }
}

/// The built `shielddiff` binary that the process tests run.
public enum ShieldDiffBinary {
    /// Beside the test bundle (the build products folder), or $SHIELDDIFF_BIN.
    public static var path: String {
        if let path = ProcessInfo.processInfo.environment["SHIELDDIFF_BIN"] { return path }
        let bundle = Bundle.allBundles.first { $0.bundlePath.hasSuffix(".xctest") }?.bundleURL
            ?? URL(fileURLWithPath: CommandLine.arguments[0])
        return bundle.deletingLastPathComponent().appendingPathComponent("shielddiff").path
    }

    public struct Missing: Error, CustomStringConvertible {
        public let description: String
    }

    /// `path`, or a test failure (never a skip) saying how to build it.
    public static func checked() throws -> String {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            let message = "no shielddiff binary at \(path): build it first with "
                + "`swift build -c release --build-tests` (or set SHIELDDIFF_BIN)"
            XCTFail(message)
            throw Missing(description: message)
        }
        return path
    }

    /// Runs `shielddiff arguments…` to its end.
    public static func run(_ arguments: [String], in folder: URL? = nil) throws -> CommandResult {
        try Command.run(URL(fileURLWithPath: try checked()), arguments, in: folder)
    }
}
