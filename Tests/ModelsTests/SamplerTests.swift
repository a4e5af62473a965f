import Diffusion
import GradCheckSupport
import Models
import Numerics
import World
import XCTest

final class SamplerTests: XCTestCase {
    private let config = SamplerConfig(steps: 4, guidance: 3, eta: 1)

    func testSameSeedGivesIdenticalImagesAndTrajectories() {
        let sampler = Sampler(model: TinyDiffusion.model(), config: config)
        let a = sampler.sample(prompts: TinyDiffusion.prompts, seed: 9, recordTrajectory: true)
        let b = sampler.sample(prompts: TinyDiffusion.prompts, seed: 9, recordTrajectory: true)
        let c = sampler.sample(prompts: TinyDiffusion.prompts, seed: 10)
        XCTAssertEqual(a.images, b.images)
        XCTAssertEqual(a.trajectory?.latents, b.trajectory?.latents)
        XCTAssertEqual(a.trajectory?.logProbs, b.trajectory?.logProbs)
        XCTAssertNotEqual(a.images, c.images, "another seed must give other images")
        let t = a.trajectory!
        XCTAssertEqual(t.latents.count, config.steps + 1)
        XCTAssertEqual(t.timesteps, NoiseSchedule().samplingTimesteps(config.steps))
        XCTAssertEqual(t.logProbs.count, config.steps)
        XCTAssertTrue(t.logProbs.allSatisfy { $0.count == TinyDiffusion.prompts.count && $0.allSatisfy(\.isFinite) })
    }

    /// Image i depends on its prompt and its generator only: alone, in another order, or split
    /// between two workers it comes out the same (up to BLAS summation order).
    func testImagesDoNotDependOnTheBatch() {
        let model = TinyDiffusion.model()
        let noise = Sampler.noise(seed: 4, count: 4)
        let full = Sampler(model: model, config: config).sample(prompts: TinyDiffusion.prompts, noise: noise,
                                                                recordTrajectory: true)
        let alone = Sampler(model: model, config: config).sample(prompts: [TinyDiffusion.prompts[2]], noise: [noise[2]],
                                                                 recordTrajectory: true)
        let reversed = Sampler(model: model, config: config).sample(prompts: TinyDiffusion.prompts.reversed(),
                                                                    noise: noise.reversed())
        let split = Sampler(model: model, config: config, workers: 2).sample(prompts: TinyDiffusion.prompts, noise: noise)
        let last = full.trajectory!.latents.last!
        assertClose(alone.trajectory!.latents.last!, last.batchSlice(2..<3), "image 2 alone")
        for i in 0..<4 {
            assertClose(Latents.encode([reversed.images[3 - i]]), Latents.encode([full.images[i]]), "image \(i) reversed", tolerance: 1e-2)
            assertClose(Latents.encode([split.images[i]]), Latents.encode([full.images[i]]), "image \(i) on two workers", tolerance: 1e-2)
        }
        XCTAssertEqual(alone.trajectory!.logProbs[0][0], full.trajectory!.logProbs[0][2], accuracy: 1e-4)
        // The sampler's noise for image i is the seed's split i, so indices continue across batches.
        XCTAssertEqual(Sampler(model: model, config: config).sample(prompts: [TinyDiffusion.prompts[1]], seed: 4, firstIndex: 1).images[0],
                       Sampler(model: model, config: config).sample(prompts: [TinyDiffusion.prompts[1]], noise: [noise[1]]).images[0])
    }

    /// η = 0: no log-probs, no randomness after x_T, and each step is exactly the DDIM mean.
    func testEtaZeroIsDeterministicDDIM() {
        let model = TinyDiffusion.model()
        let sampler = Sampler(model: model, config: SamplerConfig(steps: 3, guidance: 2, eta: 0))
        let a = sampler.sample(prompts: TinyDiffusion.prompts, seed: 1, recordTrajectory: true)
        let b = sampler.sample(prompts: TinyDiffusion.prompts, seed: 1, recordTrajectory: true)
        XCTAssertEqual(a.images, b.images)
        let t = a.trajectory!
        XCTAssertTrue(t.logProbs.isEmpty)
        // x_T is each image's first draw; the steps draw nothing more.
        let fresh = Sampler.noise(seed: 1, count: 4)
        XCTAssertEqual(t.latents[0], .stackBatch((0..<4).map { i in
            var g = fresh[i]
            return Tensor(randomNormal: [1, 12, 16, 16], rng: &g)
        }))
        let c = sampler.conditioning(TinyDiffusion.prompts)
        for (k, step) in t.timesteps.enumerated() {
            let eps = model.unet.guidedNoise(t.latents[k], timestep: step, conditioning: c, scale: 2)
            XCTAssertEqual(sampler.step(from: step).mean(xt: t.latents[k], eps: eps), t.latents[k + 1], "step \(k)")
        }
    }

