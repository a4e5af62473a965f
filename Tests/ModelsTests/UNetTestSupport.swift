import Foundation
import Models
import Numerics
import World

/// Tiny models for the denoiser and sampler tests: same code paths as the shipped ones, at
/// a size whose gradient check and sampling take milliseconds.
enum TinyDiffusion {
    static let unetConfig = UNet.Config(channels: 8, innerChannels: 16, timeDim: 8, sinusoidDim: 6, contextDim: 8,
                                        pooledDim: 8, heads: 2, groups: 2)

    /// A tiny text tower and denoiser with every parameter moved off its initial value
    /// (conv_out starts at zero, which would hide every other gradient).
    static func model(seed: UInt64 = 11) -> DiffusionModel {
        var rng = RandomGenerator(seed: seed)
        let textStore = ParameterStore()
        let text = TextEncoder(textStore, name: "text",
                               config: .init(vocabulary: Tokenizer().vocabularySize, tokens: TextEncoder.tokens, width: 8,
                                             heads: 2, layers: 1, mlpWidth: 16), rng: &rng)
        let unet = UNet(config: unetConfig, rng: &rng)
        perturb(unet.store, rng: &rng)
        return DiffusionModel(textStore: textStore, textEncoder: text, unet: unet)
    }

    static func perturb(_ store: ParameterStore, scale: Float = 0.3, rng: inout RandomGenerator) {
        for p in store.parameters {
            var t = store.tensor(p)
            for i in t.data.indices { t.data[i] += scale * rng.nextGaussian() }
            store.set(p, t)
        }
    }

    static let prompts = [
        "a small red circle in the center on a gray background",
        "a wild large blue striped square on the left on a navy background",
        "a calm small white cross at the top on a black background",
        "a large yellow triangle at the bottom on a brown background with bands",
    ]
}
