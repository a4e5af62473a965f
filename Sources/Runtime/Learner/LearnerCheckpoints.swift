import Checkpoint
import Foundation
import Numerics

/// What a learner checkpoint holds: the model's state (parameters, optimizer, RNG, per-prompt
/// statistics, from `PolicyLearner.checkpointState`) and the runtime's (version, run id,
/// counts). Written atomically by the Checkpoint module, so a crash leaves the previous file.
public struct LearnerCheckpoint: Equatable, Sendable {
    /// The policy version the model state is.
    public var version: UInt64
    /// The run's identifier (kept across restarts).
    public var runID: String
    /// Trajectories trained on so far.
    public var trajectoriesTrained: Int
    /// The model's tensors.
    public var tensors: [String: Tensor]
    /// The model's metadata.
    public var metadata: [String: String]
    /// The detector-unsafe share of each of the last `stop_window` batches (the stop rule's
    /// window, so a resumed run stops at the update the uninterrupted one would).
    public var recentUnsafeFractions: [Double] = []

    /// Runtime metadata keys; the model's keys are stored under `modelPrefix`.
    public static let versionKey = "runtime.version", runIDKey = "runtime.run_id",
               trainedKey = "runtime.trajectories_trained", modelPrefix = "model.",
               unsafeWindowKey = "runtime.recent_unsafe_fractions", digestKey = "runtime.tensor_digest"

    /// The safetensors file of this checkpoint, with `extra` metadata (e.g. the config).
    func file(extra: [String: String]) -> SafeTensorsFile {
        var all = extra
        for (key, value) in metadata { all[Self.modelPrefix + key] = value }
        all[Self.versionKey] = String(version)
        all[Self.runIDKey] = runID
        all[Self.trainedKey] = String(trajectoriesTrained)
        all[Self.unsafeWindowKey] = recentUnsafeFractions.map { "\($0)" }.joined(separator: ",")
        all[Self.digestKey] = Self.digest(tensors)
        return SafeTensorsFile(tensors: tensors, metadata: all)
    }

    /// Reads a checkpoint back from its file.
    public init(file: SafeTensorsFile, source: String) throws(CheckpointError) {
        guard let versionText = file.metadata[Self.versionKey], let version = UInt64(versionText), version >= 1,
              let runID = file.metadata[Self.runIDKey],
              let trainedText = file.metadata[Self.trainedKey], let trained = Int(trainedText) else {
            throw CheckpointError(.missingField, source: source,
                                  "not a learner checkpoint: needs \(Self.versionKey) ≥ 1, \(Self.runIDKey), \(Self.trainedKey)")
        }
        if let stored = file.metadata[Self.digestKey], stored != Self.digest(file.tensors) {
            throw CheckpointError(.invalidMetadata, source: source,
                                  "tensor digest \(Self.digest(file.tensors)) differs from the stored \(stored): the file is damaged")
        }
        let windowText = file.metadata[Self.unsafeWindowKey] ?? ""
        let window = windowText.split(separator: ",").map { Double($0) }
        guard window.allSatisfy({ $0 != nil }) else {
            throw CheckpointError(.invalidMetadata, source: source, "\(Self.unsafeWindowKey) is not a list of numbers: \(windowText)")
        }
        var model: [String: String] = [:]
        for (key, value) in file.metadata where key.hasPrefix(Self.modelPrefix) {
            model[String(key.dropFirst(Self.modelPrefix.count))] = value
        }
        self.init(version: version, runID: runID, trajectoriesTrained: trained, tensors: file.tensors, metadata: model)
        recentUnsafeFractions = window.compactMap { $0 }
    }

    /// `FNV1a.digest` of the tensors: damage at rest that still parses (a torn page, flipped
    /// bits) is caught on load.
    static func digest(_ tensors: [String: Tensor]) -> String { FNV1a.digest(tensors) }

    /// A checkpoint from its parts.
    public init(version: UInt64, runID: String, trajectoriesTrained: Int,
                tensors: [String: Tensor], metadata: [String: String], recentUnsafeFractions: [Double] = []) {
        (self.version, self.runID, self.trajectoriesTrained) = (version, runID, trajectoriesTrained)
        (self.tensors, self.metadata, self.recentUnsafeFractions) = (tensors, metadata, recentUnsafeFractions)
    }
}

/// The checkpoint folder: `checkpoint-v<version>.safetensors` files, newest kept.
public struct CheckpointFolder: Sendable {
    /// The folder.
    public let directory: URL

    /// The folder at `directory` (created on the first save).
    public init(directory: URL) { self.directory = directory }

    /// Writes `checkpoint` atomically and deletes all but the newest `keep` files.
    @discardableResult
    public func save(_ checkpoint: LearnerCheckpoint, extra: [String: String] = [:], keep: Int) throws -> URL {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(Self.fileName(version: checkpoint.version))
        try checkpoint.file(extra: extra).write(to: url)
        for old in try versions().dropLast(max(keep, 1)) {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(Self.fileName(version: old)))
        }
        return url
    }

    /// The newest checkpoint that reads completely, or nil when none does (see `newest(accepting:)`).
    public func latest() throws -> (checkpoint: LearnerCheckpoint, url: URL)? {
        try newest(accepting: { _ in }).found
    }

    /// A checkpoint file passed over while looking for the newest usable one, and why.
    public struct Skipped: Sendable {
        public let url: URL
        public let reason: String
    }

    /// The newest checkpoint that reads completely and that `accept` takes (e.g. restores into
    /// the model without throwing), with every newer file passed over and why. A torn, truncated
    /// or otherwise unreadable file (a crash, a full disk, damage at rest) is never chosen:
    /// resuming falls back to the one before it. Nil `found` when no file qualifies.
    public func newest(accepting accept: (LearnerCheckpoint) throws -> Void) throws
        -> (found: (checkpoint: LearnerCheckpoint, url: URL)?, skipped: [Skipped]) {
        var skipped: [Skipped] = []
        for version in try versions().reversed() {
            let url = directory.appendingPathComponent(Self.fileName(version: version))
            do {
                let checkpoint = try LearnerCheckpoint(file: SafeTensorsFile(contentsOf: url), source: url.path)
                guard checkpoint.version == version else {
                    throw CheckpointError(.invalidMetadata, source: url.path,
                                          "file name says version \(version), its metadata \(checkpoint.version)")
                }
                try accept(checkpoint)
                return ((checkpoint, url), skipped)
            } catch {
                skipped.append(Skipped(url: url, reason: "\(error)"))
            }
        }
        return (nil, skipped)
    }

    /// Removes temporary files a writer killed mid-write left behind (`.checkpoint-v….tmp`);
    /// only the one learner of a run writes here, so none of them is still being written.
    /// Returns how many were removed.
    @discardableResult
    public func removeAbandonedTemporaries() -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        var removed = 0
        for name in names where name.hasPrefix(".checkpoint-v") && name.hasSuffix(".tmp") {
            if (try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))) != nil { removed += 1 }
        }
        return removed
    }

    /// Versions of the checkpoint files present, ascending.
    public func versions() throws -> [UInt64] {
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).compactMap { name in
            guard name.hasPrefix("checkpoint-v"), name.hasSuffix(".safetensors") else { return nil }
            return UInt64(name.dropFirst("checkpoint-v".count).dropLast(".safetensors".count))
        }.sorted()
    }

    public static func fileName(version: UInt64) -> String {
        let digits = String(version)
        return "checkpoint-v" + String(repeating: "0", count: max(0, 12 - digits.count)) + digits + ".safetensors"
    }
}
