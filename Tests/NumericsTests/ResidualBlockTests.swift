import GradCheckSupport
import Numerics
import XCTest

final class ResidualBlockTests: XCTestCase {
    func testGradientWithChannelChange() { checkGradient(inChannels: 4, outChannels: 6) }
    func testGradientWithIdentitySkip() { checkGradient(inChannels: 4, outChannels: 4) }

    /// The harness takes one input, so x and temb travel as one flat vector and their
    /// gradients come back concatenated the same way: both dx and dtemb are checked.
    private func checkGradient(inChannels: Int, outChannels: Int, line: UInt = #line) {
        var rng = RandomGenerator(seed: 61)
        let store = ParameterStore()
        let block = ResidualBlock(store, name: "res", inChannels: inChannels, outChannels: outChannels,
                                  timeDim: 5, groups: 2, rng: &rng)
        // Move every parameter off its initial value (γ = 1, zero biases) to a generic point.
        for p in store.parameters {
            var t = store.tensor(p)
            for i in t.data.indices { t.data[i] += 0.3 * rng.nextGaussian() }
            store.set(p, t)
        }
        let xShape = [2, inChannels, 3, 3], tShape = [2, 5]
        let xCount = xShape.reduce(1, *)
        let x = Tensor(randomNormal: xShape, rng: &rng), temb = Tensor(randomNormal: tShape, rng: &rng)
        let packed = Tensor(shape: [xCount + temb.count], data: x.data + temb.data)
        GradCheck.check("residual \(inChannels)→\(outChannels)", store: store, input: packed,
                        forward: { v in
                            block.forward(Tensor(shape: xShape, data: Array(v.data[..<xCount])),
                                          temb: Tensor(shape: tShape, data: Array(v.data[xCount...])))
                        },
                        backward: { dy in
                            let (dx, dtemb) = block.backward(dy)
                            XCTAssertEqual(dtemb.shape, tShape)
                            return Tensor(shape: [xCount + dtemb.count], data: dx.data + dtemb.data)
                        }, line: line)
    }

    func testOutputShapeAndTimeConditioning() {
        var rng = RandomGenerator(seed: 62)
        let block = ResidualBlock(ParameterStore(), name: "res", inChannels: 4, outChannels: 8, timeDim: 3,
                                  groups: 4, rng: &rng)
        let x = Tensor(randomNormal: [2, 4, 6, 6], rng: &rng)
        let y0 = block.forward(x, temb: Tensor(zeros: [2, 3]))
        let y1 = block.forward(x, temb: Tensor(repeating: 1, shape: [2, 3]))
        XCTAssertEqual(y0.shape, [2, 8, 6, 6])
        XCTAssertNotEqual(y0, y1, "the time embedding must change the output")
    }
}
