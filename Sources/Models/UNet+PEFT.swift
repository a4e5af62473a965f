import Checkpoint
import Foundation
import Numerics

/// The denoiser's LoRA adapters as Hugging Face PEFT saves them (`save_pretrained`): a
/// folder with `adapter_model.safetensors`, keys `base_model.model.<module>.lora_A.weight` /
/// `.lora_B.weight` (A: (r, in[, k, k]), B: (out, r[, 1, 1]), PyTorch's layouts), and
/// `adapter_config.json` with `peft_type` LORA, `r`, `lora_alpha` and `target_modules`.
/// `<module>` is the adapted layer's name in the denoiser, its weight's parameter name
/// without the `unet.` prefix and `.weight` (e.g. `down.cross.attn.q`), since the
/// model PEFT wraps is the denoiser itself.
public struct PEFTAdapter {
    /// The adapter tensors by PEFT key.
    public let tensors: [String: Tensor]
    /// r.
    public let rank: Int
    /// α (the update is scaled by α/r).
    public let alpha: Float
    /// The adapted modules, sorted.
    public let targetModules: [String]

    /// `adapter_config.json`: PEFT's LoraConfig fields for these adapters.
    public var config: [String: Any] {
        ["peft_type": "LORA", "task_type": NSNull(), "r": rank, "lora_alpha": Double(alpha),
         "target_modules": targetModules, "lora_dropout": 0.0, "bias": "none", "fan_in_fan_out": false,
         "init_lora_weights": true, "inference_mode": true, "modules_to_save": NSNull(),
         "base_model_name_or_path": NSNull(), "use_rslora": false, "use_dora": false,
         "rank_pattern": [String: Any](), "alpha_pattern": [String: Any]()]
    }

    /// Writes `adapter_model.safetensors` and `adapter_config.json` into `directory` (created).
    public func write(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try SafeTensorsFile(tensors: tensors, metadata: ["format": "pt"])
            .write(to: directory.appendingPathComponent("adapter_model.safetensors"))
        let json = try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys, .prettyPrinted])
        try json.write(to: directory.appendingPathComponent("adapter_config.json"), options: .atomic)
    }
}

extension UNet {
    /// The adapters attached with `attachLoRA(store, …)`, read from `store`, in PEFT's
    /// naming; nil when none is attached.
    public func peftAdapter(in store: ParameterStore) -> PEFTAdapter? {
        var tensors: [String: Tensor] = [:]
        var modules: [String] = []
        var ranks = Set<Int>(), alphas = Set<Float>()
        func add(base: ParameterStore.Parameter, down: ParameterStore.Parameter, up: ParameterStore.Parameter,
                 rank: Int, alpha: Float) {
            var module = String(base.name.dropLast(".weight".count))
            if module.hasPrefix("unet.") { module.removeFirst("unet.".count) }
            modules.append(module)
            tensors["base_model.model.\(module).lora_A.weight"] = store.tensor(down)
            tensors["base_model.model.\(module).lora_B.weight"] = store.tensor(up)
            ranks.insert(rank)
            alphas.insert(alpha)
        }
        for (_, layer) in linearLayers {
            if let a = layer.adapter { add(base: layer.weight, down: a.down.weight, up: a.up.weight, rank: a.rank, alpha: a.alpha) }
        }
        for (_, layer) in convolutionLayers {
            if let a = layer.adapter { add(base: layer.weight, down: a.down.weight, up: a.up.weight, rank: a.rank, alpha: a.alpha) }
        }
        // One rank and α for every layer (attachLoRA's); PEFT would need rank_pattern otherwise.
        guard let rank = ranks.first, let alpha = alphas.first, ranks.count == 1, alphas.count == 1 else { return nil }
        return PEFTAdapter(tensors: tensors, rank: rank, alpha: alpha, targetModules: modules.sorted())
    }
}
