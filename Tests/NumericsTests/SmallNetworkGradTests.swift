import Numerics
import XCTest

/// A whole small denoiser-shaped network checked end to end, so that the layers' backward
/// passes are shown to compose: conv → residual block (with a time embedding) → pre-norm
/// masked cross-attention residual → pool/upsample with a skip sum → group norm → SiLU → conv.
final class SmallNetworkGradTests: XCTestCase {
    final class TinyDenoiser {
        let convIn, convOut: Conv2d
        let block: ResidualBlock
        let attnNorm, outNorm: GroupNorm
        let attention: SpatialAttention
        let pool = AvgPool2x(), up = Upsample2x(), act = SiLU()
        let temb: Tensor, context: Tensor, mask: KeyPaddingMask

        init(_ store: ParameterStore, rng: inout RandomGenerator) {
            convIn = Conv2d(store, name: "in", inChannels: 3, outChannels: 8, kernel: 3, padding: 1, rng: &rng)
            block = ResidualBlock(store, name: "res", inChannels: 8, outChannels: 8, timeDim: 6, groups: 2, rng: &rng)
            attnNorm = GroupNorm(store, name: "attn.norm", channels: 8, groups: 2)
            attention = SpatialAttention(store, name: "attn", channels: 8, contextDim: 5, heads: 2, rng: &rng)
            outNorm = GroupNorm(store, name: "out.norm", channels: 8, groups: 2)
            convOut = Conv2d(store, name: "out", inChannels: 8, outChannels: 3, kernel: 3, padding: 1, rng: &rng)
            temb = Tensor(randomNormal: [2, 6], rng: &rng)       // temb: (B, 6)
            context = Tensor(randomNormal: [2, 4, 5], rng: &rng)  // context: (B, Tk, 5)
            mask = KeyPaddingMask(lengths: [4, 2], keys: 4)
        }

        // x: (B, 3, 8, 8) → (B, 3, 8, 8)
        func forward(_ x: Tensor) -> Tensor {
            let h0 = convIn.forward(x)                       // h0: (B, 8, 8, 8)
            var h1 = block.forward(h0, temb: temb)           // h1: (B, 8, 8, 8)
            h1.add(attention.forward(attnNorm.forward(h1), context: context, mask: mask))
            var h2 = up.forward(pool.forward(h1))            // h2: (B, 8, 8, 8), a coarse copy
            h2.add(h1)
            return convOut.forward(act.forward(outNorm.forward(h2)))
        }

        func backward(_ dy: Tensor) -> Tensor {
            let dh2 = outNorm.backward(act.backward(convOut.backward(dy)))
            var dh1 = pool.backward(up.backward(dh2))
            dh1.add(dh2)
            let (dNormed, _) = attention.backward(dh1)
            dh1.add(attnNorm.backward(dNormed))
            let (dh0, _) = block.backward(dh1)
            return convIn.backward(dh0)
        }
    }

    func testWholeSmallNetworkGradient() {
        var rng = RandomGenerator(seed: 21)
        let store = ParameterStore()
        let net = TinyDenoiser(store, rng: &rng)
        let x = Tensor(randomNormal: [2, 3, 8, 8], rng: &rng)
        GradCheck.check("small denoiser network", store: store, input: x, samples: 24,
                        forward: net.forward, backward: net.backward)
    }
}
