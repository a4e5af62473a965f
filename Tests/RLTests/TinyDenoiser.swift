import Diffusion
import Numerics
import RL

/// A small real ε-predictor built from Numerics layers, with LoRA adapters on every layer
/// and the base frozen, as the UNet will be trained:
///
///     h = Conv3×3(x) + Linear(temb(t)) + Linear(pooled + masked-mean(tokens))   (per plane)
///     ε = √(1−ᾱ_t)·x + √ᾱ_t·Conv3×3(SiLU(h))
///
/// The skip term is the exact ε-predictor for N(0, I) data, and the √ᾱ_t factor keeps the
/// network's part from being amplified by 1/√ᾱ_t in x̂_0 (ᾱ_999 ≈ 2e-9 on the cosine
/// schedule): an untrained network stays a stable sampler.
final class TinyDenoiser: NoisePredictor {
    let base = ParameterStore()
    let trainable = ParameterStore()
    let convIn, convOut: Conv2d
    let timeProjection, textProjection: Linear
    let act = SiLU()
    let timeDim = 8
    let schedule = NoiseSchedule()
    private var signalScales: [Float] = []  // √ᾱ_t per row of the last forward

    init(channels: Int, hidden: Int, textDim: Int, rank: Int, rng: inout RandomGenerator) {
        convIn = Conv2d(base, name: "in", inChannels: channels, outChannels: hidden, kernel: 3, padding: 1, rng: &rng)
        convOut = Conv2d(base, name: "out", inChannels: hidden, outChannels: channels, kernel: 3, padding: 1, rng: &rng)
        timeProjection = Linear(base, name: "time", inFeatures: timeDim, outFeatures: hidden, rng: &rng)
        textProjection = Linear(base, name: "text", inFeatures: textDim, outFeatures: hidden, rng: &rng)
        for bias in [convIn.bias!, convOut.bias!, timeProjection.bias!, textProjection.bias!] {
            base.set(bias, Tensor(randomNormal: bias.shape, std: 0.1, rng: &rng))
        }
        convIn.attachLoRA(trainable, name: "in", rank: rank, rng: &rng)
        convOut.attachLoRA(trainable, name: "out", rank: rank, rng: &rng)
        timeProjection.attachLoRA(trainable, name: "time", rank: rank, rng: &rng)
        textProjection.attachLoRA(trainable, name: "text", rank: rank, rng: &rng)
        // A at the base layers' 1/√fan-in scale instead of LoRA's 1/r: the finite-difference
        // checks step every parameter by h = 2e-2, and a larger A makes the near-deterministic
        // last step's log π too curved over that step for a clean difference.
        for p in trainable.parameters where p.name.contains("lora_A") {
            let fanIn = p.count / p.shape[0]
            trainable.set(p, Tensor(randomNormal: p.shape, std: 0.58 / Float(fanIn).squareRoot(), rng: &rng))
        }
    }

    /// Gives every LoRA B random values, so that every adapter gradient is nonzero.
    func randomizeAdapters(std: Float, rng: inout RandomGenerator) {
        for p in trainable.parameters where p.name.contains("lora_B") {
            trainable.set(p, Tensor(randomNormal: p.shape, std: std, rng: &rng))
        }
    }

    func predictNoise(_ x: Tensor, timesteps: [Int], conditioning: Conditioning) -> Tensor {
        var h = convIn.forward(x)                                                       // h: (B, hidden, H, W)
        var shift = timeProjection.forward(sinusoidalTimestepEmbedding(timesteps.map(Float.init), dim: timeDim))
        shift.add(textProjection.forward(textFeatures(conditioning)))                   // shift: (B, hidden)
        h.addPerPlane(shift)
        var eps = convOut.forward(act.forward(h))                                       // ε: (B, C, H, W)
        let alphaBars = timesteps.map { schedule.alphaBar(at: $0) }
        signalScales = alphaBars.map { Float($0.squareRoot()) }
        let d = x.count / x.shape[0]
        for i in eps.data.indices {
            let a = alphaBars[i / d]
            eps.data[i] = Float((1 - a).squareRoot()) * x.data[i] + signalScales[i / d] * eps.data[i]
        }
        return eps
    }

    func backwardNoise(_ dEps: Tensor) {
        var dNet = dEps
        let d = dEps.count / dEps.shape[0]
        for i in dNet.data.indices { dNet.data[i] *= signalScales[i / d] }
        let dh = act.backward(convOut.backward(dNet))
        let dShift = dh.sumPerPlane()
        _ = timeProjection.backward(dShift)
        _ = textProjection.backward(dShift)
        _ = convIn.backward(dh)
    }

    /// pooled + mean of the attended tokens: (B, D). The text encoder is frozen: no backward.
    private func textFeatures(_ c: Conditioning) -> Tensor {
        var f = c.pooled
        let (t, d) = (c.tokens.shape[1], c.tokens.shape[2])
        for b in 0..<c.batch {
            let kept = (0..<t).filter { c.mask.attend[b * t + $0] }
            for j in kept {
                for k in 0..<d { f.data[b * d + k] += c.tokens.data[(b * t + j) * d + k] / Float(kept.count) }
            }
        }
        return f
    }
}

/// Random prompt conditionings (one row each) and the null prompt: no attended tokens.
struct TinyPrompts {
    static let tokens = 3, dim = 4
    let names: [String]
    let rows: [Conditioning]
    let null = Conditioning(tokens: Tensor(zeros: [1, tokens, dim]), mask: KeyPaddingMask(lengths: [0], keys: tokens),
                            pooled: Tensor(zeros: [1, dim]))

    init(count: Int, rng: inout RandomGenerator) {
        names = (0..<count).map { "prompt \($0)" }
        rows = (0..<count).map { i in
            Conditioning(tokens: Tensor(randomNormal: [1, Self.tokens, Self.dim], rng: &rng),
                         mask: KeyPaddingMask(lengths: [1 + i % Self.tokens], keys: Self.tokens),
                         pooled: Tensor(randomNormal: [1, Self.dim], rng: &rng))
        }
    }

    /// `perPrompt` rows of every prompt, prompt-major, with their names.
    func batch(perPrompt: Int) -> (names: [String], conditioning: Conditioning) {
        let order = rows.indices.flatMap { Array(repeating: $0, count: perPrompt) }
        return (order.map { names[$0] }, Conditioning(concatenating: order.map { rows[$0] }))
    }
}

/// The mean of each final latent: (B, C, H, W) → B rewards (a "brightness" reward).
func brightness(_ x: Tensor) -> [Float] {
    let b = x.shape[0], d = x.count / b
    return (0..<b).map { r in x.data[(r * d)..<((r + 1) * d)].reduce(0, +) / Float(d) }
}
