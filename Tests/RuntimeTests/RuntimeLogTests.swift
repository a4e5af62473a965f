import Foundation
import Logging
import Runtime
import XCTest

/// The roles' readable lines through swift-log: the line format, metadata, levels and the
/// rate limit, each test with its own in-memory handler (the global system is never bootstrapped).
final class RuntimeLogTests: XCTestCase {
    /// Lines written by a handler, in order.
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func append(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
    }

    private func log(_ label: String, _ lines: Lines) -> RuntimeLog {
        RuntimeLog(logger: Logger(label: label) { RuntimeLineHandler(label: $0, write: lines.append) })
    }

    func testLineFormatIsTheRolesOwn() {
        // 1_700_000_000.5 s after the epoch is 22:13:20.5 UTC.
        let date = Date(timeIntervalSince1970: 1_700_000_000.5)
        XCTAssertEqual(RuntimeLineHandler.line(label: "learner", message: "update 3 → v4: loss 0.1", at: date),
                       "[22:13:20.500 learner] update 3 → v4: loss 0.1\n")
        XCTAssertEqual(RuntimeLineHandler.line(label: "actor-2", message: "hi", metadata: ["b": "2", "a": "1"], at: date),
                       "[22:13:20.500 actor-2] hi a=1 b=2\n")
    }

    func testInfoWritesOneStampedLine() throws {
        let lines = Lines()
        log("reward-0", lines).info("welcomed by run r")
        XCTAssertEqual(lines.all.count, 1)
        let line = try XCTUnwrap(lines.all.first)
        XCTAssertNotNil(line.range(of: #"^\[\d\d:\d\d:\d\d\.\d\d\d reward-0\] welcomed by run r\n$"#, options: .regularExpression), line)
    }

    func testLevelsAndMetadataAreTheLoggersOwn() {
        let lines = Lines()
        var logger = Logger(label: "learner") { RuntimeLineHandler(label: $0, write: lines.append) }
        logger.debug("not shown at the default level")
        var copy = logger
        copy[metadataKey: "peer"] = "actor-1"
        copy.logLevel = .debug
        copy.debug("shown")
        logger.info("no metadata")
        XCTAssertEqual(lines.all.map { String($0.drop { $0 != "]" }) }, ["] shown peer=actor-1\n", "] no metadata\n"])
    }

    func testLimitedLinesAreRateLimitedPerKey() {
        let lines = Lines()
        let log = log("learner", lines)
        for i in 0..<5 { log.limited("bad", "dropped a message \(i)") }
        log.limited("other", "another key")
        XCTAssertEqual(lines.all.map { String($0.drop { $0 != "]" }) }, ["] dropped a message 0\n", "] another key\n"])
    }
}
