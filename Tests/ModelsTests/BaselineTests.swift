import Diffusion
import GradCheckSupport
import Models
import Numerics
import World
import XCTest

/// Each baseline of issue 13 point 3 on a tiny model: what it must change and what it must not.
final class BaselineTests: XCTestCase {
    private let config = SamplerConfig(steps: 4, guidance: 3, eta: 1)

    // MARK: blocklist

    func testBlocklistStripsExactlyTheExplicitWords() {
        for p in PromptSet.explicit.prompts + PromptSet.benign.prompts + PromptSet.implicit.prompts {
            XCTAssertEqual(Blocklist.strip(p.text), p.safeSide.text, p.text)
            XCTAssertEqual(Blocklist.flags(p.text), p.isExplicit, p.text)
        }
        // Free text: as the tokenizer reads it (lower-cased, split on whitespace), nothing else touched.
        XCTAssertEqual(Blocklist.strip("A  Zebra horse WITH Stripes"), "A horse")
        XCTAssertEqual(Blocklist.strip("a red circle with a hat with bands"), "a red circle with a hat")
        XCTAssertEqual(Blocklist.strip("stripes bands striped"), "")
        XCTAssertEqual(Blocklist.strip("a wild stripy zebras circle"), "a wild stripy zebras circle",
                       "words outside the list (the tokenizer's <unk>) pass")
    }

    func testBlocklistSamplesTheSafeSidePrompt() {
        let model = TinyDiffusion.model()
        var blocked = config
        blocked.defense = .blocklist
        let prompts = TinyDiffusion.prompts
        let a = Sampler(model: model, config: blocked).sample(prompts: prompts, seed: 3)
        let b = Sampler(model: model, config: config).sample(prompts: prompts.map(Blocklist.strip), seed: 3)
        XCTAssertEqual(a.images, b.images)
        XCTAssertNotEqual(a.images[3], Sampler(model: model, config: config).sample(prompts: prompts, seed: 3).images[3],
                          "the explicit prompt's image changes")
    }

    // MARK: negative prompt

    func testNegativePromptReplacesOnlyTheUnconditionalBranch() {
        let model = TinyDiffusion.model()
        var negative = config
        negative.defense = .negativePrompt
        let c = Sampler(model: model, config: negative).conditioning(TinyDiffusion.prompts)
        let plain = Sampler(model: model, config: config).conditioning(TinyDiffusion.prompts)
        let concept = model.encode([String](repeating: SamplingDefense.unsafeConcept, count: 4))
        XCTAssertEqual(c.tokens.batchSlice(0..<4), plain.tokens.batchSlice(0..<4), "the prompts' branch is untouched")
        XCTAssertEqual(c.tokens.batchSlice(4..<8), concept.tokens)
        XCTAssertNotEqual(Sampler(model: model, config: negative).sample(prompts: TinyDiffusion.prompts, seed: 2).images,
                          Sampler(model: model, config: config).sample(prompts: TinyDiffusion.prompts, seed: 2).images)
        // At w = 1 guidance reads the prompt alone, so the negative prompt cannot matter.
        negative.guidance = 1
        let one = SamplerConfig(steps: 4, guidance: 1, eta: 1)
        let a = Sampler(model: model, config: negative).sample(prompts: TinyDiffusion.prompts, seed: 2, recordTrajectory: true)
        let b = Sampler(model: model, config: one).sample(prompts: TinyDiffusion.prompts, seed: 2, recordTrajectory: true)
        assertClose(a.trajectory!.latents.last!, b.trajectory!.latents.last!, "w = 1", tolerance: 1e-4)
    }

    // MARK: SLD

    func testSLDPresetsAreThePublishedOnesWithTheWarmupRescaled() {
        let published = SafeGuidance.Preset.allCases.map { SafeGuidance(preset: $0, steps: 50) }
        XCTAssertEqual(published.map(\.warmupSteps), [15, 10, 7, 0])
        XCTAssertEqual(published.map(\.scale), [20, 1000, 2000, 5000])
        XCTAssertEqual(published.map(\.threshold), [0, 0.01, 0.025, 1])
        XCTAssertEqual(published.map(\.momentumScale), [0, 0.3, 0.5, 0.5])
        XCTAssertEqual(published.map(\.momentumBeta), [0, 0.4, 0.7, 0.7])
        XCTAssertEqual(SafeGuidance.Preset.allCases.map { SafeGuidance(preset: $0, steps: 10).warmupSteps }, [3, 2, 1, 0])
        XCTAssertEqual([SamplingDefense.sldWeak, .sldMedium, .sldStrong, .sldMax].map { $0.safeGuidance(steps: 10)!.warmupSteps },
                       [3, 2, 1, 0])
        XCTAssertNil(SamplingDefense.negativePrompt.safeGuidance(steps: 10))
    }

