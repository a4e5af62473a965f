import ArgumentParser
import Attacks
import FineTuning
import Foundation
import Models
import Numerics
import World

/// One method of the safety report: what is sampled (a checkpoint, nil = the shipped model)
/// and how (a sampler config, which carries any sampling-mode defence).
struct ReportMethod {
    let name: String
    let checkpoint: String?
    let sampler: SamplerConfig
}

/// `shielddiff safety-report`: every method × every prompt set and attack at fixed seeds and
/// budgets, judged by the world's ground truth: report.md, report.json, examples.png.
struct SafetyReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "safety-report",
        abstract: "Unsafe rate, removal rate, benign fidelity and ASR of every attack, per method: Markdown, JSON and a PNG page."
    )

    @Option(help: "The ShieldDiff fine-tuned checkpoint; default: train one now with `shielddiff train` (the main job) in OUT/train.")
    var shielddiffCheckpoint: String?

    @Option(help: "The base model (default: the shipped one).")
    var base: String?

    @Option(help: "Images per prompt-set cell (unsafe and benign rates).")
    var images = 200

    @Option(help: "Comma-separated methods: base, shielddiff, and the inference-time baselines \(Self.defenses.map(\.rawValue).joined(separator: ", ")) (default: all of these; ESD and UCE join with their checkpoint flags).")
    var methods = (["base", "shielddiff"] + Self.defenses.map(\.rawValue)).joined(separator: ",")

    @Option(help: "An ESD checkpoint (cross-attention variant, `shielddiff baseline esd --variant xattn`) to report as esd-xattn.")
    var esdXattnCheckpoint: String?

    @Option(help: "An ESD checkpoint (full variant, `shielddiff baseline esd --variant full`) to report as esd-full.")
    var esdFullCheckpoint: String?

    @Option(help: "A UCE checkpoint (`shielddiff baseline uce`) to report as uce.")
    var uceCheckpoint: String?

    @Option(help: "Comma-separated attacks to run (default: all).")
    var attacks = AttackMethod.allCases.map(\.rawValue).joined(separator: ",")

    @Option(help: "Output directory.")
    var out = "safety-report"

    @OptionGroup var attack: AttackOptions
    @OptionGroup var sampling: SamplerOptions

    /// The sampling-mode baselines, each run on the base model.
    static let defenses = SamplingDefense.allCases.filter { $0 != .none }

    static let unsafeSets = ["explicit", "implicit", "heldout-unsafe", "free-text-unsafe"]
    static let benignSets = ["benign", "free-text-benign"]

    func validate() throws {
        guard images >= 1 else { throw ValidationError("--images must be at least 1, got \(images)") }
        for name in attackNames where AttackMethod(rawValue: name) == nil {
            throw ValidationError("unknown attack '\(name)' in --attacks; known: \(AttackMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let known = ["base", "shielddiff"] + Self.defenses.map(\.rawValue)
        for name in methodNames where !known.contains(name) {
            throw ValidationError("unknown method '\(name)' in --methods; known: \(known.joined(separator: ", "))")
        }
        guard sampling.checkpoint == nil else {
            throw ValidationError("--checkpoint is not used here: give --shielddiff-checkpoint (and --base for the base model)")
        }
    }

    private var attackNames: [String] { attacks.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    private var methodNames: [String] { methods.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }

    /// The methods, in table order: those `--methods` names, then the baseline checkpoints given.
    func reportMethods(shielddiff: String) -> [ReportMethod] {
        let config = SamplerConfig(steps: sampling.steps, guidance: sampling.guidance, eta: sampling.eta)
        var all = [ReportMethod(name: "base", checkpoint: base, sampler: config),
                   ReportMethod(name: "shielddiff", checkpoint: shielddiff, sampler: config)]
        for defense in Self.defenses {
            var defended = config
            defended.defense = defense
            all.append(ReportMethod(name: defense.rawValue, checkpoint: base, sampler: defended))
        }
        var chosen = all.filter { methodNames.contains($0.name) }
        for (name, path) in [("esd-xattn", esdXattnCheckpoint), ("esd-full", esdFullCheckpoint), ("uce", uceCheckpoint)] {
            if let path { chosen.append(ReportMethod(name: name, checkpoint: path, sampler: config)) }
        }
        return chosen
    }

    func run() throws {
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let started = Date()
        let (checkpoint, provenance) = try shielddiffCheckpoint.map { ($0, "given by --shielddiff-checkpoint") } ?? trainShieldDiff(dir)
        say("shielddiff checkpoint: \(checkpoint) (\(provenance))")
        let baseModel = try FineTunedModel.load(from: base.map { URL(fileURLWithPath: $0) })
        let detector = try UnsafeDetector.load()
        var results: [MethodResult] = []
        var examples: [Image] = []
        var rows: [String] = []
        // Ring-A-Bell reads only the text encoder: methods with the same text tower share its
        // prompts (each method's own images still judge them).
        var ringABell: (text: [Float], outcomes: [AttackOutcome])?
        for method in reportMethods(shielddiff: checkpoint) {
            let t0 = Date()
            let sampler = Sampler(model: try FineTunedModel.load(from: method.checkpoint.map { URL(fileURLWithPath: $0) }),
                                  config: method.sampler, workers: sampling.workers)
            var sets: [String: EvalRow] = [:]
            for name in Self.unsafeSets + Self.benignSets {
                let prompts = evaluationPrompts(namedPromptSet(name)!, count: images, seed: sampling.seed)
                let (row, imgs) = evaluate(sampler, prompts: prompts, name: name, options: sampling, label: "\(method.name) \(name): ")
                sets[name] = row
                examples += imgs.prefix(8)
                rows.append("\(method.name) / \(name)")
            }
            var attackResults: [String: AttackReport] = [:]
            for name in attackNames {
                let kind = AttackMethod(rawValue: name)!
                let text = Array(sampler.model.textStore.values)
                let reuse = kind == .ringABell && ringABell?.text == text ? ringABell?.outcomes : nil
                let (report, judged, outcomes) = try runAttack(kind, options: attack, defended: sampler, base: baseModel,
                                                               detector: detector, seed: sampling.seed,
                                                               out: dir.appendingPathComponent("\(method.name)/\(name)"), log: false,
                                                               reusing: reuse)
                if kind == .ringABell { ringABell = (text, outcomes) }
                say(String(format: "%@ %@: ASR %.1f%% (%d images) in %.1f s", method.name, name, 100 * report.successRate,
                           report.images, report.seconds))
                attackResults[name] = report
                examples += judged
                rows.append("\(method.name) / \(name) (target 0's judged images)")
            }
            results.append(MethodResult(name: method.name, checkpoint: method.checkpoint, sampler: method.sampler, sets: sets,
                                        attacks: attackResults, seconds: Date().timeIntervalSince(t0)))
        }
        let report = Report(shielddiffCheckpoint: checkpoint, shielddiffProvenance: provenance, imagesPerSet: images,
                            targets: attack.targets, judgeImagesPerTarget: attack.judgeImages, seed: sampling.seed,
                            avoidExplicit: attack.avoidExplicit, methods: results, totalSeconds: Date().timeIntervalSince(started),
                            examplesRows: rows)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try encoder.encode(report).write(to: dir.appendingPathComponent("report.json"))
        let markdown = report.markdown(unsafeSets: Self.unsafeSets, benignSets: Self.benignSets, attacks: attackNames)
        try Data(markdown.utf8).write(to: dir.appendingPathComponent("report.md"))
        try PNG.write(PNG.encodeGrid(examples, columns: 8), to: dir.appendingPathComponent("examples.png").path)
        print(markdown)
        say("wrote \(dir.path)/report.md, report.json, examples.png")
    }

    /// Runs the main job (`shielddiff train --run-dir OUT/train`) and returns its newest checkpoint.
    private func trainShieldDiff(_ dir: URL) throws -> (String, String) {
        let runDir = dir.appendingPathComponent("train")
        let start = Date()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                                    ?? CommandLine.arguments[0])
        process.arguments = ["train", "--run-dir", runDir.path, "--seed", "\(sampling.seed)"]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PromptSourceError(description: "the ShieldDiff fine-tuning (shielddiff train --run-dir \(runDir.path)) failed with status \(process.terminationStatus)")
        }
        let folder = runDir.appendingPathComponent("checkpoints")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".safetensors") }.sorted()
        guard let newest = files.last else { throw PromptSourceError(description: "the fine-tuning left no checkpoint in \(folder.path)") }
        return (folder.appendingPathComponent(newest).path,
                String(format: "trained by this report: shielddiff train --run-dir %@ --seed %llu, %.0f s", runDir.path, sampling.seed,
                       Date().timeIntervalSince(start)))
    }
}

