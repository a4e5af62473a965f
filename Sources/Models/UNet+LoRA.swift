import Numerics

extension UNet {
    /// Every linear layer of the denoiser by parameter-name suffix: the four projections
    /// (q, k, v, out) of each attention block, each residual block's time projection and the
    /// time-embedding MLP.
    var linearLayers: [(name: String, layer: Linear)] {
        let attention = [("down.cross", cross1), ("inner.self", self2), ("inner.cross", cross2), ("up.cross", cross3)]
            .flatMap { block, b in
                let a = b.attention.attention
                return [("q", a.query), ("k", a.key), ("v", a.value), ("out", a.output)].map { ("\(block).\($0)", $1) }
            }
        return attention + residualBlocks.map { ("\($0).time", $1.timeLinear) } + time.linears.map { ("temb.\($0)", $1) }
    }

    /// Every convolution of the denoiser by parameter-name suffix.
    var convolutionLayers: [(name: String, layer: Conv2d)] {
        [("conv_in", convIn), ("conv_out", convOut)]
            + residualBlocks.flatMap { block, b in b.convolutions.map { ("\(block).\($0)", $1) } }
    }

    private var residualBlocks: [(String, ResidualBlock)] {
        [("down.res", res1), ("inner.res", res2), ("mid.res", mid), ("up.res", res3)]
    }

    /// Attaches a rank-`rank` LoRA adapter (α = r) to every linear layer and convolution,
    /// registered in `store` as `lora.<layer>.lora_A|B.weight`; the adapted layers are then
    /// frozen and compute no weight gradient. The adapters start at zero, so the model's
    /// function is unchanged. Adapting the convolutions too (PEFT's "all layers") matters
    /// here: attention-only adapters barely moved the unsafe rate in 30 updates, because the
    /// stripes are drawn by the convolutions. Call once.
    public func attachLoRA(_ store: ParameterStore, rank: Int, rng: inout RandomGenerator) {
        for (name, layer) in linearLayers { layer.attachLoRA(store, name: "lora.\(name)", rank: rank, rng: &rng) }
        for (name, layer) in convolutionLayers { layer.attachLoRA(store, name: "lora.\(name)", rank: rank, rng: &rng) }
    }

    /// Folds every attached adapter into its base weight (see `Linear.mergeLoRA`), so `store`
    /// alone carries the fine-tuned denoiser.
    public func mergeLoRA() {
        for (_, layer) in linearLayers { layer.mergeLoRA() }
        for (_, layer) in convolutionLayers { layer.mergeLoRA() }
    }
}