    /// The reference formulas on numbers worked by hand, over two steps (momentum carried).
    func testSLDStepMatchesTheReferenceFormulas() {
        let g = SafeGuidance(warmupSteps: 1, scale: 10, threshold: 0.05, momentumScale: 0.5, momentumBeta: 0.4)
        let u = Tensor(shape: [1, 3], data: [0, 0, 0])
        let c = Tensor(shape: [1, 3], data: [1, 0.2, 0.1])
        let s = Tensor(shape: [1, 3], data: [0.5, 0.19, 0.3])  // ε_c − ε_S = 0.5 (≥ λ: off), 0.01, −0.2
        var nu: Tensor?
        // Step 0 (warm-up): plain guidance; γ = μ(ε_S − ε_∅) with μ = 0, min(1, 0.1) = 0.1, min(1, 2) = 1.
        let e0 = g.noise(unconditional: u, conditional: c, concept: s, scale: 2, step: 0, momentum: &nu)
        XCTAssertEqual(e0.data, [2, 0.4, 0.2])
        let gamma0: [Float] = [0, 0.1 * 0.19, 1 * 0.3]
        for i in 0..<3 { XCTAssertEqual(nu!.data[i], 0.6 * gamma0[i], accuracy: 1e-6) }
        // Step 1: γ = μ(ε_S − ε_∅) + s_m·ν, subtracted inside the guidance term.
        let e1 = g.noise(unconditional: u, conditional: c, concept: s, scale: 2, step: 1, momentum: &nu)
        for i in 0..<3 {
            let gamma1 = gamma0[i] + 0.5 * 0.6 * gamma0[i]
            XCTAssertEqual(e1.data[i], 2 * (c.data[i] - gamma1), accuracy: 1e-6, "element \(i)")
        }
    }

    func testSLDWithZeroScaleIsPlainGuidance() {
        var rng = RandomGenerator(seed: 5)
        let (u, c, s) = (Tensor(randomNormal: [2, 12, 4, 4], rng: &rng), Tensor(randomNormal: [2, 12, 4, 4], rng: &rng),
                         Tensor(randomNormal: [2, 12, 4, 4], rng: &rng))
        let zero = SafeGuidance(warmupSteps: 0, scale: 0, threshold: 1, momentumScale: 0.5, momentumBeta: 0.7)
        var nu: Tensor?
        for step in 0..<3 {
            XCTAssertEqual(zero.noise(unconditional: u, conditional: c, concept: s, scale: 3, step: step, momentum: &nu),
                           guidedNoise(unconditional: u, conditional: c, scale: 3), "step \(step)")
        }
        // Through the sampler: SLD that never leaves its warm-up samples what plain guidance does.
        let model = TinyDiffusion.model()
        let plain = Sampler(model: model, config: config).sample(prompts: TinyDiffusion.prompts, seed: 8, recordTrajectory: true)
        var sld = config
        sld.defense = .sldWeak
        sld.steps = 4  // warm-up round(15·4/50) = 1 step: the first step is plain, later ones are not
        let weak = Sampler(model: model, config: sld).sample(prompts: TinyDiffusion.prompts, seed: 8, recordTrajectory: true)
        // (a 3B batch instead of 2B: BLAS rounding only, amplified by the tiny model's large ε)
        assertClose(weak.trajectory!.latents[1], plain.trajectory!.latents[1], "warm-up step", tolerance: 5e-3)
        let after = maxAbsDifference(weak.trajectory!.latents.last!, plain.trajectory!.latents.last!)
        XCTAssertGreaterThan(after, 5e-2, "after the warm-up the safety term changes the images: \(after)")
    }

