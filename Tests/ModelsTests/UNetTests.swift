import Diffusion
import GradCheckSupport
import Models
import Numerics
import XCTest

final class UNetTests: XCTestCase {
    /// Finite differences of L = Σ ε̂·g against `backward`, for dL/dx and every parameter tensor
    /// of the tiny denoiser (12 entries each: the largest and a random draw).
    /// The text context gets no gradient: the text encoder is frozen.
    func testGradientOfEveryParameter() {
        var rng = RandomGenerator(seed: 3)
        var c = TinyDiffusion.unetConfig
        c.side = 4
        let unet = UNet(config: c, rng: &rng)
        TinyDiffusion.perturb(unet.store, rng: &rng)
        let b = 2
        let x = Tensor(randomNormal: [b, 12, 4, 4], rng: &rng)
        let t: [Float] = [17, 803]
        let context = Tensor(randomNormal: [b, 5, c.contextDim], rng: &rng)
        let mask = KeyPaddingMask(lengths: [5, 3], keys: 5)
        let pooled = Tensor(randomNormal: [b, c.pooledDim], rng: &rng)
        GradCheck.check("UNet (x and every parameter)", store: unet.store, input: x, samples: 12, step: 5e-2,
                        forward: { unet.forward($0, timesteps: t, context: context, mask: mask, pooled: pooled) },
                        backward: { unet.backward($0) })
    }

    /// conv_out starts at zero: v̂ = 0, so ε̂ = √(1−ᾱ_t)·x_t (and x̂_0 = √ᾱ_t·x_t).
    func testUntrainedModelPredictsZeroVelocity() {
        var rng = RandomGenerator(seed: 4)
        let unet = UNet(config: TinyDiffusion.unetConfig, rng: &rng)
        let x = Tensor(randomNormal: [3, 12, 16, 16], rng: &rng)
        let (context, pooled) = (Tensor(randomNormal: [3, 16, 8], rng: &rng), Tensor(randomNormal: [3, 8], rng: &rng))
        let mask = KeyPaddingMask(lengths: [16, 2, 9], keys: 16)
        let v = unet.forwardVelocity(x, timesteps: [0, 500, 999], context: context, mask: mask, pooled: pooled)
        XCTAssertEqual(v.shape, [3, 12, 16, 16])
        XCTAssertEqual(v.data.map(abs).max(), 0)
        let eps = unet.forward(x, timesteps: [0, 500, 999], context: context, mask: mask, pooled: pooled)
        let schedule = NoiseSchedule()
        for (i, t) in [0, 500, 999].enumerated() {
            let k = Float((1 - schedule.alphaBar(at: t)).squareRoot())
            XCTAssertEqual(eps.data[i * 3072 + 5], k * x.data[i * 3072 + 5], accuracy: 1e-6)
        }
    }

    /// Changing one item's text or timestep changes only that item's prediction.
    func testItemsOfABatchAreIndependent() {
        let model = TinyDiffusion.model()
        var rng = RandomGenerator(seed: 5)
        let x = Tensor(randomNormal: [2, 12, 16, 16], rng: &rng)
        let a = model.encode(TinyDiffusion.prompts[0..<2].map { $0 })
        let b = model.encode([TinyDiffusion.prompts[0], TinyDiffusion.prompts[3]])
        let ya = model.unet.forward(x, timesteps: [100, 600], context: a.tokens, mask: a.mask, pooled: a.pooled)
        let yb = model.unet.forward(x, timesteps: [100, 601], context: b.tokens, mask: b.mask, pooled: b.pooled)
        XCTAssertEqual(ya.batchSlice(0..<1), yb.batchSlice(0..<1))
        XCTAssertNotEqual(ya.batchSlice(1..<2), yb.batchSlice(1..<2))
    }

    func testCheckpointRoundTripKeepsBothParts() throws {
        let model = TinyDiffusion.model(seed: 21)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("unet-roundtrip-\(getpid()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try model.save(to: url)
        let loaded = try DiffusionModel.load(from: url)
        XCTAssertEqual(loaded.unet.config, model.unet.config)
        XCTAssertEqual(Array(loaded.unet.store.values), Array(model.unet.store.values))
        XCTAssertEqual(Array(loaded.textStore.values), Array(model.textStore.values))
    }
}
