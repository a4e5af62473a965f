import Checkpoint
import Foundation
import Models
import Numerics
import World

/// What one cell of the safety report (a method × a prompt set or an attack) depends on. A
/// stored cell is reused only when every field matches the run's.
struct CellInputs: Codable, Equatable {
    /// The cell file's layout; a file of another layout is recomputed.
    static let currentFormat = 1

    var format = Self.currentFormat
    let method: String
    /// A prompt set's or an attack's name.
    let cell: String
    /// `FNV1a.digest` of the method's model (text tower and denoiser, adapters merged).
    let model: String
    let sampler: SamplerConfig
    let seed: UInt64
    /// Images of a prompt-set cell (nil for an attack).
    let images: Int?
    /// An attack cell's settings (nil for a prompt set).
    let attack: AttackInputs?

    struct AttackInputs: Codable, Equatable {
        /// Digest of the base model, whose ε̂ and images the white-box attacks read.
        let baseModel: String
        let targetSet: String
        let targets: Int
        let budget: Int
        let judgeImages: Int
        let eta: Float
        let avoidExplicit: Bool
    }

    /// The names of the fields that differ from `other`'s, for the report's note.
    func differences(from other: CellInputs) -> [String] {
        func fields(_ inputs: CellInputs) -> [String: Any] {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            let object = (try? JSONSerialization.jsonObject(with: encoder.encode(inputs))) as? [String: Any] ?? [:]
            var flat: [String: Any] = [:]
            for (key, value) in object {
                if let nested = value as? [String: Any] {
                    for (k, v) in nested { flat["\(key).\(k)"] = v }
                } else {
                    flat[key] = value
                }
            }
            return flat
        }
        let (mine, theirs) = (fields(self), fields(other))
        return Set(mine.keys).union(theirs.keys).sorted().filter {
            !((mine[$0] as? NSObject)?.isEqual(theirs[$0]) ?? (theirs[$0] == nil))
        }
    }
}

/// One finished cell: its inputs, its result, how long it took and when, and its examples.
struct CellRecord: Codable {
    let inputs: CellInputs
    /// A prompt-set cell's row.
    let set: EvalRow?
    /// An attack cell's result (its targets' final prompts included).
    let attack: AttackReport?
    /// Wall time of the run that computed it.
    let seconds: Double
    /// When it was computed (ISO 8601).
    let computedAt: String
    /// Its row of examples.png: up to 8 images' pixels, little-endian Float32.
    let examples: [Data]

    var exampleImages: [Image] {
        examples.compactMap { data -> Image? in
            let pixels = data.withUnsafeBytes { raw in (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) } }
            return try? Image(hwc: pixels)
        }
    }

    static func pack(_ images: [Image]) -> [Data] {
        images.map { image in
            var data = Data(capacity: 4 * image.pixels.count)
            for x in image.pixels { withUnsafeBytes(of: x.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
            return data
        }
    }
}

/// The finished cells of a report, one file each: OUT/cells/METHOD/CELL.json, written
/// atomically. A file is its digest (`FNV1a` of the rest) on the first line, then the record
/// as JSON, so a torn or hand-edited file is recognised and recomputed, never trusted.
struct CellStore {
    let directory: URL

    /// What a lookup found.
    enum Lookup {
        case reusable(CellRecord)
        case missing
        /// The file is there but cannot be trusted or does not fit: why.
        case recompute(String)
    }

    func url(method: String, cell: String) -> URL {
        directory.appendingPathComponent(method).appendingPathComponent("\(cell).json")
    }

    func lookup(_ inputs: CellInputs) -> Lookup {
        let file = url(method: inputs.method, cell: inputs.cell)
        guard let data = FileManager.default.contents(atPath: file.path) else { return .missing }
        guard let newline = data.firstIndex(of: UInt8(ascii: "\n")) else { return .recompute("damaged: no digest line") }
        let stored = String(decoding: data[data.startIndex..<newline], as: UTF8.self)
        let body = data[(newline + 1)...]
        var digest = FNV1a()
        digest.mix(bytes: body)
        guard stored == digest.hex else { return .recompute("damaged: digest \(digest.hex) differs from the stored \(stored)") }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let record: CellRecord
        do { record = try decoder.decode(CellRecord.self, from: body) } catch { return .recompute("unreadable: \(error)") }
        guard record.inputs == inputs else {
            return .recompute("inputs changed: \(record.inputs.differences(from: inputs).joined(separator: ", "))")
        }
        guard (record.set == nil) != (record.attack == nil) else { return .recompute("damaged: no result") }
        return .reusable(record)
    }

    func save(_ record: CellRecord) throws {
        let file = url(method: record.inputs.method, cell: record.inputs.cell)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let body = try encoder.encode(record)
        var digest = FNV1a()
        digest.mix(bytes: body)
        try (Data("\(digest.hex)\n".utf8) + body).write(to: file, options: .atomic)
    }
}

/// Digests of a model's content: its text tower, and all of it (text tower and denoiser).
func modelDigests(_ model: DiffusionModel) -> (text: String, all: String) {
    func tensors(_ store: ParameterStore) -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: store.parameters.map { ($0.name, store.tensor($0)) })
    }
    let text = tensors(model.textStore)
    return (FNV1a.digest(text), FNV1a.digest(text.merging(tensors(model.unet.store)) { a, _ in a }))
}