    /// The first active step moves ε against the concept's direction: (ε_SLD − ε) · (ε_S − ε_∅) < 0.
    func testSLDSteersAwayFromTheConcept() {
        let model = TinyDiffusion.model()
        var rng = RandomGenerator(seed: 1)
        let x = Tensor(randomNormal: [4, 12, 16, 16], rng: &rng)
        let sampler = Sampler(model: model, config: config)
        let c = sampler.conditioning(TinyDiffusion.prompts)
        let concept = model.encode([SamplingDefense.unsafeConcept])
        let guidance = SamplingDefense.sldMax.safeGuidance(steps: 4)!
        var nu: Tensor?
        let safe = model.unet.safeGuidedNoise(x, timestep: 700, conditioning: c, concept: concept, scale: 3,
                                              guidance: guidance, step: 0, momentum: &nu)
        let plain = model.unet.guidedNoise(x, timestep: 700, conditioning: c, scale: 3)
        let uncond = model.unet.guidedNoise(x, timestep: 700, conditioning: c, scale: 0)
        let conceptOnly = Sampler(model: model, config: config).conditioning([String](repeating: SamplingDefense.unsafeConcept, count: 4))
        let eS = model.unet.guidedNoise(x, timestep: 700, conditioning: conceptOnly, scale: 1)
        var dot = 0.0
        for i in safe.data.indices { dot += Double(safe.data[i] - plain.data[i]) * Double(eS.data[i] - uncond.data[i]) }
        XCTAssertLessThan(dot, 0)
    }

    // MARK: UCE

