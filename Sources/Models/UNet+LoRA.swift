import Numerics

extension UNet {
    /// The four projections (q, k, v, out) of every attention block, by parameter-name prefix:
    /// the layers LoRA adapts, as in DDPO's reference (diffusers' attention processors).
    var attentionProjections: [(name: String, layer: Linear)] {
        [("down.cross", cross1), ("inner.self", self2), ("inner.cross", cross2), ("up.cross", cross3)].flatMap { block, b in
            let a = b.attention.attention
            return [("q", a.query), ("k", a.key), ("v", a.value), ("out", a.output)].map { ("\(block).\($0)", $1) }
        }
    }

    /// Attaches a rank-`rank` LoRA adapter (α = r) to every attention projection, registered
    /// in `store` as `lora.<block>.<proj>.lora_A|B.weight`, and freezes the base: its
    /// convolutions and linear layers then compute no weight gradient (the adapters start at
    /// zero, so the model's function is unchanged). Call once.
    public func attachLoRA(_ store: ParameterStore, rank: Int, rng: inout RandomGenerator) {
        for (name, layer) in attentionProjections {
            layer.attachLoRA(store, name: "lora.\(name)", rank: rank, rng: &rng)
        }
        for block in [res1, res2, mid, res3] { block.freeze() }
        for conv in [convIn, convOut] { conv.frozen = true }
        time.freeze()
    }

    /// Folds every attached adapter into its base weight (see `Linear.mergeLoRA`), so `store`
    /// alone carries the fine-tuned denoiser.
    public func mergeLoRA() {
        for (_, layer) in attentionProjections { layer.mergeLoRA() }
    }
}
