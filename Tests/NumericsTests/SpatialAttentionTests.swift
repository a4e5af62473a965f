import GradCheckSupport
import Numerics
import XCTest

/// Inputs have std 1.5–2 for the reason given in AttentionTests.
final class SpatialAttentionTests: XCTestCase {
    func testTokenLayoutRoundTrips() {
        var rng = RandomGenerator(seed: 20)
        let x = Tensor(randomNormal: [2, 3, 4, 5], rng: &rng)
        let tokens = nchwToTokens(x)
        XCTAssertEqual(tokens.shape, [2, 20, 3])
        // token p of item b holds channel c of pixel p
        XCTAssertEqual(tokens.data[(1 * 20 + 7) * 3 + 2], x.data[(1 * 3 + 2) * 20 + 7])
        XCTAssertEqual(tokensToNCHW(tokens, height: 4, width: 5), x)
    }

    func testSpatialSelfAttentionGradient() {
        var rng = RandomGenerator(seed: 21)
        let store = ParameterStore()
        let layer = SpatialAttention(store, name: "sattn", channels: 4, heads: 2, rng: &rng)
        store.set(layer.attention.output.bias!, Tensor(randomNormal: [4], rng: &rng))
        let x = Tensor(randomNormal: [2, 4, 2, 3], std: 1.5, rng: &rng)
        GradCheck.check("spatial self-attention", store: store, input: x,
                        forward: { layer.forward($0) }, backward: { layer.backward($0).dx })
    }

    func testSpatialCrossAttentionGradientForContext() {
        var rng = RandomGenerator(seed: 22)
        let store = ParameterStore()
        let layer = SpatialAttention(store, name: "sxattn", channels: 4, contextDim: 6, heads: 2, rng: &rng)
        let x = Tensor(randomNormal: [2, 4, 2, 2], std: 2, rng: &rng)
        let context = Tensor(randomNormal: [2, 3, 6], std: 1.5, rng: &rng)
        let mask = KeyPaddingMask(lengths: [3, 2], keys: 3)
        GradCheck.check("spatial cross-attention, d/dx", store: store, input: x,
                        forward: { layer.forward($0, context: context, mask: mask) },
                        backward: { layer.backward($0).dx })
        GradCheck.check("spatial cross-attention, d/dcontext", store: store, input: context,
                        forward: { layer.forward(x, context: $0, mask: mask) },
                        backward: { layer.backward($0).dcontext ?? Tensor(zeros: [0]) })
    }
}
