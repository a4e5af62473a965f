import Diffusion
import Models
import Numerics
import XCTest

final class UNetTests: XCTestCase {
    /// Five-point differences of the Double-accumulated loss L = Σ ε̂·g against `backward`, for dL/dx
    /// and every parameter tensor of the tiny denoiser (up to 12 entries each, spread evenly).
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
        let g = Tensor(randomNormal: [b, 12, 4, 4], rng: &rng)
        func loss(_ input: Tensor) -> Double {
            let y = unet.forward(input, timesteps: t, context: context, mask: mask, pooled: pooled)
            return zip(y.data, g.data).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        unet.store.zeroGrads()
        _ = unet.forward(x, timesteps: t, context: context, mask: mask, pooled: pooled)
        let dx = unet.backward(g)
        let grads = Array(unet.store.grads)
        /// f'(0) ≈ (−f(2h) + 8f(h) − 8f(−h) + f(−2h)) / 12h: error O(h⁴) instead of O(h²).
        func fivePoint(_ f: (Float) -> Double) -> Double {
            let h: Float = 5e-2
            return (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / Double(12 * h)
        }
        var worst = 0.0, worstWhere = ""
        func compare(_ analytic: [Float], label: String, numeric: (Int) -> Double) {
            let scale = analytic.map { Double(abs($0)) }.max() ?? 0
            let picks = analytic.count <= 12 ? Array(analytic.indices) : (0..<12).map { $0 * analytic.count / 12 }
            for i in picks {
                let (a, n) = (Double(analytic[i]), numeric(i))
                let err = abs(a - n) / max(abs(a), abs(n), 1e-2 * scale, 1e-6)
                if err > worst { (worst, worstWhere) = (err, "\(label)[\(i)] analytic \(a) numeric \(n)") }
            }
        }
        compare(dx.data, label: "x") { i in
            fivePoint { d in var xd = x; xd.data[i] += d; return loss(xd) }
        }
        for p in unet.store.parameters {
            compare(Array(grads[p.offset..<(p.offset + p.count)]), label: p.name) { i in
                let v = unet.store.value(p), saved = v[i]
                defer { v[i] = saved }
                return fivePoint { d in v[i] = saved + d; return loss(x) }
            }
        }
        print("UNet gradcheck over \(unet.store.parameters.count) parameter tensors: max relative error \(String(format: "%.2e", worst))")
        XCTAssertLessThan(worst, 2e-2, "worst at \(worstWhere)")
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
