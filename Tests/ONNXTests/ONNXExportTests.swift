import CommandSupport
import Foundation
import Models
import Numerics
import ONNX
import World
import XCTest

/// The exported ONNX models run in Python's onnxruntime give the Swift models' outputs within
/// 1e-5 on 1,000 images and prompts, and the reward computed from them (proto/python/
/// shielddiff_onnx.py) the Swift reward's within 1e-4.
final class ONNXExportTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Runs the three models and the reward in onnxruntime on the dumped inputs; prints the largest differences.
    static let script = #"""
        import json, sys
        try:
            import numpy as np
            import onnxruntime
            from shielddiff_onnx import RewardModels
        except ImportError as e:
            sys.exit(f"Python package {e.name!r} is missing: scripts/setup.sh installs onnxruntime and numpy")
        folder, data = sys.argv[1], sys.argv[2]
        meta = json.load(open(f"{data}/inputs.json"))
        n = len(meta["prompts"])
        images = np.fromfile(f"{data}/images.f32", dtype=np.float32).reshape(n, 3, 32, 32)
        swift = {k: np.fromfile(f"{data}/{k}.f32", dtype=np.float32) for k in ("logits", "unsafe", "image_embeds", "text_embeds", "rewards")}
        models = RewardModels(folder)
        logits, unsafe = models.detector.run(["logits", "unsafe"], {"images": images})
        out = {
            "logits": float(np.abs(logits - swift["logits"]).max()),
            "logits_relative": float((np.abs(logits - swift["logits"]) / np.maximum(1, np.abs(swift["logits"]))).max()),
            "logits_largest": float(np.abs(swift["logits"]).max()),
            "unsafe": float(np.abs(unsafe - swift["unsafe"]).max()),
            "image_embeds": float(np.abs(models.image_embeds(images).ravel() - swift["image_embeds"]).max()),
            "text_embeds": float(np.abs(models.text_embeds(meta["prompts"]).ravel() - swift["text_embeds"]).max()),
        }
        rewards, _, _ = models.score(images, meta["prompts"])
        out["rewards"] = float(np.abs(rewards - swift["rewards"]).max())
        out["count"] = n
        out["spread"] = {"unsafe": float(unsafe.std()), "rewards": float(rewards.std())}
        print(json.dumps(out))
        """#

    struct Differences: Decodable {
        let logits, logits_relative, logits_largest, unsafe, image_embeds, text_embeds, rewards: Double
        let count: Int
        let spread: [String: Double]
    }

    func testOnnxruntimeMatchesTheSwiftModelsOn1000ImagesAndPrompts() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let clip = try MiniCLIP.load(), detector = try UnsafeDetector.load()
        let (wAlign, wUnsafe) = (1.0, 2.5)
        try ONNXExport.write(clip: clip, detector: detector, wAlign: wAlign, wUnsafe: wUnsafe, to: folder.appendingPathComponent("models"))

        // The world's images and captions, a tenth of them noise images, and prompts of every length
        // including unknown words, so padding masks and the end-token pooling vary.
        var rng = RandomGenerator(seed: 10)
        var images: [Image] = [], prompts: [String] = []
        for i in 0..<1000 {
            let pair = DataDistribution.pair(seed: 7, index: i)
            if i % 10 == 9 {
                images.append(try Image(hwc: (0..<Image.valueCount).map { _ in rng.nextUniform(0, 1) }))
            } else {
                images.append(pair.image)
            }
            let words = pair.prompt.text.split(separator: " ")
            prompts.append(i % 7 == 6 ? words.prefix(1 + i % words.count).joined(separator: " ") + " zebra"
                                      : pair.prompt.text)
        }
        let batch = imageBatch(images)
        let logits = detector.logits(batch).data
        let unsafe = logits.map(sigmoid)
        let imageEmbeds = clip.imageEmbeddings(batch).data
        let tokenizer = Tokenizer(maxLength: TextEncoder.tokens)
        let textEmbeds = clip.textEmbeddings(prompts.map { tokenizer.encode($0) }).data
        let alignment = clip.alignment(images: batch, texts: prompts.map { tokenizer.encode($0) })
        let rewards = zip(alignment, unsafe).map { Float(wAlign) * $0 - Float(wUnsafe) * $1 }

        let data = folder.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        func dump(_ values: [Float], _ name: String) throws {
            try values.withUnsafeBytes { Data($0) }.write(to: data.appendingPathComponent("\(name).f32"))
        }
        try dump(batch.data, "images")
        try dump(logits, "logits")
        try dump(unsafe, "unsafe")
        try dump(imageEmbeds, "image_embeds")
        try dump(textEmbeds, "text_embeds")
        try dump(rewards, "rewards")
        try JSONEncoder().encode(["prompts": prompts]).write(to: data.appendingPathComponent("inputs.json"))

        let output = try Python.run(Self.script, [folder.appendingPathComponent("models").path, data.path])
        let found = try JSONDecoder().decode(Differences.self, from: Data(output.utf8))
        XCTAssertEqual(found.count, 1000)
        XCTAssertLessThan(found.unsafe, 1e-5)
        XCTAssertLessThan(found.image_embeds, 1e-5)
        XCTAssertLessThan(found.text_embeds, 1e-5)
        // Logits are unbounded (up to ~\(found.logits_largest)): 1e-5 relative to max(1, |logit|).
        XCTAssertLessThan(found.logits_relative, 1e-5)
        XCTAssertLessThan(found.rewards, 1e-4)
        // The inputs are not degenerate: the detector and the reward separate them.
        XCTAssertGreaterThan(found.spread["unsafe"] ?? 0, 0.1)
        XCTAssertGreaterThan(found.spread["rewards"] ?? 0, 0.1)
        print("onnx export differences: \(output)")
    }

    /// The manifest holds the Swift tokenizer's vocabulary and length and the reward weights.
    func testTheManifestHoldsTheTokenizerAndWeights() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try ONNXExport.write(clip: try MiniCLIP.load(), detector: try UnsafeDetector.load(), wAlign: 1, wUnsafe: 2, to: folder)
        let manifest = try JSONDecoder().decode(ONNXExport.Manifest.self,
                                          from: Data(contentsOf: folder.appendingPathComponent(ONNXExport.manifestFile)))
        XCTAssertEqual(manifest.tokenizer.vocabulary, Tokenizer().vocabulary)
        XCTAssertEqual(manifest.tokenizer.maxLength, TextEncoder.tokens)
        XCTAssertEqual([manifest.wAlign, manifest.wUnsafe], [1, 2])
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        XCTAssertEqual(files, ["clip_image.onnx", "clip_text.onnx", "detector.onnx", "shielddiff_onnx.json"])
    }
}
