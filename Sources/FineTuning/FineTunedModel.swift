import Checkpoint
import Foundation
import Models
import Numerics
import Runtime

/// Loads the model that `sample` and `eval --checkpoint` run: a diffusion checkpoint
/// (`shielddiff pretrain diffusion`), or a learner checkpoint of a fine-tuning run, whose
/// base model and adapters are rebuilt and merged into one denoiser.
public enum FineTunedModel {
    /// The model at `url`, or the shipped base model when `url` is nil.
    public static func load(from url: URL?) throws -> DiffusionModel {
        guard let url else { return try DiffusionModel.load() }
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(contentsOf: url) } catch { throw DiffusionModelError.checkpoint(path: url.path, error) }
        guard let learner = try? LearnerCheckpoint(file: file, source: url.path) else {
            return try DiffusionModel.load(from: url)
        }
        return try merged(learner, source: url.path)
    }

    /// The fine-tuned model of a learner checkpoint: its base with its adapters folded in.
    static func merged(_ checkpoint: LearnerCheckpoint, source: String) throws -> DiffusionModel {
        let meta = checkpoint.metadata
        func fail(_ why: String) -> Error { FineTunedModelError(path: source, reason: why) }
        guard let rankText = meta[DiffusionPolicyLearner.loraRankKey], let rank = Int(rankText), rank >= 0 else {
            throw fail("not a diffusion fine-tuning checkpoint (no \(LearnerCheckpoint.modelPrefix)\(DiffusionPolicyLearner.loraRankKey))")
        }
        let base = checkpoint.tensors.filter { $0.key.hasPrefix("unet.") || $0.key.hasPrefix("text.") }
        let adapters = checkpoint.tensors.filter { $0.key.hasPrefix("lora.") }
        var baseMeta: [String: String] = [:]
        for key in [DiffusionModel.unetConfigKey, DiffusionModel.textConfigKey] { baseMeta[key] = meta[key] }
        let model: DiffusionModel
        do { model = try DiffusionModel(file: SafeTensorsFile(tensors: base, metadata: baseMeta)) } catch {
            throw fail("its base model: \(error.message)")
        }
        if rank > 0 {
            let policy = DiffusionPolicy(model: model, loraRank: rank, seed: 0)
            do { try policy.load(trainable: adapters) } catch { throw fail("its adapters: \(error)") }
            model.unet.mergeLoRA()
        }
        return model
    }
}

/// A learner checkpoint that does not hold a fine-tuned diffusion model.
public struct FineTunedModelError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "cannot load the fine-tuned model from \(path): \(reason)" }
}