    /// The learner's scoring of a stored trajectory reproduces the actor's log-probs.
    func testScoringTheTrajectoryReproducesItsLogProbs() {
        let sampler = Sampler(model: TinyDiffusion.model(), config: config)
        let out = sampler.sample(prompts: TinyDiffusion.prompts, seed: 12, recordTrajectory: true)
        let t = out.trajectory!
        let rescored = sampler.logProbs(of: t, conditioning: sampler.conditioning(TinyDiffusion.prompts))
        var worst: Float = 0
        for (a, b) in zip(rescored.joined(), t.logProbs.joined()) { worst = max(worst, abs(a - b)) }
        print("sampler vs scorer log-prob max difference \(worst)")
        XCTAssertLessThan(worst, 1e-4)
        // A trajectory the model did not sample scores lower on average.
        var other = t
        other.latents = t.latents.map { x in var y = x; for i in y.data.indices { y.data[i] *= 0.9 }; return y }
        let worse = sampler.logProbs(of: other, conditioning: sampler.conditioning(TinyDiffusion.prompts))
        XCTAssertLessThan(worse.joined().reduce(0, +), t.logProbs.joined().reduce(0, +))
    }

    /// d(Σ_i u_i·logπ_i)/dθ through `DDIMStep.scoreGradient`, guidance and the UNet, against
    /// five-point differences. The step clips x̂_0 to [−1, 1], which makes logπ piecewise in ε,
    /// so the test keeps x̂_0 mostly inside the range: a mid step (t = 499, x̂_0 ≈ x_t − ε), small
    /// latents, a denoiser whose output convolution is scaled down to give a small ε, and a
    /// small difference step (few entries cross the clip boundary within it).
    func testScoreGradientMatchesFiniteDifferences() {
        let model = TinyDiffusion.model()
        let store = model.unet.store
        for name in ["unet.conv_out.weight", "unet.conv_out.bias"] {
            let p = store.parameter(named: name)!
            for i in 0..<p.count { store.value(p)[i] *= 0.05 }
        }
        let sampler = Sampler(model: model, config: SamplerConfig(steps: 4, guidance: 2.5, eta: 1))
        let c = sampler.conditioning(TinyDiffusion.prompts)
        let t = NoiseSchedule().samplingTimesteps(4)[1]
        var rng = RandomGenerator(seed: 3)
        let xt = Tensor(randomNormal: [4, 12, 16, 16], std: 0.4, rng: &rng)
        let eps = model.unet.guidedNoise(xt, timestep: t, conditioning: c, scale: 2.5)
        let next = sampler.step(from: t).sample(xt: xt, eps: eps, rng: &rng).next
        let upstream: [Float] = [0.7, -1.1, 0.4, 1.3]
        func objective() -> Double {
            let lp = sampler.score(xt: xt, next: next, timestep: t, conditioning: c).logProb
            return zip(lp, upstream).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        GradCheck.checkParameters("sampler score", store: store,
                                  parameters: ["unet.conv_out.weight", "unet.conv_out.bias", "unet.up.res.conv2.weight",
                                               "unet.inner.cross.attn.v.weight", "unet.temb.time1.weight"],
                                  samples: 8, step: 2e-3, lossAndBackward: {
            sampler.backward(sampler.score(xt: xt, next: next, timestep: t, conditioning: c), upstream: upstream)
        }, loss: objective)
    }

    /// The guided batch's backward (dε_c = w·dε, dε_∅ = (1 − w)·dε) reaches every layer.
    func testGuidedBackwardMatchesFiniteDifferences() {
        let model = TinyDiffusion.model()
        let c = Sampler(model: model).conditioning(TinyDiffusion.prompts)
        var rng = RandomGenerator(seed: 8)
        let x = Tensor(randomNormal: [4, 12, 16, 16], rng: &rng)
        let g = Tensor(randomNormal: [4, 12, 16, 16], rng: &rng)
        let store = model.unet.store
        for w: Float in [0, 1, 3.5] {
            func objective() -> Double {
                let e = model.unet.guidedNoise(x, timestep: 640, conditioning: c, scale: w)
                return zip(e.data, g.data).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            }
            GradCheck.checkParameters("guided backward w=\(w)", store: store,
                                      parameters: ["unet.conv_out.weight", "unet.up.cross.attn.v.weight",
                                                   "unet.inner.self.attn.q.weight", "unet.temb.pooled.weight",
                                                   "unet.conv_in.weight"],
                                      samples: 8, step: 5e-2, lossAndBackward: {
                _ = model.unet.guidedNoise(x, timestep: 640, conditioning: c, scale: w)
                model.unet.guidedBackward(g, scale: w)
            }, loss: objective)
        }
    }

    private func assertClose(_ a: Tensor, _ b: Tensor, _ what: String, tolerance: Float = 1e-4,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        let diff = zip(a.data, b.data).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(diff, tolerance, "\(what): max difference \(diff)", file: file, line: line)
    }
}
