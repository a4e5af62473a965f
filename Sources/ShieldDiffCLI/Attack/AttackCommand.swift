import ArgumentParser
import Attacks
import Checkpoint
import Foundation
import Models
import Numerics
import World

extension AttackMethod: ExpressibleByArgument {}

/// The attack options `attack` and `safety-report` share: targets, budget, judge.
struct AttackOptions: ParsableArguments {
    @Option(help: "Prompt set the unsafe targets are drawn from (a seeded sample): \(promptSetNames.joined(separator: ", ")).")
    var targetSet = "heldout-unsafe"

    @Option(help: "Number of targets.")
    var targets = 25

    @Option(help: "Budget per target in the attack's unit (default: the attack's own; see --help of each method).")
    var budget: Int?

    @Option(help: "Images the judge samples of each final prompt on fresh seeds (ASR's denominator is targets × this).")
    var judgeImages = 8

    @Option(help: "η: strength of the concept vector (ring-a-bell, embedding-injection).")
    var eta: Float = 3

    @Flag(help: "Keep the explicit words (striped, banded, zebra, stripes, bands) out of the attack's prompts.")
    var avoidExplicit = false

    func validate() throws {
        guard namedPromptSet(targetSet) != nil else {
            throw ValidationError("unknown --target-set \(targetSet); known: \(promptSetNames.joined(separator: ", "))")
        }
        guard targets >= 1 else { throw ValidationError("--targets must be at least 1, got \(targets)") }
        if let budget, budget < 0 { throw ValidationError("--budget must be ≥ 0, got \(budget)") }
        guard judgeImages >= 1 else { throw ValidationError("--judge-images must be at least 1, got \(judgeImages)") }
        guard eta.isFinite else { throw ValidationError("--eta must be finite, got \(eta)") }
    }

    /// The seeded targets.
    func targetPrompts(seed: UInt64) -> [TextPrompt] {
        evaluationPrompts(namedPromptSet(targetSet)!, count: targets, seed: seed ^ 0x7A6E)
    }

    func settings(_ method: AttackMethod, seed: UInt64) -> AttackSettings {
        AttackSettings(seed: seed, budget: budget ?? method.budgetMeaning.defaultValue, avoidExplicit: avoidExplicit, eta: eta)
    }
}

/// `shielddiff attack METHOD`: one attack against one model, judged by the ground truth.
struct Attack: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Attack a model (--checkpoint, default the shipped one) and measure ASR by the world's ground truth.",
        discussion: AttackMethod.allCases.map { "\($0.rawValue): budget = \($0.budgetMeaning.unit), default \($0.budgetMeaning.defaultValue)" }
            .joined(separator: "\n")
    )

    @Argument(help: "The attack: \(AttackMethod.allCases.map(\.rawValue).joined(separator: ", ")).")
    var method: AttackMethod

    @OptionGroup var attack: AttackOptions

    @Option(help: "Output directory: prompts.txt (or embeddings.safetensors), attack.json, target-NNN.png, grid.png.")
    var out = "attack"

    @OptionGroup var sampling: SamplerOptions

    func run() throws {
        let defended = try sampling.makeSampler()
        let base = try DiffusionModel.load()
        let detector = try UnsafeDetector.load()
        let (result, _, _) = try runAttack(method, options: attack, defended: defended, base: base, detector: detector,
                                   seed: sampling.seed, out: URL(fileURLWithPath: out))
        say(String(format: "%@: ASR %.1f%% (%d images, ground truth, fresh seeds); %.1f s", method.rawValue,
                   100 * result.successRate, result.images, result.seconds))
        say("wrote \(out)/attack.json, its prompts and images")
    }
}

/// One attack's measured result.
struct AttackReport: Codable {
    let method: String
    let successRate: Double
    let images: Int
    let seconds: Double
    let budget: Int
    let budgetUnit: String
    let avoidExplicit: Bool
    let targets: [TargetResult]

    struct TargetResult: Codable {
        let target: String
        let adversarialPrompt: String?
        let spent: Int
        let detectorScore: Float?
        let unsafeShare: Double
        let fidelity: Double
    }
}

/// Runs `method` (or judges `reusing`, outcomes it already produced on the same targets),
/// prints one line per target, writes its files under `out`; returns the report, the first
/// target's judged images (at most 8) and the outcomes.
func runAttack(_ method: AttackMethod, options: AttackOptions, defended: Sampler, base: DiffusionModel,
               detector: UnsafeDetector, seed: UInt64, out: URL, log: Bool = true,
               reusing: [AttackOutcome]? = nil) throws -> (AttackReport, [Image], [AttackOutcome]) {
    try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
    let start = Date()
    let targets = options.targetPrompts(seed: seed)
    let settings = options.settings(method, seed: seed)
    let outcomes = reusing ?? AttackRunner.run(method, targets: targets, defended: defended, base: base, detector: detector,
                                               settings: settings)
    let verdicts = AttackJudge.judge(outcomes, sampler: defended, imagesPerTarget: options.judgeImages, seed: seed)
    let seconds = Date().timeIntervalSince(start)
    var rows: [AttackReport.TargetResult] = []
    var embeddings: [String: Tensor] = [:]
    for (i, v) in verdicts.enumerated() {
        let o = v.outcome
        rows.append(.init(target: o.target.text, adversarialPrompt: o.adversary.text, spent: o.spent,
                          detectorScore: o.detectorScore, unsafeShare: v.unsafeShare, fidelity: v.fidelity))
        if case let .encoding(e) = o.adversary {
            embeddings[String(format: "target%03d.tokens", i)] = e.tokens
            embeddings[String(format: "target%03d.pooled", i)] = e.pooled
        }
        try PNG.write(PNG.encodeGrid(v.images, columns: min(v.images.count, 8)),
                      to: out.appendingPathComponent(String(format: "target-%03d.png", i)).path)
        if log {
            let score = o.detectorScore.map { String(format: "%.2f", $0) } ?? "–"
            say(String(format: "%@ target %d: %@ → %@ | spent %d | detector %@ | ground truth unsafe %d/%d | fidelity %.0f%%",
                       method.rawValue, i, o.target.text, o.adversary.text.map { "\"\($0)\"" } ?? "(encoding + η·concept)",
                       o.spent, score, v.truths.filter(\.striped).count, v.truths.count, 100 * v.fidelity))
        }
    }
    if embeddings.isEmpty {
        try Data(PromptFile.format(rows.map { $0.adversarialPrompt! }).utf8).write(to: out.appendingPathComponent("prompts.txt"))
    } else {
        try SafeTensorsFile(tensors: embeddings, metadata: ["eta": "\(settings.eta)", "method": method.rawValue])
            .write(to: out.appendingPathComponent("embeddings.safetensors"))
    }
    let all = verdicts.flatMap(\.images)
    try PNG.write(PNG.encodeGrid(Array(all.prefix(64)), columns: 8), to: out.appendingPathComponent("grid.png").path)
    let report = AttackReport(method: method.rawValue, successRate: AttackJudge.successRate(verdicts), images: all.count,
                              seconds: seconds, budget: settings.budget, budgetUnit: method.budgetMeaning.unit,
                              avoidExplicit: settings.avoidExplicit, targets: rows)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    try encoder.encode(report).write(to: out.appendingPathComponent("attack.json"))
    return (report, Array(verdicts[0].images.prefix(8)), outcomes)
}
