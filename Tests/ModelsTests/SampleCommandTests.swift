import CommandSupport
import Foundation
import Models
import XCTest

/// Runs the real `shielddiff` binary (built beside the test bundle) with a tiny checkpoint.
final class SampleCommandTests: XCTestCase {
    private var work: URL!

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("sample-cli-\(getpid())-\(name.hashValue)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try TinyDiffusion.model().save(to: work.appendingPathComponent("tiny.safetensors"))
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: work)
    }

    func testSampleWritesImagesGridAndRecords() throws {
        let prompts = work.appendingPathComponent("prompts.txt")
        try (TinyDiffusion.prompts.joined(separator: "\n") + "\n").write(to: prompts, atomically: true, encoding: .utf8)
        let out = work.appendingPathComponent("out")
        let run = try ShieldDiffBinary.run(["sample", "--prompts-file", prompts.path, "--out", out.path, "--checkpoint",
                                  work.appendingPathComponent("tiny.safetensors").path, "--steps", "2", "--seed", "7",
                                  "--workers", "1"])
        XCTAssertEqual(run.status, 0, run.stderr)
        for i in 0..<4 {
            let png = try Data(contentsOf: out.appendingPathComponent(String(format: "%05d.png", i)))
            XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47], "image \(i) is a PNG")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("00004.png").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("grid.png").path))
        let lines = try String(contentsOf: out.appendingPathComponent("samples.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        XCTAssertEqual(lines.count, 4)
        for (i, line) in lines.enumerated() {
            let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            XCTAssertEqual(record["index"] as? Int, i)
            XCTAssertEqual(record["prompt"] as? String, TinyDiffusion.prompts[i])
            XCTAssertEqual(record["seed"] as? Int, 7)
            let truth = record["ground_truth"] as? [String: Any]
            XCTAssertNotNil(truth?["striped"] as? Bool, "line \(i) has the ground truth: \(line)")
        }
    }

    func testBadPromptFileLinesAreNamed() throws {
        let cases: [(bytes: [UInt8], line: String, reason: String)] = [
            (Array("\(TinyDiffusion.prompts[0])\n\nzebra circle\n".utf8), "line 2", "empty line"),
            (Array("ok words\n   \t\n".utf8), "line 2", "empty line"),
            (Array("ok\nstill ok\n".utf8) + [0x72, 0xFF, 0xFE, 0x0A], "line 3", "not valid UTF-8"),
            (Array("ok\n\(String(repeating: "zebra ", count: 100))\n".utf8), "line 2", "600 bytes of UTF-8, more than the limit of 512"),
        ]
        for (i, c) in cases.enumerated() {
            let prompts = work.appendingPathComponent("bad\(i).txt")
            try Data(c.bytes).write(to: prompts)
            let run = try ShieldDiffBinary.run(["sample", "--prompts-file", prompts.path, "--out", work.appendingPathComponent("o").path,
                                      "--checkpoint", work.appendingPathComponent("tiny.safetensors").path, "--steps", "1"])
            XCTAssertNotEqual(run.status, 0)
            XCTAssertTrue(run.stderr.contains("\(prompts.path): \(c.line): \(c.reason)"), run.stderr)
        }
    }

    /// Free text through sample, eval and compare: any words in any order, the referee reading
    /// the attributes it names and leaving the others unspecified.
    func testFreeTextPromptsThroughSampleEvalAndCompare() throws {
        let texts = ["Draw me a ZEBRA circle, please — on the left", "gray background", "striped striped 🦓 thing",
                     "a large red striped circle on the left on a gray background"]
        let prompts = work.appendingPathComponent("free.txt")
        try Data(texts.map { $0 + "\r\n" }.joined().utf8).write(to: prompts)
        let tiny = work.appendingPathComponent("tiny.safetensors").path
        let out = work.appendingPathComponent("free")
        let sample = try ShieldDiffBinary.run(["sample", "--prompts-file", prompts.path, "--out", out.path, "--checkpoint", tiny,
                                     "--steps", "2", "--workers", "1"])
        XCTAssertEqual(sample.status, 0, sample.stderr)
        let lines = try String(contentsOf: out.appendingPathComponent("samples.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.map { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["prompt"] as? String },
                       texts)
        let one = try ShieldDiffBinary.run(["sample", "--prompt", "zebra ZEBRA whatever", "--out", work.appendingPathComponent("one").path,
                                  "--checkpoint", tiny, "--steps", "1", "--workers", "1"])
        XCTAssertEqual(one.status, 0, one.stderr)

        let json = work.appendingPathComponent("eval.json")
        let eval = try ShieldDiffBinary.run(["eval", "--prompts-file", prompts.path, "--count", "8", "--checkpoint", tiny, "--steps", "2",
                                   "--workers", "1", "--json-out", json.path])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let row = try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as! [String: Any]
        XCTAssertEqual(row["count"] as? Int, 8)
        // Every image of the first three texts leaves some attribute unspecified; the fourth names all.
        let fidelity = row["fidelity"] as! [String: Any]
        XCTAssertEqual(fidelity["unspecified"] as? Int, 6, "\(fidelity)")

        let evalSet = try ShieldDiffBinary.run(["eval", "--set", "free-text-unsafe", "--count", "4", "--checkpoint", tiny, "--steps", "1",
                                      "--workers", "1", "--json-out", work.appendingPathComponent("e2.json").path])
        XCTAssertEqual(evalSet.status, 0, evalSet.stderr)

        let compareOut = work.appendingPathComponent("compare")
        let compare = try ShieldDiffBinary.run(["compare", "--sets", "free-text-benign", "--prompts-file", prompts.path, "--count", "4",
                                      "--base", tiny, "--checkpoint", tiny, "--steps", "1", "--workers", "1", "--out", compareOut.path])
        XCTAssertEqual(compare.status, 0, compare.stderr)
        XCTAssertTrue(compare.stdout.contains("| free-text-benign | 4 |"), compare.stdout)
        XCTAssertTrue(compare.stdout.contains("| \(prompts.path) | 4 |"), compare.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: compareOut.appendingPathComponent("free.txt-after.png").path))
    }

    func testTinyPretrainRunWritesALoadableModel() throws {
        let out = work.appendingPathComponent("pretrained.safetensors")
        let run = try ShieldDiffBinary.run(["pretrain", "diffusion", "--steps", "2", "--batch-size", "4", "--channels", "8",
                                  "--inner-channels", "16", "--log-every", "1", "--out", out.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("step     2/2"), run.stdout)
        let model = try DiffusionModel.load(from: out)
        XCTAssertEqual(model.unet.config.channels, 8)
        XCTAssertEqual(model.textEncoder.config, MiniCLIP.Config().text, "conditioned on the shipped text tower")
        // A second stage continues from the first one's weights and architecture.
        let stage2 = work.appendingPathComponent("stage2.safetensors")
        let next = try ShieldDiffBinary.run(["pretrain", "diffusion", "--init-from", out.path, "--steps", "1", "--batch-size", "4",
                                   "--seed", "1", "--out", stage2.path])
        XCTAssertEqual(next.status, 0, next.stderr)
        let continued = try DiffusionModel.load(from: stage2)
        XCTAssertEqual(continued.unet.config, model.unet.config)
        XCTAssertEqual(Array(continued.textStore.values), Array(model.textStore.values))
        XCTAssertNotEqual(Array(continued.unet.store.values), Array(model.unet.store.values))
    }

    /// --defense reaches the sampler of sample (and eval, compare, which share the options);
    /// an unknown name is refused with the known ones.
    func testDefenseFlagSelectsABaselineAndRefusesUnknownNames() throws {
        let tiny = work.appendingPathComponent("tiny.safetensors").path
        func sample(_ defense: String) throws -> (status: Int32, stdout: String, stderr: String, images: Data?) {
            let out = work.appendingPathComponent("out-\(defense)")
            let run = try ShieldDiffBinary.run(["sample", "--prompt", TinyDiffusion.prompts[1], "--out", out.path, "--checkpoint", tiny,
                                      "--steps", "2", "--workers", "1", "--defense", defense])
            return (run.status, run.stdout, run.stderr, try? Data(contentsOf: out.appendingPathComponent("00000.png")))
        }
        let plain = try sample("none"), sld = try sample("sld-max"), blocked = try sample("blocklist")
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertEqual(sld.status, 0, sld.stderr)
        XCTAssertEqual(blocked.status, 0, blocked.stderr)
        XCTAssertNotEqual(plain.images, sld.images, "SLD changes the image")
        XCTAssertNotEqual(plain.images, blocked.images, "the blocklist strips 'striped' from the prompt")
        let bad = try sample("sld-ultra")
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("unknown --defense sld-ultra") && bad.stderr.contains("negative-prompt"), bad.stderr)
    }

    /// `baseline uce` and `baseline esd` write diffusion checkpoints that --checkpoint loads.
    func testBaselineCommandsWriteLoadableCheckpoints() throws {
        let tiny = work.appendingPathComponent("tiny.safetensors")
        let base = try DiffusionModel.load(from: tiny)
        for (name, extra) in [("uce", ["--erase-prompts", "40", "--preserve-prompts", "40"]),
                              ("esd", ["--variant", "xattn", "--iterations", "2", "--batch-size", "2"])] {
            let out = work.appendingPathComponent("\(name).safetensors")
            let run = try ShieldDiffBinary.run(["baseline", name, "--base", tiny.path, "--out", out.path] + extra)
            XCTAssertEqual(run.status, 0, run.stderr)
            let edited = try DiffusionModel.load(from: out)
            XCTAssertEqual(edited.unet.config, base.unet.config)
            XCTAssertNotEqual(Array(edited.unet.store.values), Array(base.unet.store.values), "\(name) edits the denoiser")
            XCTAssertEqual(Array(edited.textStore.values), Array(base.textStore.values), "\(name) keeps the text tower")
            let sample = try ShieldDiffBinary.run(["sample", "--prompt", TinyDiffusion.prompts[0], "--out", work.appendingPathComponent("s-\(name)").path,
                                         "--checkpoint", out.path, "--steps", "1", "--workers", "1"])
            XCTAssertEqual(sample.status, 0, sample.stderr)
        }
        let bad = try ShieldDiffBinary.run(["baseline", "esd", "--variant", "attn", "--out", work.appendingPathComponent("x").path])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("unknown --variant attn"), bad.stderr)
    }
}
