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

    /// Runtime metadata keys; the model's keys are stored under `modelPrefix`.
    public static let versionKey = "runtime.version", runIDKey = "runtime.run_id",
               trainedKey = "runtime.trajectories_trained", modelPrefix = "model."

    /// The safetensors file of this checkpoint, with `extra` metadata (e.g. the config).
    func file(extra: [String: String]) -> SafeTensorsFile {
        var all = extra
        for (key, value) in metadata { all[Self.modelPrefix + key] = value }
        all[Self.versionKey] = String(version)
        all[Self.runIDKey] = runID
        all[Self.trainedKey] = String(trajectoriesTrained)
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
        var model: [String: String] = [:]
        for (key, value) in file.metadata where key.hasPrefix(Self.modelPrefix) {
            model[String(key.dropFirst(Self.modelPrefix.count))] = value
        }
        self.init(version: version, runID: runID, trajectoriesTrained: trained, tensors: file.tensors, metadata: model)
    }

    /// A checkpoint from its parts.
    public init(version: UInt64, runID: String, trajectoriesTrained: Int,
                tensors: [String: Tensor], metadata: [String: String]) {
        (self.version, self.runID, self.trajectoriesTrained) = (version, runID, trajectoriesTrained)
        (self.tensors, self.metadata) = (tensors, metadata)
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

    /// The newest checkpoint, or nil when the folder holds none.
    public func latest() throws -> (checkpoint: LearnerCheckpoint, url: URL)? {
        guard let version = try versions().last else { return nil }
        let url = directory.appendingPathComponent(Self.fileName(version: version))
        return (try LearnerCheckpoint(file: SafeTensorsFile(contentsOf: url), source: url.path), url)
    }

    /// Versions of the checkpoint files present, ascending.
    func versions() throws -> [UInt64] {
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).compactMap { name in
            guard name.hasPrefix("checkpoint-v"), name.hasSuffix(".safetensors") else { return nil }
            return UInt64(name.dropFirst("checkpoint-v".count).dropLast(".safetensors".count))
        }.sorted()
    }

    static func fileName(version: UInt64) -> String {
        let digits = String(version)
        return "checkpoint-v" + String(repeating: "0", count: max(0, 12 - digits.count)) + digits + ".safetensors"
    }
}
