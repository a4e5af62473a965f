import GradCheckSupport
import Numerics
import XCTest

final class LoRATests: XCTestCase {
    /// dx, dA, dB of an adapted Linear with a nonzero B (at B = 0, dA vanishes and proves nothing).
    func testLinearLoRAGradient() {
        var rng = RandomGenerator(seed: 31)
        let base = ParameterStore(), lora = ParameterStore()
        let layer = Linear(base, name: "fc", inFeatures: 6, outFeatures: 5, rng: &rng)
        base.set(layer.bias!, Tensor(randomNormal: [5], rng: &rng))
        let adapter = layer.attachLoRA(lora, name: "fc", rank: 3, alpha: 6, rng: &rng)
        lora.set(adapter.up.weight, Tensor(randomNormal: adapter.up.weight.shape, std: 0.5, rng: &rng))
        XCTAssertEqual(lora.parameters.map(\.name), ["fc.lora_A.weight", "fc.lora_B.weight"])
        let x = Tensor(randomNormal: [2, 3, 6], rng: &rng)
        GradCheck.check("linear lora", store: lora, input: x, forward: layer.forward, backward: layer.backward)
        XCTAssertTrue(base.grads.allSatisfy { $0 == 0 }, "the frozen base must get no gradient")
    }

    /// The same for convolutions over the geometries Conv2d lowers differently.
    func testConvLoRAGradient() {
        var rng = RandomGenerator(seed: 32)
        for (k, stride, padding) in [(3, 1, 1), (3, 2, 1), (1, 1, 0)] {
            let base = ParameterStore(), lora = ParameterStore()
            let conv = Conv2d(base, name: "c", inChannels: 3, outChannels: 4, kernel: k, stride: stride,
                              padding: padding, rng: &rng)
            base.set(conv.bias!, Tensor(randomNormal: [4], rng: &rng))
            let adapter = conv.attachLoRA(lora, name: "c", rank: 2, rng: &rng)
            lora.set(adapter.up.weight, Tensor(randomNormal: adapter.up.weight.shape, std: 0.5, rng: &rng))
            let x = Tensor(randomNormal: [2, 3, 5, 5], rng: &rng)
            GradCheck.check("conv lora k\(k) s\(stride) p\(padding)", store: lora, input: x,
                            forward: conv.forward, backward: conv.backward)
            XCTAssertTrue(base.grads.allSatisfy { $0 == 0 }, "k\(k): the frozen base must get no gradient")
        }
    }

    /// B = 0 at initialization: the adapted layer is exactly its base.
    func testFreshAdapterLeavesTheLayerUnchanged() {
        var rng = RandomGenerator(seed: 33)
        let base = ParameterStore(), lora = ParameterStore()
        let layer = Linear(base, name: "fc", inFeatures: 7, outFeatures: 4, rng: &rng)
        let conv = Conv2d(base, name: "c", inChannels: 2, outChannels: 3, kernel: 3, padding: 1, rng: &rng)
        let x = Tensor(randomNormal: [3, 7], rng: &rng), image = Tensor(randomNormal: [2, 2, 4, 4], rng: &rng)
        let (y, yc) = (layer.forward(x), conv.forward(image))
        let a = layer.attachLoRA(lora, name: "fc", rank: 2, rng: &rng)
        conv.attachLoRA(lora, name: "c", rank: 2, rng: &rng)
        XCTAssertEqual(layer.forward(x), y)
        XCTAssertEqual(conv.forward(image), yc)
        XCTAssertTrue(lora.tensor(a.down.weight).data.contains { $0 != 0 }, "A must start random")
    }

    /// After merge the base alone computes what base + adapter computed, and B is zero again.
    func testMergedLayerEqualsAdaptedLayer() {
        var rng = RandomGenerator(seed: 34)
        let base = ParameterStore(), lora = ParameterStore()
        let layer = Linear(base, name: "fc", inFeatures: 6, outFeatures: 5, rng: &rng)
        let conv = Conv2d(base, name: "c", inChannels: 3, outChannels: 4, kernel: 3, stride: 2, padding: 1, rng: &rng)
        let la = layer.attachLoRA(lora, name: "fc", rank: 2, alpha: 4, rng: &rng)
        let ca = conv.attachLoRA(lora, name: "c", rank: 3, rng: &rng)
        for p in [la.up.weight, ca.up.weight] { lora.set(p, Tensor(randomNormal: p.shape, rng: &rng)) }
        let x = Tensor(randomNormal: [4, 6], rng: &rng), image = Tensor(randomNormal: [2, 3, 6, 6], rng: &rng)
        let (adapted, adaptedConv) = (layer.forward(x), conv.forward(image))
        let weightBefore = base.tensor(layer.weight)
        layer.mergeLoRA()
        conv.mergeLoRA()
        XCTAssertNotEqual(base.tensor(layer.weight), weightBefore)
        XCTAssertTrue(lora.tensor(la.up.weight).data.allSatisfy { $0 == 0 })
        XCTAssertTrue(lora.tensor(ca.up.weight).data.allSatisfy { $0 == 0 })
        let (merged, mergedConv) = (layer.forward(x), conv.forward(image))
        let diff = zip(adapted.data + adaptedConv.data, merged.data + mergedConv.data).map { abs($0 - $1) }.max()!
        print("lora merge: max |adapted − merged| \(diff)")
        XCTAssertLessThan(diff, 1e-5)
    }

    /// A frozen layer returns the same dx and adds no parameter gradient.
    func testFrozenLayerSkipsParameterGradients() {
        var rng = RandomGenerator(seed: 35)
        let store = ParameterStore()
        let layer = Linear(store, name: "fc", inFeatures: 5, outFeatures: 3, rng: &rng)
        let conv = Conv2d(store, name: "c", inChannels: 2, outChannels: 3, kernel: 3, padding: 1, rng: &rng)
        let x = Tensor(randomNormal: [4, 5], rng: &rng), image = Tensor(randomNormal: [2, 2, 4, 4], rng: &rng)
        let dy = Tensor(randomNormal: [4, 3], rng: &rng), dyc = Tensor(randomNormal: [2, 3, 4, 4], rng: &rng)
        _ = layer.forward(x); _ = conv.forward(image)
        let (dx, dxc) = (layer.backward(dy), conv.backward(dyc))
        XCTAssertTrue(store.grads.contains { $0 != 0 })
        store.zeroGrads()
        layer.frozen = true
        conv.frozen = true
        _ = layer.forward(x); _ = conv.forward(image)
        XCTAssertEqual(layer.backward(dy), dx)
        XCTAssertEqual(conv.backward(dyc), dxc)
        XCTAssertTrue(store.grads.allSatisfy { $0 == 0 })
    }
}
