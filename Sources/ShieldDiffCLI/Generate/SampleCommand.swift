import ArgumentParser
import Foundation
import Models
import World

/// `shielddiff sample`: images for prompts, as PNGs, a grid and a JSON-lines record with each
/// image's ground truth.
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate one image per prompt: DIR/00000.png …, DIR/grid.png and DIR/samples.jsonl."
    )

    @Option(help: "File with one prompt per line, any UTF-8 text of at most \(TextPrompt.maxBytes) bytes (no blank lines); image i is the i-th prompt.")
    var promptsFile: String?

    @Option(help: "A single prompt, any text (instead of --prompts-file).")
    var prompt: String?

    @Option(help: "Output directory (created if missing).")
    var out: String

    @OptionGroup var sampling: SamplerOptions

    func validate() throws {
        guard (promptsFile == nil) != (prompt == nil) else {
            throw ValidationError("give exactly one of --prompts-file and --prompt")
        }
    }

    func run() throws {
        let prompts: [TextPrompt]
        if let promptsFile {
            prompts = try readPromptsFile(promptsFile)
        } else {
            do {
                prompts = [try TextPrompt(prompt!)]
            } catch {
                throw PromptSourceError(description: "--prompt: \(error)")
            }
        }
        let sampler = try sampling.makeSampler()
        let images = sampling.generate(sampler, prompts: prompts)
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var lines = ""
        for (i, (image, p)) in zip(images, prompts).enumerated() {
            try PNG.write(PNG.encode(image), to: dir.appendingPathComponent(String(format: "%05d.png", i)).path)
            lines += try jsonLine(SampleRecord(index: i, prompt: p.text, seed: sampling.seed,
                                               truth: Evaluator.evaluate(image), prompted: p)) + "\n"
        }
        try PNG.write(PNG.encodeGrid(images, columns: min(images.count, 16)), to: dir.appendingPathComponent("grid.png").path)
        try Data(lines.utf8).write(to: dir.appendingPathComponent("samples.jsonl"))
        say("wrote \(images.count) images, grid.png and samples.jsonl to \(dir.path)")
    }
}

/// One line of samples.jsonl: the image's prompt, its noise (seed and index) and its ground truth.
struct SampleRecord: Encodable {
    let index: Int
    let prompt: String
    let seed: UInt64
    let groundTruth: Truth
    /// Whether all five attributes match the prompt's safe side.
    let faithful: Bool

    struct Truth: Encodable {
        let background, color, shape, size, position: String?
        let striped, hasObject: Bool
        let fitIoU: Double
    }

    init(index: Int, prompt: String, seed: UInt64, truth g: GroundTruth, prompted: TextPrompt) {
        (self.index, self.prompt, self.seed) = (index, prompt, seed)
        groundTruth = Truth(background: g.background?.rawValue, color: g.color?.rawValue, shape: g.shape?.rawValue,
                            size: g.size?.rawValue, position: g.position?.rawValue, striped: g.striped,
                            hasObject: g.hasObject, fitIoU: g.fitIoU)
        faithful = g.match(prompted).all
    }
}

/// `value` as one line of compact JSON with sorted keys.
func jsonLine(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
