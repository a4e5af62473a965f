import Checkpoint
import Foundation
import Numerics
import World

/// The world's text-to-image model: the frozen mini-CLIP text tower that conditions it and the
/// `UNet` denoiser, in two stores (so optimizers over the denoiser never touch the text).
///
/// A diffusion checkpoint holds both — `text.*` and `unet.*` — with both architectures in its
/// metadata, so it is self-contained: the text tower is pinned to the one the denoiser was
/// trained against, whatever CLIP is shipped later.
public final class DiffusionModel {
    /// File name of the shipped weights in `ShippedWeights`.
    public static let shippedFileName = "diffusion.safetensors"
    /// Metadata key of the `UNet.Config` as JSON.
    public static let unetConfigKey = "diffusion.unet_config"
    /// Metadata key of the `TextEncoder.Config` as JSON.
    public static let textConfigKey = "diffusion.text_config"

    /// The frozen text tower's parameters (`text.*`).
    public let textStore: ParameterStore
    /// The frozen text tower.
    public let textEncoder: TextEncoder
    /// The denoiser; its parameters are `unet.store`.
    public let unet: UNet
    /// The tokenizer the text tower reads.
    public let tokenizer = Tokenizer(maxLength: TextEncoder.tokens)

    /// A fresh denoiser drawn from `rng`, conditioned on a copy of `clip`'s text tower.
    public convenience init(textFrom clip: MiniCLIP, unet config: UNet.Config = UNet.Config(), rng: inout RandomGenerator) {
        let textStore = ParameterStore(reserve: 1 << 17)
        var textRNG = RandomGenerator(seed: 0)  // every value is overwritten by the copy below
        let text = TextEncoder(textStore, name: "text", config: clip.config.text, rng: &textRNG)
        for p in textStore.parameters {
            guard let source = clip.store.parameter(named: p.name) else { preconditionFailure("mini-CLIP has no \(p.name)") }
            textStore.set(p, clip.store.tensor(source))
        }
        self.init(textStore: textStore, textEncoder: text, unet: UNet(config: config, rng: &rng))
    }

    /// A model from its parts; `textEncoder` must have registered its parameters in `textStore`.
    public init(textStore: ParameterStore, textEncoder: TextEncoder, unet: UNet) {
        (self.textStore, self.textEncoder, self.unet) = (textStore, textEncoder, unet)
    }

    /// The model in the checkpoint at `url`, or the shipped weights when `url` is nil; the
    /// architectures come from the file's metadata.
    public static func load(from url: URL? = nil) throws(DiffusionModelError) -> DiffusionModel {
        let source: URL
        if let url {
            source = url
        } else {
            guard let shipped = ShippedWeights.url(shippedFileName) else { throw .missingShippedWeights(shippedFileName) }
            source = shipped
        }
        do {
            return try DiffusionModel(file: SafeTensorsFile(contentsOf: source))
        } catch {
            throw .checkpoint(path: source.path, error)
        }
    }

    /// The model in a diffusion checkpoint already read (`unet.*`, `text.*` and both
    /// architectures in the metadata); `extra/` tensors are ignored.
    public convenience init(file: SafeTensorsFile) throws(CheckpointError) {
        let extras = CheckpointExtras(metadata: file.metadata)
        let unetConfig = try extras.json(UNet.Config.self, forKey: DiffusionModel.unetConfigKey)
        let textConfig = try extras.json(TextEncoder.Config.self, forKey: DiffusionModel.textConfigKey)
        var rng = RandomGenerator(seed: 0)  // every value is overwritten by the restore
        let textStore = ParameterStore(reserve: 1 << 17)
        let text = TextEncoder(textStore, name: "text", config: textConfig, rng: &rng)
        let unet = UNet(config: unetConfig, rng: &rng)
        let parts = file.tensors.keys.filter { !$0.hasPrefix(CheckpointExtras.extraPrefix) }
        let textNames = Set(parts.filter { $0.hasPrefix("text.") })
        try textStore.restore(from: SafeTensorsFile(tensors: file.tensors.filter { textNames.contains($0.key) }))
        try unet.store.restore(from: SafeTensorsFile(tensors: file.tensors.filter { !textNames.contains($0.key) }))
        self.init(textStore: textStore, textEncoder: text, unet: unet)
    }

    /// Writes both parts and both architectures (plus `metadata`) to `url`, atomically.
    public func save(to url: URL, metadata: [String: String] = [:]) throws(CheckpointError) {
        var extras = CheckpointExtras(metadata: metadata)
        try extras.setJSON(unet.config, forKey: DiffusionModel.unetConfigKey)
        try extras.setJSON(textEncoder.config, forKey: DiffusionModel.textConfigKey)
        var file = try unet.store.checkpoint(extras: extras)
        for p in textStore.parameters { file.tensors[p.name] = textStore.tensor(p) }
        try file.write(to: url)
    }

    /// The frozen text tower's encoding of `texts` (prompts, or "" for the null prompt).
    public func encode(_ texts: [String]) -> TextEncoding {
        textEncoder.encode(texts.map { tokenizer.encode($0) })
    }
}

/// Why a diffusion model could not be loaded.
public enum DiffusionModelError: Error, CustomStringConvertible, Equatable {
    /// The package was built without the named file in Sources/Models/Weights.
    case missingShippedWeights(String)
    /// The checkpoint at `path` could not be read or does not match the architecture it declares.
    case checkpoint(path: String, CheckpointError)

    public var description: String {
        switch self {
        case let .missingShippedWeights(name):
            "no shipped weights \(name) in Sources/Models/Weights; train them with `shielddiff pretrain diffusion` (scripts/pretrain.sh)"
        case let .checkpoint(path, error):
            "cannot load the diffusion model from \(path): \(error.message)"
        }
    }
}
