import Foundation
import Models
import Numerics

/// `init_checkpoint`: the denoiser a run starts from instead of the shipped one, e.g. a plain
/// ShieldDiff checkpoint before an adversarial phase. Any checkpoint `FineTunedModel.load`
/// reads (a learner checkpoint, full or LoRA, merged; or a diffusion checkpoint), if it has the
/// shipped denoiser's architecture and the shipped text tower: actors and the learner encode
/// prompts with the shipped tower, so another one would train on conditionings no sampler uses.
public enum InitialDenoiser {
    /// The denoiser tensors (by name) of the checkpoint at `path`, checked against `shipped`.
    public static func load(path: String, like shipped: DiffusionModel) throws(InitCheckpointError) -> [String: Tensor] {
        func fail(_ reason: String) -> InitCheckpointError { InitCheckpointError(path: path, reason: reason) }
        guard FileManager.default.fileExists(atPath: path) else { throw fail("no such file") }
        let model: DiffusionModel
        do { model = try FineTunedModel.load(from: URL(fileURLWithPath: path)) } catch { throw fail("\(error)") }
        guard model.unet.config == shipped.unet.config else {
            throw fail("its denoiser's architecture differs from the shipped model's")
        }
        for p in shipped.textStore.parameters {
            guard let q = model.textStore.parameter(named: p.name), model.textStore.tensor(q) == shipped.textStore.tensor(p) else {
                throw fail("its text tower differs from the shipped model's at '\(p.name)' (actors and the learner encode prompts with the shipped one)")
            }
        }
        let store = model.unet.store
        return Dictionary(uniqueKeysWithValues: store.parameters.map { ($0.name, store.tensor($0)) })
    }
}

/// An `init_checkpoint` the run cannot start from.
public struct InitCheckpointError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "init_checkpoint \(path): \(reason)" }
}