/// One method's row of the report.
struct MethodResult: Encodable {
    let name: String
    let checkpoint: String?
    let sampler: SamplerConfig
    let sets: [String: EvalRow]
    let attacks: [String: AttackReport]
    let seconds: Double
}

/// The whole report, as written to report.json.
struct Report: Encodable {
    let shielddiffCheckpoint: String
    let shielddiffProvenance: String
    let imagesPerSet: Int
    let targets: Int
    let judgeImagesPerTarget: Int
    let seed: UInt64
    let avoidExplicit: Bool
    let methods: [MethodResult]
    let totalSeconds: Double
    /// What each 8-image row of examples.png shows, top to bottom.
    let examplesRows: [String]

    func markdown(unsafeSets: [String], benignSets: [String], attacks: [String]) -> String {
        func pct(_ x: Double?) -> String { x.map { String(format: "%.1f%%", 100 * $0) } ?? "–" }
        let base = methods.first
        var md = "# Safety report\n\n"
        md += "ShieldDiff checkpoint: `\(shielddiffCheckpoint)` (\(shielddiffProvenance)). Seed \(seed); \(imagesPerSet) images per prompt set; "
        md += "\(targets) attack targets × \(judgeImagesPerTarget) judged images = \(targets * judgeImagesPerTarget) images per attack cell"
        md += avoidExplicit ? " (attacks kept explicit words out).\n\n" : ".\n\n"
        md += "Every rate is the world's pixel ground truth; ASR is judged on fresh seeds, never by the detector the attacks saw.\n\n"
        md += "## Unsafe rate (removal rate against `\(base?.name ?? "base")`, same prompts and seeds)\n\n"
        md += "| method | " + unsafeSets.joined(separator: " | ") + " | wall time |\n|---|" + String(repeating: "---:|", count: unsafeSets.count + 1) + "\n"
        for m in methods {
            let cells = unsafeSets.map { s -> String in
                let u = m.sets[s]!.unsafeRate
                let removal = base.flatMap { WorldMetrics.removalRate(unsafeRateBefore: $0.sets[s]!.unsafeRate, after: u) }
                return m.name == base?.name ? pct(u) : "\(pct(u)) (removal \(pct(removal)))"
            }
            md += "| \(m.name) | " + cells.joined(separator: " | ") + String(format: " | %.0f s |\n", m.seconds)
        }
        md += "\n## Benign fidelity (all five attributes, then each)\n\n"
        md += "| method | set | all | background | color | shape | size | position | unsafe |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
        for m in methods {
            for s in benignSets {
                let r = m.sets[s]!, f = r.fidelity
                md += "| \(m.name) | \(s) | " + [f.all, f.background, f.color, f.shape, f.size, f.position, r.unsafeRate].map(pct).joined(separator: " | ") + " |\n"
            }
        }
        md += "\n## Attack success rate (ground truth, fresh seeds)\n\n"
        md += "| method | " + attacks.joined(separator: " | ") + " |\n|---|" + String(repeating: "---:|", count: attacks.count) + "\n"
        for m in methods {
            md += "| \(m.name) | " + attacks.map { a in m.attacks[a].map { pct($0.successRate) } ?? "–" }.joined(separator: " | ") + " |\n"
        }
        md += "\nRing-A-Bell's prompts depend only on the text encoder, so a method whose text tower equals an earlier one's "
            + "reuses them (judged on its own images). "
        md += "Budgets per target: " + attacks.compactMap { a in
            methods.first?.attacks[a].map { "\(a) \($0.budget) (\($0.budgetUnit))" }
        }.joined(separator: "; ") + ".\n"
        md += String(format: "\nTotal wall time %.0f s. examples.png: one row of 8 images per line below, top to bottom.\n\n", totalSeconds)
        md += examplesRows.enumerated().map { "\($0.offset + 1). \($0.element)" }.joined(separator: "\n") + "\n"
        return md
    }
}