    /// On a text tower wide enough to hold the vocabulary apart, UCE moves benign tokens'
    /// projections little, moves the explicit words' projections most of the way to the null's,
    /// and edits nothing but the six cross-attention key/value projections.
    func testUCEPreservesOtherWordsAndMapsTheErasedToTheNull() {
        let model = BaselineTests.wideTextModel()
        let before = Array(model.unet.store.values)
        let key = model.unet.store.parameter(named: "unet.down.cross.attn.k.weight")!
        let old = model.unet.store.tensor(key)
        let erase = stride(from: 0, to: 19_200, by: 64).map { PromptSet.explicit.prompts[$0].text }
        let preserve = stride(from: 0, to: 3_840, by: 13).map { PromptSet.benign.prompts[$0].text }
        let unedited = ConceptEditing.pairs(model, erase: erase, preserve: preserve)
        var weights = ConceptEditing.Weights()
        weights.neighbours = 0
        let report = ConceptEditing.edit(model, erase: erase, preserve: preserve, weights: weights)
        print("uce tiny: preserve error \(report.preserveError), erase error \(report.eraseError)")
        XCTAssertEqual(report.layers.count, 6)
        XCTAssertLessThan(report.preserveError, 0.2)
        XCTAssertLessThan(report.eraseError, 0.7)
        // Only the key/value weights changed.
        let after = model.unet.store.values
        for p in model.unet.store.parameters {
            let changed = (p.offset..<(p.offset + p.count)).contains { before[$0] != after[$0] }
            let edited = p.name.contains(".cross.attn.k.") || p.name.contains(".cross.attn.v.")
            XCTAssertEqual(changed, edited, p.name)
        }
        // A key projection, measured directly: W'c vs W c on held-out benign tokens, and W'c_e vs W·null for a struck word.
        let w0 = ConceptEditing.pairs(model, erase: [], preserve: stride(from: 5, to: 3_840, by: 97).map { PromptSet.benign.prompts[$0].text }).preserve
        let new = model.unet.store.tensor(key)
        var moved = 0.0, size = 0.0
        for c in w0 {
            let (a, b) = (project(old, c), project(new, c))
            moved += zip(a, b).reduce(0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
            size += a.reduce(0) { $0 + Double($1 * $1) }
        }
        print("uce tiny: held-out benign keys move \((moved / size).squareRoot())")
        XCTAssertLessThan((moved / size).squareRoot(), 0.25, "held-out benign keys move little")
        let struck = unedited.erase.filter { pair in pair.target == unedited.preserve[1] }  // → the null's end token
        XCTAssertFalse(struck.isEmpty)
        var before2 = 0.0, after2 = 0.0
        for pair in struck {
            let target = project(old, pair.target)
            before2 += zip(project(old, pair.context), target).reduce(0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
            after2 += zip(project(new, pair.context), target).reduce(0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
        }
        print("uce tiny: explicit words' keys to the null's: \(before2) → \(after2)")
        XCTAssertLessThan(after2, 0.5 * before2, "explicit words' keys move toward the null's")
    }

    /// The solve is exact when a linear map fits every pair: it recovers that map.
    func testUCETransformRecoversAConsistentMap() {
        var rng = RandomGenerator(seed: 3)
        let d = 6
        let a = (0..<(d * d)).map { i in Float(i % (d + 1) == 0 ? 1 : 0) + 0.2 * rng.nextGaussian() }
        func apply(_ c: [Float]) -> [Float] { (0..<d).map { i in (0..<d).reduce(0) { $0 + a[i * d + $1] * c[$1] } } }
        var pairs = ConceptEditing.Pairs()
        for _ in 0..<40 {
            let c = (0..<d).map { _ in rng.nextGaussian() }
            pairs.erase.append((c, apply(c)))
        }
        var weights = ConceptEditing.Weights()
        weights.regularization = 1e-9
        let t = ConceptEditing.transform(pairs, dim: d, weights: weights)
        for i in 0..<(d * d) { XCTAssertEqual(t[i], Double(a[i]), accuracy: 1e-5) }
    }

    // MARK: ESD

    func testESDLossGradientMatchesFiniteDifferences() {
        let model = TinyDiffusion.model()
        var esd = ErasureConfig()
        esd.variant = .full
        esd.batchSize = 2
        let trainer = ErasureTrainer(model: model, config: esd)
        var rng = RandomGenerator(seed: 4)
        let x = Tensor(randomNormal: [2, 12, 16, 16], rng: &rng)
        let target = Tensor(randomNormal: [2, 12, 16, 16], rng: &rng)
        let names = ["unet.down.cross.attn.k.weight", "unet.up.cross.attn.v.weight", "unet.inner.cross.attn.q.weight",
                     "unet.mid.res.conv1.weight", "unet.conv_out.weight"].filter { model.unet.store.parameter(named: $0) != nil }
        XCTAssertGreaterThanOrEqual(names.count, 4, "parameter names of the tiny denoiser")
        GradCheck.checkParameters(
            "ESD loss", store: model.unet.store, parameters: names, samples: 12, step: 1e-2,
            lossAndBackward: { _ = trainer.loss(x, timestep: 600, target: target, backward: true) },
            loss: { Double(trainer.loss(x, timestep: 600, target: target, backward: false)) })
    }

    func testESDTrainingClosesTheStripedGapAndXattnTouchesOnlyCrossAttention() throws {
        for variant in ErasureConfig.Variant.allCases {
            let model = TinyDiffusion.model()
            let before = Array(model.unet.store.values)
            var esd = ErasureConfig()
            (esd.variant, esd.iterations, esd.batchSize, esd.learningRate, esd.steps) = (variant, 40, 4, 3e-3, 4)
            let trainer = ErasureTrainer(model: model, config: esd)
            let gap0 = trainer.gap(seed: 99)
            try trainer.train()
            let gap1 = trainer.gap(seed: 99)
            XCTAssertLessThan(gap1, 0.7 * gap0, "\(variant): the ESD gap must close (\(gap0) → \(gap1))")
            let after = model.unet.store.values
            for p in model.unet.store.parameters {
                let changed = (p.offset..<(p.offset + p.count)).contains { before[$0] != after[$0] }
                if variant == .xattn {
                    XCTAssertEqual(changed, ErasureTrainer.isCrossAttention(p.name), "\(variant) \(p.name)")
                } else if p.name.contains("conv_out.weight") {
                    XCTAssertTrue(changed, "full: \(p.name)")
                }
            }
        }
    }

    // MARK: helpers

    /// A tiny denoiser over a 32-wide text tower (the UCE edit needs room to keep words apart).
    static func wideTextModel() -> DiffusionModel {
        var rng = RandomGenerator(seed: 21)
        let textStore = ParameterStore()
        let text = TextEncoder(textStore, name: "text",
                               config: .init(vocabulary: Tokenizer().vocabularySize, tokens: TextEncoder.tokens, width: 32,
                                             heads: 2, layers: 1, mlpWidth: 32), rng: &rng)
        var unetConfig = TinyDiffusion.unetConfig
        (unetConfig.contextDim, unetConfig.pooledDim) = (32, 32)
        let unet = UNet(config: unetConfig, rng: &rng)
        TinyDiffusion.perturb(unet.store, rng: &rng)
        return DiffusionModel(textStore: textStore, textEncoder: text, unet: unet)
    }

    private func project(_ w: Tensor, _ c: [Float]) -> [Float] {
        let (rows, cols) = (w.shape[0], w.shape[1])
        return (0..<rows).map { r in (0..<cols).reduce(0) { $0 + w.data[r * cols + $1] * c[$1] } }
    }

    private func assertClose(_ a: Tensor, _ b: Tensor, _ what: String, tolerance: Float,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        XCTAssertLessThanOrEqual(maxAbsDifference(a, b), tolerance, what, file: file, line: line)
    }

    private func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.data, b.data).map { abs($0 - $1) }.max() ?? 0
    }
}

