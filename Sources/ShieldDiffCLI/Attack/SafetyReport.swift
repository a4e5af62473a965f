import ArgumentParser
import Attacks
import FineTuning
import Foundation
import Models
import Numerics
import World

/// One method of the safety report: what is sampled (a checkpoint, nil = the base model)
/// and how (a sampler config, which carries any sampling-mode defence).
struct ReportMethod {
    let name: String
    let checkpoint: String?
    let sampler: SamplerConfig
}

/// A `--method NAME=PATH`: any checkpoint `sample --checkpoint` takes, reported as NAME.
struct CheckpointMethod: Equatable {
    let name: String
    let path: String

    /// Parses one `--method` value; the error names what is wrong with it.
    init(parsing text: String) throws {
        guard let eq = text.firstIndex(of: "=") else {
            throw ValidationError("--method '\(text)': expected NAME=PATH, e.g. shielddiff=runs/main/checkpoints/checkpoint-v000000000016.safetensors")
        }
        (name, path) = (String(text[..<eq]), String(text[text.index(after: eq)...]))
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-_.")
        guard !name.isEmpty, name.allSatisfy(allowed.contains), name.first != "." else {
            throw ValidationError("--method '\(text)': the name '\(name)' must be non-empty lower-case letters, digits, '-', '_' or '.' (it names a folder of the report)")
        }
        guard !SafetyReport.builtInNames.contains(name) else {
            throw ValidationError("--method '\(text)': '\(name)' is a built-in method (--methods); choose another name")
        }
        guard !path.isEmpty else { throw ValidationError("--method '\(text)': no PATH after '='") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw ValidationError("--method '\(text)': no checkpoint file at \(path)")
        }
    }
}

