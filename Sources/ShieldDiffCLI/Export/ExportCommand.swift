import ArgumentParser
import Foundation
import Models
import ONNX
import Runtime

/// `shielddiff export`: the project's models in other ecosystems' formats.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export models in other formats.",
        subcommands: [ExportONNX.self])
}

/// `shielddiff export onnx`: the unsafe detector and mini-CLIP's towers for onnxruntime.
struct ExportONNX: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "onnx",
        abstract: "Write the unsafe detector and both mini-CLIP towers as ONNX models, with a manifest.",
        discussion: """
            Writes detector.onnx (images → logits, unsafe), clip_image.onnx (images → image_embeds),
            clip_text.onnx (input_ids, attention_mask → text_embeds) and shielddiff_onnx.json (the
            tokenizer's vocabulary and the reward weights w_align, w_unsafe of the configuration).
            """)

    @Option(help: "Folder to write the files into (created if needed).") var out: String
    @Option(help: "Detector checkpoint (default: the shipped weights).") var detector: String?
    @Option(help: "Mini-CLIP checkpoint (default: the shipped weights).") var clip: String?
    @OptionGroup var options: RunOptions

    func validate() throws { try options.check() }

    func run() throws {
        let config = try options.resolve()
        let clipModel = try MiniCLIP.load(from: clip.map { URL(fileURLWithPath: $0) })
        let detectorModel = try UnsafeDetector.load(from: detector.map { URL(fileURLWithPath: $0) })
        let folder = URL(fileURLWithPath: out)
        do {
            try ONNXExport.write(clip: clipModel, detector: detectorModel, wAlign: config.hyperparameters.wAlign,
                                 wUnsafe: config.hyperparameters.wUnsafe, to: folder)
        } catch {
            throw RuntimeError("cannot write the ONNX export to \(folder.path): \(error.localizedDescription)")
        }
        print("export: wrote \(ONNXExport.detectorFile), \(ONNXExport.imageFile), \(ONNXExport.textFile), "
              + "\(ONNXExport.manifestFile) to \(folder.path)")
    }
}
