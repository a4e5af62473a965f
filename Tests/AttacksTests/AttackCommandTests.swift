import Attacks
import CommandSupport
import Foundation
import Models
import Numerics
import World
import XCTest

/// Every attack and the safety report through the real `shielddiff` binary, on a tiny model.
final class AttackCommandTests: XCTestCase {
    private var work: URL!
    private var tiny: String { work.appendingPathComponent("tiny.safetensors").path }

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("attack-cli-\(getpid())-\(name.hashValue)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try AttackGradientTests.tinyModel().save(to: URL(fileURLWithPath: tiny))
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: work)
    }

    func testEveryAttackPrintsPerTargetResultsAndWritesItsPrompts() throws {
        for method in AttackMethod.allCases {
            let out = work.appendingPathComponent(method.rawValue)
            let run = try ShieldDiffBinary.run(["attack", method.rawValue, "--checkpoint", tiny, "--targets", "2", "--budget", "4",
                                      "--judge-images", "3", "--steps", "1", "--workers", "1", "--out", out.path])
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertTrue(run.stdout.contains("\(method.rawValue) target 0: "), run.stdout)
            XCTAssertTrue(run.stdout.contains("\(method.rawValue) target 1: "), run.stdout)
            XCTAssertTrue(run.stdout.contains("(6 images, ground truth, fresh seeds)"), run.stdout)
            let report = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("attack.json"))) as! [String: Any]
            let targets = report["targets"] as! [[String: Any]]
            XCTAssertEqual(targets.count, 2)
            let shares = targets.map { $0["unsafe_share"] as! Double }
            XCTAssertEqual(report["success_rate"] as! Double, shares.reduce(0, +) / 2, accuracy: 1e-12)
            for i in 0..<2 { XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(String(format: "target-%03d.png", i)).path)) }
            if method == .embeddingInjection {
                XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("embeddings.safetensors").path))
            } else {
                // The adversarial prompts are a prompt file `eval --prompts-file` reads back.
                let prompts = try PromptFile.parse(Data(contentsOf: out.appendingPathComponent("prompts.txt")))
                XCTAssertEqual(prompts.map(\.text), targets.map { $0["adversarial_prompt"] as! String })
            }
        }
        let bad = try ShieldDiffBinary.run(["attack", "no-such", "--checkpoint", tiny])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("no-such"), bad.stderr)
    }

    func testAvoidExplicitKeepsTheExplicitWordsOut() throws {
        let out = work.appendingPathComponent("avoid")
        let run = try ShieldDiffBinary.run(["attack", "query-search", "--checkpoint", tiny, "--targets", "3", "--target-set", "explicit",
                                  "--budget", "10", "--judge-images", "1", "--steps", "1", "--workers", "1", "--avoid-explicit",
                                  "--out", out.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        for p in try PromptFile.parse(Data(contentsOf: out.appendingPathComponent("prompts.txt"))) {
            XCTAssertFalse(p.isExplicit, p.text)
        }
    }

    /// The judge samples each final prompt on its own seeds through the defended sampler and
    /// counts what the ground truth finds striped.
    func testJudgeUsesFreshSeedsAndTheGroundTruth() {
        let model = AttackGradientTests.tinyModel()
        let sampler = Sampler(model: model, config: SamplerConfig(steps: 1, guidance: 2, eta: 1))
        let target = TextPrompt(PromptSet.explicit.prompts[7])
        let outcome = AttackOutcome(target: target, adversary: .text("zebra zebra circle"), spent: 0, detectorScore: nil)
        let verdicts = AttackJudge.judge([outcome, outcome], sampler: sampler, imagesPerTarget: 2, seed: 5)
        XCTAssertNotEqual(AttackJudge.judgeSeed(5), 5)
        // The same batch from the judge's seeds, images 0 ..< 4 (target 1's are 2 and 3).
        let again = sampler.sample(prompts: [String](repeating: "zebra zebra circle", count: 4),
                                   noise: Sampler.noise(seed: AttackJudge.judgeSeed(5), firstIndex: 0, count: 4))
        XCTAssertEqual(verdicts.flatMap(\.images).map(\.pixels), again.images.map(\.pixels))
        XCTAssertEqual(verdicts[1].truths, verdicts[1].images.map(Evaluator.evaluate))
        XCTAssertNotEqual(verdicts[0].images[0].pixels, verdicts[1].images[0].pixels, "each target has its own seeds")
    }

    func testSmallSafetyReport() throws {
        let out = work.appendingPathComponent("report")
        let run = try ShieldDiffBinary.run(["safety-report", "--base", tiny, "--images", "3",
                                  "--targets", "2", "--budget", "2", "--judge-images", "2", "--steps", "1", "--workers", "1",
                                  "--methods", "base,blocklist", "--method", "shielddiff=\(tiny)", "--method", "uce=\(tiny)",
                                  "--out", out.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        let md = try String(contentsOf: out.appendingPathComponent("report.md"), encoding: .utf8)
        XCTAssertTrue(md.contains("| base |"), md)
        XCTAssertTrue(md.contains("| shielddiff |"), md)
        XCTAssertTrue(md.contains("shielddiff `\(tiny)`"), md)
        let report = try readReport(out)
        let methods = report["methods"] as! [[String: Any]]
        XCTAssertEqual(methods.map { $0["name"] as! String }, ["base", "blocklist", "shielddiff", "uce"])
        XCTAssertEqual(report["cells_done"] as? Int, 4 * (6 + AttackMethod.allCases.count))
        for m in methods {
            let attacks = m["attacks"] as! [String: Any]
            XCTAssertEqual(Set(attacks.keys), Set(AttackMethod.allCases.map(\.rawValue)))
            let sets = m["sets"] as! [String: [String: Any]]
            XCTAssertEqual(sets["free-text-unsafe"]?["count"] as? Int, 3)
            XCTAssertEqual(m["pending"] as? [String], [])
        }
        // Same model, same seeds: the methods' rows agree exactly, except where the blocklist
        // changes the prompts (it strikes the explicit words).
        let explicit = methods.map { ($0["sets"] as! [String: [String: Any]])["explicit"]?["unsafe_rate"] as? Double }
        XCTAssertEqual(explicit[0], explicit[2])
        XCTAssertEqual(explicit[0], explicit[3])
        let blocklistSampler = methods[1]["sampler"] as? [String: Any]
        XCTAssertEqual(blocklistSampler?["defense"] as? String, "blocklist", "\(methods[1])")
        let png = try Data(contentsOf: out.appendingPathComponent("examples.png"))
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
    }

    /// A second run reuses every finished cell; a cell file edited by hand, or whose inputs
    /// changed, is recomputed and the report says why; a method added later is computed alone.
    func testSafetyReportResumesPerCell() throws {
        let out = work.appendingPathComponent("resume")
        func report(_ extra: [String] = [], images: String = "3") throws -> [String: Any] {
            let run = try ShieldDiffBinary.run(["safety-report", "--base", tiny, "--images", images, "--targets", "2", "--budget", "2",
                                      "--judge-images", "2", "--steps", "1", "--workers", "1", "--methods", "base",
                                      "--method", "tuned=\(tiny)", "--attacks", "ring-a-bell,p4d", "--out", out.path] + extra)
            XCTAssertEqual(run.status, 0, run.stderr)
            return try readReport(out)
        }
        func cells(_ report: [String: Any], _ method: String) -> [String: [String: Any]] {
            (report["methods"] as! [[String: Any]]).first { $0["name"] as? String == method }!["cells"] as! [String: [String: Any]]
        }
        func results(_ report: [String: Any]) -> String {
            let methods = report["methods"] as! [[String: Any]]
            let kept = methods.map { ["sets": $0["sets"]!, "attacks": $0["attacks"]!] }
            return String(decoding: try! JSONSerialization.data(withJSONObject: kept, options: [.sortedKeys]), as: UTF8.self)
        }
        let first = try report()
        XCTAssertEqual(first["cells_done"] as? Int, 16)
        XCTAssertEqual(first["cells_reused"] as? Int, 0)

        let second = try report()
        XCTAssertEqual(second["cells_reused"] as? Int, 16)
        XCTAssertEqual(results(second), results(first))
        XCTAssertEqual(cells(second, "tuned")["p4d"]?["seconds"] as? Double, cells(first, "tuned")["p4d"]?["seconds"] as? Double,
                       "a reused cell reports the wall time of the run that computed it")
        XCTAssertTrue(try String(contentsOf: out.appendingPathComponent("report.md"), encoding: .utf8).contains("16 of 16 cells done (16 reused)"))

        // Edit a number by hand: the digest no longer matches, so the cell is recomputed.
        let edited = out.appendingPathComponent("cells/tuned/explicit.json")
        var text = try String(contentsOf: edited, encoding: .utf8)
        let rate = try XCTUnwrap(text.range(of: #""unsafe_rate":[0-9.e-]+"#, options: .regularExpression))
        text.replaceSubrange(rate, with: #""unsafe_rate":0.123"#)
        try text.write(to: edited, atomically: true, encoding: .utf8)
        let third = try report()
        XCTAssertEqual(third["cells_reused"] as? Int, 15)
        XCTAssertEqual(cells(third, "tuned")["explicit"]?["reused"] as? Bool, false)
        XCTAssertTrue((cells(third, "tuned")["explicit"]?["recomputed_because"] as? String)?.contains("damaged") == true, "\(third)")
        XCTAssertEqual(results(third), results(first), "the recomputed cell gives the first run's result again")
        // A file that is not even JSON is recomputed too.
        try Data("garbage".utf8).write(to: out.appendingPathComponent("cells/base/p4d.json"))

        // More images and one more method: the prompt-set cells and the new method's cells are
        // computed, the attack cells of the others reused.
        let fourth = try report(["--method", "other=\(tiny)"], images: "4")
        XCTAssertEqual(fourth["cells_done"] as? Int, 24)
        XCTAssertEqual(fourth["cells_reused"] as? Int, 3, "tuned's two attacks and base's ring-a-bell")
        for method in ["base", "tuned"] {
            XCTAssertEqual(cells(fourth, method)["benign"]?["reused"] as? Bool, false)
            XCTAssertEqual(cells(fourth, method)["benign"]?["recomputed_because"] as? String, "inputs changed: images")
        }
        XCTAssertTrue((cells(fourth, "base")["p4d"]?["recomputed_because"] as? String)?.contains("damaged") == true)
        XCTAssertEqual(cells(fourth, "tuned")["p4d"]?["reused"] as? Bool, true)
        XCTAssertNil(cells(fourth, "other")["p4d"]?["recomputed_because"] as? String)
        XCTAssertEqual(cells(fourth, "other")["p4d"]?["reused"] as? Bool, false)
    }

    func testBadMethodArgumentsAreRefusedByName() throws {
        let cases: [(String, String)] = [
            ("shielddiff", "expected NAME=PATH"),
            ("base=\(tiny)", "'base' is a built-in method"),
            ("Bad Name=\(tiny)", "the name 'Bad Name' must be"),
            ("tuned=", "no PATH after '='"),
            ("tuned=/no/such/file.safetensors", "no checkpoint file at /no/such/file.safetensors"),
        ]
        for (value, message) in cases {
            let run = try ShieldDiffBinary.run(["safety-report", "--method", value, "--out", work.appendingPathComponent("bad").path])
            XCTAssertNotEqual(run.status, 0, value)
            XCTAssertTrue(run.stderr.contains(message), "\(value): \(run.stderr)")
        }
        let twice = try ShieldDiffBinary.run(["safety-report", "--method", "a=\(tiny)", "--method", "a=\(tiny)"])
        XCTAssertTrue(twice.stderr.contains("method 'a' is named twice"), twice.stderr)
        let broken = work.appendingPathComponent("broken.safetensors")
        try Data("not a checkpoint".utf8).write(to: broken)
        let load = try ShieldDiffBinary.run(["safety-report", "--methods", "base", "--method", "b=\(broken.path)", "--images", "1",
                                   "--out", work.appendingPathComponent("broken").path])
        XCTAssertNotEqual(load.status, 0)
        XCTAssertTrue(load.stderr.contains(broken.path), load.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: work.appendingPathComponent("broken/cells").path),
                       "nothing is computed before every model has loaded")
    }

    private func readReport(_ out: URL) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("report.json"))) as! [String: Any]
    }
}

