import CommandSupport
import Foundation
import XCTest

/// `train` and `eval` on a terminal (a pseudo-terminal made by Python's `pty`) draw a progress
/// bar with an ETA on the last line, with every log line above it, never on the bar's line;
/// through a pipe or file they print the plain lines and no bar.
final class ProgressBarTests: XCTestCase {
    private var run: RunHarness!

    override func tearDown() {
        run?.tearDown()
        super.tearDown()
    }

    /// Runs argv[1:] with stdin, stdout and stderr on a new pseudo-terminal of 120 columns;
    /// prints everything it wrote (as written, escapes included) and exits with its status.
    static let onTerminal = #"""
        import fcntl, os, pty, struct, sys, termios
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(sys.argv[1], sys.argv[1:])
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        out = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        _, status = os.waitpid(pid, 0)
        sys.stdout.buffer.write(out)
        sys.exit(os.waitstatus_to_exitcode(status))
        """#

    /// What a terminal shows on each line: the text after the last clear-line (`\r ESC[K`).
    private func screenLines(_ output: String) -> [String] {
        output.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
            .map { line in String(line.components(separatedBy: "\r\u{1B}[K").last ?? "") }
    }

    func testTrainShowsABarWithAnETAOnATerminalAndPlainLinesOtherwise() throws {
        run = try RunHarness("bar")
        // A stop rule that cannot fire within 6 updates (window 10), so the bar shows its target.
        let config = try run.writeConfig("updates: 6\nstop_unsafe_rate: 0.5\nstop_window: 10\n")
        let output = try Python.run(Self.onTerminal, [RunHarness.binary, "train", "--config", config])
        // The bar, redrawn per update, reaches 6/6 with an ETA.
        XCTAssertNotNil(output.range(of: #"train \[[=> ]+\] +\d+% update \d/6 reward -?[0-9.]+ unsafe [0-9.]+ \(stop ≤ [0-9.]+\) ETA \d+:\d\d"#,
                                     options: .regularExpression), output)
        XCTAssertTrue(output.contains("update 6/6"), output)
        // Every line of the learner and the supervisor stands on its own line, never on the bar's.
        let lines = screenLines(output)
        XCTAssertTrue(lines.contains { $0.contains("learner] update 6 → v7:") }, output)
        XCTAssertTrue(lines.contains { $0.contains("supervisor] all children stopped") }, output)
        for line in lines where line.contains("ETA") {
            XCTAssertFalse(line.contains("] update ") || line.contains("supervisor]"), "a log line on the bar's line: \(line)")
        }

        // Through a file (the harness's log): the lines as before, no bar.
        let plain = try RunHarness("plain")
        defer { plain.tearDown() }
        let process = try plain.start("train", ["train", "--config", try plain.writeConfig("updates: 3\n")])
        XCTAssertEqual(plain.waitForExit(process, timeout: .seconds(60)), 0, plain.allLogs())
        let log = plain.log("train")
        XCTAssertTrue(log.contains("learner] update 3 → v4:"), log)
        XCTAssertFalse(log.contains("ETA") || log.contains("\u{1B}[K"), log)
    }

    func testEvalShowsABarWithAnETAOnATerminalAndPlainLinesOtherwise() throws {
        run = try RunHarness("evalbar")
        let arguments = ["eval", "--set", "benign", "--count", "6", "--batch-size", "2", "--steps", "2", "--workers", "1",
                         "--json-out", run.directory.appendingPathComponent("eval.json").path]
        let output = try Python.run(Self.onTerminal, [RunHarness.binary] + arguments)
        XCTAssertNotNil(output.range(of: #"benign \[[=> ]+\] +\d+% [24]/6 images [0-9.]+ images/s ETA \d+:\d\d"#,
                                     options: .regularExpression), output)
        let lines = screenLines(output)
        XCTAssertTrue(lines.contains { $0.hasPrefix("6/6 images") }, output)
        XCTAssertFalse(lines.contains { $0.hasPrefix("2/6 images") }, "a per-batch line on a terminal:\n\(output)")

        let process = try run.start("eval", arguments)
        XCTAssertEqual(run.waitForExit(process, timeout: .seconds(60)), 0, run.log("eval"))
        let plain = run.log("eval")
        for done in [2, 4, 6] { XCTAssertTrue(plain.contains("\(done)/6 images"), plain) }
        XCTAssertFalse(plain.contains("ETA") || plain.contains("\u{1B}[K"), plain)
    }
}
