import Foundation
import XCTest

/// scripts/check-proto.sh passes on the committed generated code and fails, naming the
/// file, on a copy with one byte changed.
final class CheckProtoScriptTests: XCTestCase {
    private let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private func runCheck(_ arguments: [String] = []) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [root.appendingPathComponent("scripts/check-proto.sh").path] + arguments
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let output = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// A temporary copy of Sources/CShieldProto with `edit` applied to its .pb-c.c text.
    private func modifiedCopy(_ edit: (String) -> String) throws -> URL {
        let copy = FileManager.default.temporaryDirectory
            .appendingPathComponent("check-proto-\(UUID().uuidString)/CShieldProto")
        try FileManager.default.createDirectory(at: copy.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: root.appendingPathComponent("Sources/CShieldProto"), to: copy)
        let source = copy.appendingPathComponent("shielddiff.pb-c.c")
        try edit(String(contentsOf: source, encoding: .utf8)).write(to: source, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(at: copy.deletingLastPathComponent()) }
        return copy
    }

    func testCommittedCodeIsUpToDate() throws {
        let result = try runCheck()
        XCTAssertEqual(result.status, 0, result.stderr)
    }

    func testOneChangedByteFails() throws {
        let copy = try modifiedCopy { text in
            let range = text.range(of: "shielddiff__v1__tensor__init")!
            return text.replacingCharacters(in: range, with: "shielddiff__v1__tensor__inix")
        }
        let result = try runCheck([copy.path])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("shielddiff.pb-c.c"), result.stderr)
    }

    func testChangedIncludeLineIsIgnored() throws {
        let copy = try modifiedCopy { text in
            text.replacingOccurrences(of: "#include \"shielddiff.pb-c.h\"", with: "#include <shielddiff.pb-c.h>")
        }
        let result = try runCheck([copy.path])
        XCTAssertEqual(result.status, 0, result.stderr)
    }
}
