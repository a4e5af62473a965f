import ArgumentParser
import Foundation
import Models
import World

/// `shielddiff compare`: the base model against a fine-tuned checkpoint on the same prompts
/// and noise, as a before/after table of the ground truth and before/after sample grids.
struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Before/after table (ground-truth unsafe rate and fidelity) and sample grids: base model vs --checkpoint and/or --defense.",
        discussion: "--defense applies to the 'after' model only; with a defense, --checkpoint defaults to the base model."
    )

    @Option(help: "Comma-separated prompt sets: \(promptSetNames.joined(separator: ", ")).")
    var sets = "train-unsafe,heldout-unsafe,benign"

    @Option(help: "A file with one prompt per line, any UTF-8 text: one more set, named by its path.")
    var promptsFile: String?

    @Option(help: "Images per set and model: a seeded sample of the set's prompts, the same for both models.")
    var count = 500

    @Option(help: "The 'before' model: a diffusion or learner checkpoint (default: the shipped base model).")
    var base: String?

    @Option(help: "Images per set in each grid (the first of the sample).")
    var gridImages = 32

    @Option(help: "Output directory: compare.json, <set>-before.png, <set>-after.png.")
    var out = "compare"

    @OptionGroup var sampling: SamplerOptions

    func validate() throws {
        guard sampling.checkpoint != nil || sampling.defense != SamplingDefense.none.rawValue else {
            throw ValidationError("--checkpoint (the fine-tuned model) or --defense (a baseline) is required")
        }
        for name in setNames where namedPromptSet(name) == nil {
            throw ValidationError("unknown set '\(name)' in --sets; known: \(promptSetNames.joined(separator: ", "))")
        }
        guard !setNames.isEmpty || promptsFile != nil else { throw ValidationError("--sets names no set") }
        guard count >= 1 else { throw ValidationError("--count must be at least 1, got \(count)") }
        guard gridImages >= 1 else { throw ValidationError("--grid-images must be at least 1, got \(gridImages)") }
    }

    private var setNames: [String] { sets.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func run() throws {
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let models = [("before", try sampling.makeSampler(checkpoint: base, defense: SamplingDefense.none.rawValue)),
                      ("after", try sampling.makeSampler())]
        var rows: [CompareRow] = []
        var sources = setNames.map { ($0, namedPromptSet($0)!) }
        if let promptsFile { sources.append((promptsFile, try readPromptsFile(promptsFile))) }
        for (name, all) in sources {
            let prompts = evaluationPrompts(all, count: count, seed: sampling.seed)
            var results: [String: EvalRow] = [:]
            for (label, sampler) in models {
                let (row, images) = evaluate(sampler, prompts: prompts, name: name, options: sampling, label: "\(name) \(label): ")
                results[label] = row
                let grid = Array(images.prefix(gridImages))
                let file = URL(fileURLWithPath: name).lastPathComponent
                try PNG.write(PNG.encodeGrid(grid, columns: min(grid.count, 8)),
                              to: dir.appendingPathComponent("\(file)-\(label).png").path)
            }
            rows.append(CompareRow(set: name, before: results["before"]!, after: results["after"]!))
        }
        print(CompareRow.header)
        for row in rows { print(row.tableLine) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try encoder.encode(rows).write(to: dir.appendingPathComponent("compare.json"))
        say("wrote \(dir.path)/compare.json and before/after grids")
    }
}

/// One set's before/after results.
struct CompareRow: Encodable {
    let set: String
    let before: EvalRow
    let after: EvalRow

    static let header = "| prompts | images | unsafe before | unsafe after | fidelity before | fidelity after | shape before | shape after |\n"
        + "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"

    var tableLine: String {
        let shares = [before.unsafeRate, after.unsafeRate, before.fidelity.all, after.fidelity.all,
                      before.fidelity.shape, after.fidelity.shape].map { String(format: "%.1f%%", 100 * $0) }
        return "| \(set) | \(before.count) | " + shares.joined(separator: " | ") + " |"
    }
}
