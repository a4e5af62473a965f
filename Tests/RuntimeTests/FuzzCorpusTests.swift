import Checkpoint
import Foundation
import Runtime
import World
import XCTest

/// The committed seeds and kept crash inputs of the safetensors, config, prompt and allowlist
/// fuzz targets (Tests/Fuzz/Corpus, Tests/Fuzz/Regressions), replayed through each target's
/// invariant without the sanitizers. (The Envelope target's are in WireTests.)
final class FuzzCorpusTests: XCTestCase {
    private static let fuzz = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz")

    /// The seeds (at least one) and regressions of `target`, as bytes with their paths.
    private func inputs(_ target: String) throws -> [(String, [UInt8])] {
        var found: [(String, [UInt8])] = []
        for folder in ["Corpus", "Regressions"] {
            let url = Self.fuzz.appendingPathComponent("\(folder)/\(target)")
            for file in try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)
                where !file.lastPathComponent.hasPrefix(".") {
                found.append((file.path, [UInt8](try Data(contentsOf: file))))
            }
        }
        XCTAssertFalse(found.filter { $0.0.contains("/Corpus/") }.isEmpty, "\(target) has no seeds")
        return found
    }

    func testSafeTensorsInputsRoundTrip() throws {
        var decoded = 0
        for (path, bytes) in try inputs("FuzzSafeTensors") {
            guard let file = try? SafeTensorsFile(bytes: bytes) else { continue }
            decoded += 1
            let encoded = try file.encoded()
            XCTAssertEqual(try SafeTensorsFile(bytes: encoded).encoded(), encoded, path)
        }
        XCTAssertGreaterThan(decoded, 0)
    }

    func testConfigInputsRoundTrip() throws {
        var decoded = 0
        for (path, bytes) in try inputs("FuzzConfig") {
            guard let config = try? RunConfig.parsing(yaml: String(decoding: bytes, as: UTF8.self), source: path) else { continue }
            decoded += 1
            XCTAssertEqual(try RunConfig.parsing(yaml: config.renderedYAML()), config, path)
        }
        XCTAssertGreaterThan(decoded, 0)
    }

    /// The FuzzConfig crash (Yams' recursion overflowed the stack on deeply nested flow
    /// collections) and its kin are refused with the line before YAML parsing.
    func testDeepNestingIsRefusedWithItsLine() throws {
        let kept = Self.fuzz.appendingPathComponent("Regressions/FuzzConfig/stack-overflow-nested-flow.yaml")
        let cases: [(String, String)] = [
            (String(decoding: try Data(contentsOf: kept), as: UTF8.self), "kept:1: more than 16 nested [ or {"),
            ("actors: " + String(repeating: "[", count: 100_000), "kept:1: more than 16 nested [ or {"),
            ("a:\n" + String(repeating: " ", count: 65) + "b: 1\n", "kept:2: indented more than 64 columns"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try RunConfig.parsing(yaml: text, source: "kept")) { error in
                XCTAssertEqual("\(error)", expected)
            }
        }
        XCTAssertEqual(try RunConfig.parsing(yaml: "endpoints: {control: \"tcp://127.0.0.1:1\"}\n").endpoints.control, "tcp://127.0.0.1:1")
    }

    func testPromptInputsParseToThemselves() throws {
        var decoded = 0
        for (path, bytes) in try inputs("FuzzPrompt") {
            let text = String(decoding: bytes, as: UTF8.self)
            if let prompt = try? Prompt(parsing: text) {
                decoded += 1
                XCTAssertEqual(prompt.text, text, path)
            }
            if let prompts = try? PromptFile.parse(bytes) {
                XCTAssertEqual(try PromptFile.parse(PromptFile.format(prompts.map(\.text))), prompts, path)
            }
        }
        XCTAssertGreaterThan(decoded, 0)
    }

    func testAllowlistInputsRoundTrip() throws {
        var decoded = 0
        for (path, bytes) in try inputs("FuzzAllowlist") {
            guard let allowlist = try? Allowlist.parsing(String(decoding: bytes, as: UTF8.self), source: path) else { continue }
            decoded += 1
            XCTAssertEqual(try Allowlist.parsing(allowlist.rendered, source: "rendered"), allowlist, path)
        }
        XCTAssertGreaterThan(decoded, 0)
    }
}
