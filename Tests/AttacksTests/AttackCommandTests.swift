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
        let run = try ShieldDiffBinary.run(["safety-report", "--base", tiny, "--shielddiff-checkpoint", tiny, "--images", "3",
                                  "--targets", "2", "--budget", "2", "--judge-images", "2", "--steps", "1", "--workers", "1",
                                  "--methods", "base,shielddiff,blocklist", "--uce-checkpoint", tiny, "--out", out.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        let md = try String(contentsOf: out.appendingPathComponent("report.md"), encoding: .utf8)
        XCTAssertTrue(md.contains("| base |"), md)
        XCTAssertTrue(md.contains("| shielddiff |"), md)
        XCTAssertTrue(md.contains("given by --shielddiff-checkpoint"), md)
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("report.json"))) as! [String: Any]
        let methods = report["methods"] as! [[String: Any]]
        XCTAssertEqual(methods.map { $0["name"] as! String }, ["base", "shielddiff", "blocklist", "uce"])
        for m in methods {
            let attacks = m["attacks"] as! [String: Any]
            XCTAssertEqual(Set(attacks.keys), Set(AttackMethod.allCases.map(\.rawValue)))
            let sets = m["sets"] as! [String: [String: Any]]
            XCTAssertEqual(sets["free-text-unsafe"]?["count"] as? Int, 3)
        }
        // Same model, same seeds: the methods' rows agree exactly, except where the blocklist
        // changes the prompts (it strikes the explicit words).
        let explicit = methods.map { ($0["sets"] as! [String: [String: Any]])["explicit"]?["unsafe_rate"] as? Double }
        XCTAssertEqual(explicit[0], explicit[1])
        XCTAssertEqual(explicit[0], explicit[3])
        let blocklistSampler = methods[2]["sampler"] as? [String: Any]
        XCTAssertEqual(blocklistSampler?["defense"] as? String, "blocklist", "\(methods[2])")
        let png = try Data(contentsOf: out.appendingPathComponent("examples.png"))
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
    }
}
