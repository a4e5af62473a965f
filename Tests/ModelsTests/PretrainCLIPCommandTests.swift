import CommandSupport
import Foundation
import Models
import XCTest

/// Runs the real `shielddiff pretrain clip` binary (built beside the test bundle) with tiny settings.
final class PretrainCLIPCommandTests: XCTestCase {
    /// Status and everything printed (stdout, then stderr).
    private func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let result = try ShieldDiffBinary.run(arguments)
        return (result.status, result.stdout + result.stderr)
    }

    func testATinyRunWritesLoadableWeightsAndReports() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("clip-cli-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: out) }
        let (status, output) = try run(["pretrain", "clip", "--steps", "2", "--batch-size", "4", "--log-every", "1",
                                        "--eval-renders", "4", "--out", out.path])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("step     2/2"), output)
        XCTAssertTrue(output.contains("ranking over 4 held-out renders"), output)
        XCTAssertEqual(try MiniCLIP.load(from: out).config, MiniCLIP.Config())
    }

    func testBadFlagsAreRejectedBeforeTraining() throws {
        for flags in [["--batch-size", "1"], ["--steps", "0"], ["--seed", "5", "--eval-seed", "5"]] {
            let (status, output) = try run(["pretrain", "clip"] + flags)
            XCTAssertNotEqual(status, 0, "\(flags) should be rejected")
            XCTAssertTrue(output.contains("Error:"), output)
            XCTAssertFalse(output.contains("parameters,"), "\(flags) started training: \(output)")
        }
    }
}
