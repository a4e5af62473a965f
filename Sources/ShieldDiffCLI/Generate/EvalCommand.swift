import ArgumentParser
import Foundation
import Models
import Numerics
import World

/// `shielddiff eval`: the ground-truth unsafe rate and fidelity of the model on a prompt set.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ground-truth unsafe rate and fidelity (all five attributes, and each) on a prompt set or file."
    )

    @Option(help: "Prompt set: \(promptSetNames.joined(separator: ", ")).")
    var set: String?

    @Option(help: "File with one prompt per line, any UTF-8 text (instead of --set).")
    var promptsFile: String?

    @Option(help: "Images to generate: a seeded sample of the prompts without replacement (cycling when larger than the set).")
    var count = 500

    @Option(help: "Where to write the table as JSON.")
    var jsonOut = "eval.json"

    @OptionGroup var sampling: SamplerOptions

    func validate() throws {
        guard (set == nil) != (promptsFile == nil) else { throw ValidationError("give exactly one of --set and --prompts-file") }
        if let set, namedPromptSet(set) == nil {
            throw ValidationError("unknown --set \(set); known: \(promptSetNames.joined(separator: ", "))")
        }
        guard count >= 1 else { throw ValidationError("--count must be at least 1, got \(count)") }
    }

    func run() throws {
        let name = set ?? promptsFile!
        let all = try set.map { namedPromptSet($0)! } ?? readPromptsFile(promptsFile!)
        let prompts = evaluationPrompts(all, count: count, seed: sampling.seed)
        let (row, _) = evaluate(try sampling.makeSampler(), prompts: prompts, name: name, options: sampling)
        print(EvalRow.header)
        print(row.tableLine)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try encoder.encode(row).write(to: URL(fileURLWithPath: jsonOut))
        say("wrote \(jsonOut)")
    }
}

/// Samples `prompts` with `sampler` (progress on stderr, prefixed by `label`) and scores the
/// images against the ground truth; returns the table row and the images.
func evaluate(_ sampler: Sampler, prompts: [TextPrompt], name: String, options: SamplerOptions,
              label: String = "") -> (EvalRow, [Image]) {
    let start = Date()
    let bar = ProgressBar(label.isEmpty ? name : String(label.dropLast(2)))
    bar.update(fraction: 0, counts: "0/\(prompts.count) images")
    let images = options.generate(sampler, prompts: prompts) { done in
        let rate = Double(done) / Date().timeIntervalSince(start)
        // On a terminal the bar, and one line at the end; elsewhere a line per batch.
        if ProgressBar.isShown && done < prompts.count {
            bar.update(fraction: Double(done) / Double(prompts.count), counts: "\(done)/\(prompts.count) images",
                       detail: String(format: "%.1f images/s", rate), force: true)
        } else {
            bar.finish()
            say(String(format: "%@%d/%d images  %.1f images/s", label, done, prompts.count, rate))
        }
    }
    let truths = images.map(Evaluator.evaluate)
    let row = EvalRow(name: name, count: prompts.count, unsafeRate: WorldMetrics.unsafeRate(truths),
                      fidelity: WorldMetrics.fidelity(truths, prompts: prompts), sampler: sampler.config,
                      seed: options.seed)
    return (row, images)
}

/// `count` prompts drawn from `all` by a seeded shuffle (without replacement; a count above
/// the set's size cycles through further shuffles), so a subset covers every slot of the
/// grammar evenly in expectation instead of the set's first styles only.
func evaluationPrompts<P>(_ all: [P], count: Int, seed: UInt64) -> [P] {
    var rng = RandomGenerator(seed: seed).split(0xE7A1)
    var out: [P] = []
    while out.count < count {
        var pool = all
        for i in stride(from: pool.count - 1, to: 0, by: -1) { pool.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        out += pool.prefix(count - out.count)
    }
    return out
}

/// One row of the evaluation table.
struct EvalRow: Codable {
    let name: String
    let count: Int
    let unsafeRate: Double
    let fidelity: FidelityShares
    let sampler: SamplerConfig
    let seed: UInt64

    struct FidelityShares: Codable {
        let all, background, color, shape, size, position: Double
        /// Images whose prompt left some attribute unspecified (counted as kept).
        let unspecified: Int
    }

    init(name: String, count: Int, unsafeRate: Double, fidelity f: Fidelity, sampler: SamplerConfig, seed: UInt64) {
        (self.name, self.count, self.unsafeRate, self.sampler, self.seed) = (name, count, unsafeRate, sampler, seed)
        fidelity = FidelityShares(all: f.all, background: f.background, color: f.color, shape: f.shape, size: f.size,
                                  position: f.position, unspecified: f.unspecified)
    }

    static let header = "| prompts | images | unsafe | fidelity (all 5) | background | color | shape | size | position |\n"
        + "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"

    var tableLine: String {
        let f = fidelity
        let shares = [unsafeRate, f.all, f.background, f.color, f.shape, f.size, f.position]
            .map { String(format: "%.1f%%", 100 * $0) }
        return "| \(name) | \(count) | " + shares.joined(separator: " | ") + " |"
    }
}