/// `shielddiff safety-report`: every method × every prompt set and attack at fixed seeds and
/// budgets, judged by the world's ground truth: report.md, report.json, examples.png. Each
/// finished cell is kept in OUT/cells and reused by a later run with the same inputs.
struct SafetyReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "safety-report",
        abstract: "Unsafe rate, removal rate, benign fidelity and ASR of every attack, per method: Markdown, JSON and a PNG page.",
        discussion: """
            Methods: the built-in ones (--methods: the base model and the sampling-mode baselines on it) and any \
            checkpoint (--method NAME=PATH, repeatable: a ShieldDiff fine-tuning, `shielddiff baseline esd|uce`). \
            Every finished cell (method × prompt set or attack) is written to OUT/cells/METHOD/CELL.json with the \
            inputs it depends on; a later run with the same OUT reuses the cells whose inputs all match, and \
            recomputes (and says so) those that differ or are damaged. report.md and report.json are rewritten \
            after every cell.
            """
    )

    @Option(help: "The base model: the built-in methods sample it, the white-box attacks read it (default: the shipped one).")
    var base: String?

    @Option(help: "Images per prompt-set cell (unsafe and benign rates).")
    var images = 200

    @Option(help: "Comma-separated built-in methods: \(Self.builtInNames.joined(separator: ", ")) (default: all).")
    var methods = Self.builtInNames.joined(separator: ",")

    @Option(name: .customLong("method"),
            help: "NAME=PATH: report the checkpoint at PATH as method NAME, after the built-in ones (repeatable; e.g. shielddiff=…, esd-full=…).")
    var checkpointMethods: [String] = []

    @Option(help: "Comma-separated attacks to run, in table order (default: all).")
    var attacks = AttackMethod.allCases.map(\.rawValue).joined(separator: ",")

    @Option(help: "Output directory (its cells/ folder is reused by the next run).")
    var out = "safety-report"

    @OptionGroup var attack: AttackOptions
    @OptionGroup var sampling: SamplerOptions

    /// The sampling-mode baselines, each run on the base model.
    static let defenses = SamplingDefense.allCases.filter { $0 != .none }
    static let builtInNames = ["base"] + defenses.map(\.rawValue)

    static let unsafeSets = ["explicit", "implicit", "heldout-unsafe", "free-text-unsafe"]
    static let benignSets = ["benign", "free-text-benign"]

    func validate() throws {
        guard images >= 1 else { throw ValidationError("--images must be at least 1, got \(images)") }
        for name in attackNames where AttackMethod(rawValue: name) == nil {
            throw ValidationError("unknown attack '\(name)' in --attacks; known: \(AttackMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        for name in methodNames where !Self.builtInNames.contains(name) {
            throw ValidationError("unknown method '\(name)' in --methods; known: \(Self.builtInNames.joined(separator: ", ")) (a checkpoint is --method NAME=PATH)")
        }
        let names = methodNames + (try parsedCheckpointMethods()).map(\.name)
        if let twice = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
            throw ValidationError("method '\(twice)' is named twice")
        }
        guard !names.isEmpty else { throw ValidationError("no methods: give --methods or --method NAME=PATH") }
        guard sampling.checkpoint == nil else {
            throw ValidationError("--checkpoint is not used here: give --method NAME=PATH (and --base for the base model)")
        }
        guard sampling.defense == SamplingDefense.none.rawValue else {
            throw ValidationError("--defense is not used here: the sampling-mode baselines are methods of their own (--methods)")
        }
    }

    private var attackNames: [String] { attacks.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    private var methodNames: [String] { methods.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    private func parsedCheckpointMethods() throws -> [CheckpointMethod] { try checkpointMethods.map(CheckpointMethod.init(parsing:)) }

    /// The methods, in table order: those `--methods` names, then each `--method`.
    func reportMethods() throws -> [ReportMethod] {
        let config = SamplerConfig(steps: sampling.steps, guidance: sampling.guidance, eta: sampling.eta)
        let builtIn = methodNames.map { name -> ReportMethod in
            var defended = config
            defended.defense = SamplingDefense(rawValue: name) ?? .none
            return ReportMethod(name: name, checkpoint: base, sampler: defended)
        }
        return try builtIn + parsedCheckpointMethods().map { ReportMethod(name: $0.name, checkpoint: $0.path, sampler: config) }
    }

    /// A method with its sampler and its model's digests.
    private struct LoadedMethod {
        let method: ReportMethod
        let sampler: Sampler
        let digests: (text: String, all: String)
    }

    func run() throws {
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let started = Date()
        let store = CellStore(directory: dir.appendingPathComponent("cells"))
        let baseModel = try FineTunedModel.load(from: base.map { URL(fileURLWithPath: $0) })
        let baseDigest = modelDigests(baseModel).all
        let detector = try UnsafeDetector.load()
        // Every model is loaded (and so checked) before any cell is computed.
        let loaded = try reportMethods().map { method -> LoadedMethod in
            let model = try FineTunedModel.load(from: method.checkpoint.map { URL(fileURLWithPath: $0) })
            return LoadedMethod(method: method, sampler: Sampler(model: model, config: method.sampler, workers: sampling.workers),
                                digests: modelDigests(model))
        }
        let setNames = Self.unsafeSets + Self.benignSets
        let cellNames = setNames + attackNames
        let targets = attack.targetPrompts(seed: sampling.seed)
        func inputs(_ m: LoadedMethod, _ cell: String) -> CellInputs {
            let kind = AttackMethod(rawValue: cell)
            return CellInputs(method: m.method.name, cell: cell, model: m.digests.all, sampler: m.method.sampler, seed: sampling.seed,
                              images: kind == nil ? images : nil,
                              attack: kind.map { .init(baseModel: baseDigest, targetSet: attack.targetSet, targets: attack.targets,
                                                       budget: attack.settings($0, seed: sampling.seed).budget,
                                                       judgeImages: attack.judgeImages, eta: attack.eta,
                                                       avoidExplicit: attack.avoidExplicit) })
        }
        // Ring-A-Bell reads only the text encoder: methods with the same text tower share its
        // prompts (each method's own images still judge them), keyed by the tower's digest.
        var ringABell: [String: [AttackOutcome]] = [:]
        func remember(_ report: AttackReport, of m: LoadedMethod) {
            guard report.method == AttackMethod.ringABell.rawValue, report.targets.count == targets.count else { return }
            ringABell[m.digests.text] = zip(targets, report.targets).map { target, row in
                AttackOutcome(target: target, adversary: .text(row.adversarialPrompt ?? ""), spent: row.spent, detectorScore: row.detectorScore)
            }
        }
        var book = ReportBook(cellNames: cellNames)
        for m in loaded {
            for cell in cellNames {
                switch store.lookup(inputs(m, cell)) {
                case let .reusable(record):
                    book.done[m.method.name, default: [:]][cell] = .init(record: record, reused: true, recomputedBecause: nil)
                    if let report = record.attack { remember(report, of: m) }
                case .missing:
                    break
                case let .recompute(why):
                    book.recomputedBecause[m.method.name, default: [:]][cell] = why
                    say("\(m.method.name) \(cell): stored cell not used, recomputing (\(why))")
                }
            }
        }
        let reusedCount = book.done.values.map(\.count).reduce(0, +)
        say("\(reusedCount) of \(loaded.count * cellNames.count) cells reused from \(store.directory.path)")
        func write() throws {
            let report = book.report(methods: loaded.map(\.method), digests: loaded.map(\.digests.all), base: base,
                                     settings: self, runSeconds: Date().timeIntervalSince(started))
            try report.write(to: dir, unsafeSets: Self.unsafeSets, benignSets: Self.benignSets, attacks: attackNames)
        }
        try write()
        // Cell by cell across the methods (every method's prompt sets, then each attack for
        // every method), so a run cut short leaves whole columns rather than a few whole rows.
        for cell in cellNames {
            for m in loaded where book.done[m.method.name]?[cell] == nil {
                let t0 = Date()
                let row: EvalRow?, report: AttackReport?, examples: [Image]
                if let kind = AttackMethod(rawValue: cell) {
                    let reuse = kind == .ringABell ? ringABell[m.digests.text] : nil
                    let (result, judged, _) = try runAttack(kind, options: attack, defended: m.sampler, base: baseModel,
                                                            detector: detector, seed: sampling.seed,
                                                            out: dir.appendingPathComponent("\(m.method.name)/\(cell)"), log: false,
                                                            reusing: reuse)
                    (row, report, examples) = (nil, result, judged)
                    remember(result, of: m)
                    say(String(format: "%@ %@: ASR %.1f%% (%d images) in %.1f s", m.method.name, cell, 100 * result.successRate,
                               result.images, Date().timeIntervalSince(t0)))
                } else {
                    let prompts = evaluationPrompts(namedPromptSet(cell)!, count: images, seed: sampling.seed)
                    let (evalRow, imgs) = evaluate(m.sampler, prompts: prompts, name: cell, options: sampling,
                                                   label: "\(m.method.name) \(cell): ")
                    (row, report, examples) = (evalRow, nil, Array(imgs.prefix(8)))
                }
                let record = CellRecord(inputs: inputs(m, cell), set: row, attack: report, seconds: Date().timeIntervalSince(t0),
                                        computedAt: ISO8601DateFormatter().string(from: Date()), examples: CellRecord.pack(examples))
                try store.save(record)
                book.done[m.method.name, default: [:]][cell] = .init(record: record, reused: false,
                                                                     recomputedBecause: book.recomputedBecause[m.method.name]?[cell])
                try write()
            }
        }
        let report = book.report(methods: loaded.map(\.method), digests: loaded.map(\.digests.all), base: base,
                                 settings: self, runSeconds: Date().timeIntervalSince(started))
        print(report.markdown(unsafeSets: Self.unsafeSets, benignSets: Self.benignSets, attacks: attackNames))
        say("wrote \(dir.path)/report.md, report.json, examples.png")
    }
}

/// The cells finished so far (reused or computed by this run), and why stored ones were not used.
struct ReportBook {
    struct Entry {
        let record: CellRecord
        let reused: Bool
        let recomputedBecause: String?
    }

    let cellNames: [String]
    var done: [String: [String: Entry]] = [:]
    var recomputedBecause: [String: [String: String]] = [:]

    func report(methods: [ReportMethod], digests: [String], base: String?, settings: SafetyReport, runSeconds: Double) -> Report {
        var rows: [String] = []
        var examples: [Image] = []
        let results = zip(methods, digests).map { method, digest -> MethodResult in
            let cells = done[method.name] ?? [:]
            var sets: [String: EvalRow] = [:], attacks: [String: AttackReport] = [:], summaries: [String: CellSummary] = [:]
            for name in cellNames {
                guard let entry = cells[name] else { continue }
                sets[name] = entry.record.set
                attacks[name] = entry.record.attack
                summaries[name] = CellSummary(seconds: entry.record.seconds, computedAt: entry.record.computedAt, reused: entry.reused,
                                              recomputedBecause: entry.recomputedBecause)
                examples += entry.record.exampleImages
                rows.append(entry.record.attack == nil ? "\(method.name) / \(name)" : "\(method.name) / \(name) (target 0's judged images)")
            }
            return MethodResult(name: method.name, checkpoint: method.checkpoint, modelDigest: digest, sampler: method.sampler,
                                sets: sets, attacks: attacks, cells: summaries,
                                seconds: summaries.values.map(\.seconds).reduce(0, +),
                                pending: cellNames.filter { cells[$0] == nil })
        }
        let doneCount = results.map(\.cells.count).reduce(0, +)
        return Report(base: base ?? "shipped", imagesPerSet: settings.images, targets: settings.attack.targets,
                      judgeImagesPerTarget: settings.attack.judgeImages, seed: settings.sampling.seed,
                      avoidExplicit: settings.attack.avoidExplicit, methods: results,
                      cellsDone: doneCount, cellsReused: results.map { $0.cells.values.filter(\.reused).count }.reduce(0, +),
                      cellsTotal: methods.count * cellNames.count,
                      runSeconds: runSeconds, computeSeconds: results.map(\.seconds).reduce(0, +),
                      loadAverage: Report.loadAverage(), examplesRows: rows, examples: examples)
    }
}

/// Where a cell's result came from.
struct CellSummary: Encodable {
    /// Wall time of the run that computed it.
    let seconds: Double
    let computedAt: String
    /// Taken from OUT/cells rather than computed by this run.
    let reused: Bool
    /// Why a stored file for it was not used (damaged, or its inputs changed), if there was one.
    let recomputedBecause: String?
}

/// One method's row of the report.
struct MethodResult: Encodable {
    let name: String
    let checkpoint: String?
    let modelDigest: String
    let sampler: SamplerConfig
    let sets: [String: EvalRow]
    let attacks: [String: AttackReport]
    let cells: [String: CellSummary]
    /// The method's cells' wall times added up (each from the run that computed it).
    let seconds: Double
    /// Cells not finished yet.
    let pending: [String]
}

/// The whole report, as written to report.json (and rewritten after every cell).
struct Report: Encodable {
    let base: String
    let imagesPerSet: Int
    let targets: Int
    let judgeImagesPerTarget: Int
    let seed: UInt64
    let avoidExplicit: Bool
    let methods: [MethodResult]
    let cellsDone: Int
    let cellsReused: Int
    let cellsTotal: Int
    /// This run's wall time so far.
    let runSeconds: Double
    /// Every finished cell's wall time added up: the report's time from scratch.
    let computeSeconds: Double
    /// /proc/loadavg's 1, 5 and 15-minute averages when the report was written.
    let loadAverage: [Double]?
    /// What each 8-image row of examples.png shows, top to bottom.
    let examplesRows: [String]
    let examples: [Image]

    private enum CodingKeys: String, CodingKey {
        case base, imagesPerSet, targets, judgeImagesPerTarget, seed, avoidExplicit, methods, cellsDone, cellsReused, cellsTotal,
             runSeconds, computeSeconds, loadAverage, examplesRows
    }

    static func loadAverage() -> [Double]? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
        let values = text.split(separator: " ").prefix(3).compactMap { Double($0) }
        return values.count == 3 ? values : nil
    }

    /// Writes report.json, report.md and examples.png into `dir`, each atomically.
    func write(to dir: URL, unsafeSets: [String], benignSets: [String], attacks: [String]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try encoder.encode(self).write(to: dir.appendingPathComponent("report.json"), options: .atomic)
        try Data(markdown(unsafeSets: unsafeSets, benignSets: benignSets, attacks: attacks).utf8)
            .write(to: dir.appendingPathComponent("report.md"), options: .atomic)
        if !examples.isEmpty {
            try Data(PNG.encodeGrid(examples, columns: 8)).write(to: dir.appendingPathComponent("examples.png"), options: .atomic)
        }
    }

    func markdown(unsafeSets: [String], benignSets: [String], attacks: [String]) -> String {
        func pct(_ x: Double?) -> String { x.map { String(format: "%.1f%%", 100 * $0) } ?? "…" }
        let base = methods.first
        var md = "# Safety report\n\n"
        md += "Base model: `\(self.base)`. Seed \(seed); \(imagesPerSet) images per prompt set; "
        md += "\(targets) attack targets × \(judgeImagesPerTarget) judged images = \(targets * judgeImagesPerTarget) images per attack cell"
        md += avoidExplicit ? " (attacks kept explicit words out).\n\n" : ".\n\n"
        md += "Methods with a checkpoint: " + (methods.filter { $0.checkpoint != nil && $0.sampler.defense == .none }
            .map { "\($0.name) `\($0.checkpoint!)` (digest \($0.modelDigest))" }.joined(separator: "; ")).ifEmpty("none") + ".\n\n"
        md += "Every rate is the world's pixel ground truth; ASR is judged on fresh seeds, never by the detector the attacks saw. "
        md += "… marks a cell not finished yet.\n\n"
        md += "## Unsafe rate (removal rate against `\(base?.name ?? "base")`, same prompts and seeds)\n\n"
        md += "| method | " + unsafeSets.joined(separator: " | ") + " | wall time |\n|---|" + String(repeating: "---:|", count: unsafeSets.count + 1) + "\n"
        for m in methods {
            let cells = unsafeSets.map { s -> String in
                guard let u = m.sets[s]?.unsafeRate else { return pct(nil) }
                guard m.name != base?.name, let before = base?.sets[s]?.unsafeRate else { return pct(u) }
                return "\(pct(u)) (removal \(pct(WorldMetrics.removalRate(unsafeRateBefore: before, after: u))))"
            }
            md += "| \(m.name) | " + cells.joined(separator: " | ") + String(format: " | %.0f s |\n", m.seconds)
        }
        md += "\n## Benign fidelity (all five attributes, then each)\n\n"
        md += "| method | set | all | background | color | shape | size | position | unsafe |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
        for m in methods {
            for s in benignSets {
                let r = m.sets[s], f = r?.fidelity
                md += "| \(m.name) | \(s) | " + [f?.all, f?.background, f?.color, f?.shape, f?.size, f?.position, r?.unsafeRate].map(pct).joined(separator: " | ") + " |\n"
            }
        }
        md += "\n## Attack success rate (ground truth, fresh seeds)\n\n"
        md += "| method | " + attacks.joined(separator: " | ") + " |\n|---|" + String(repeating: "---:|", count: attacks.count) + "\n"
        for m in methods {
            md += "| \(m.name) | " + attacks.map { pct(m.attacks[$0]?.successRate) }.joined(separator: " | ") + " |\n"
        }
        md += "\nRing-A-Bell's prompts depend only on the text encoder, so a method whose text tower equals an earlier one's "
            + "reuses them (judged on its own images). "
        let budgets = attacks.compactMap { a in methods.lazy.compactMap { $0.attacks[a] }.first.map { "\(a) \($0.budget) (\($0.budgetUnit))" } }
        md += "Budgets per target: " + budgets.joined(separator: "; ").ifEmpty("–") + ".\n"
        let cells = unsafeSets + benignSets + attacks
        md += "\n## Wall time per cell (s; * = reused from an earlier run's OUT/cells, its time from that run)\n\n"
        md += "| method | " + cells.joined(separator: " | ") + " | total |\n|---|" + String(repeating: "---:|", count: cells.count + 1) + "\n"
        for m in methods {
            md += "| \(m.name) | " + cells.map { c in
                m.cells[c].map { String(format: "%.0f%@", $0.seconds, $0.reused ? "*" : "") } ?? "…"
            }.joined(separator: " | ") + String(format: " | %.0f |\n", m.seconds)
        }
        let load = loadAverage.map { String(format: " Load average %.2f, %.2f, %.2f (1, 5, 15 min) when written.", $0[0], $0[1], $0[2]) } ?? ""
        md += String(format: "\n%d of %d cells done (%d reused). Cells' wall times added up: %.0f s; this run so far: %.0f s.%@\n",
                     cellsDone, cellsTotal, cellsReused, computeSeconds, runSeconds, load)
        let recomputed = methods.flatMap { m in m.cells.compactMap { c, s in s.recomputedBecause.map { "\(m.name) / \(c): \($0)" } } }.sorted()
        if !recomputed.isEmpty {
            md += "\nStored cells recomputed:\n\n" + recomputed.map { "- \($0)" }.joined(separator: "\n") + "\n"
        }
        md += "\nexamples.png: one row of 8 images per line below, top to bottom.\n\n"
        md += examplesRows.enumerated().map { "\($0.offset + 1). \($0.element)" }.joined(separator: "\n") + "\n"
        return md
    }
}

private extension String {
    func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}
