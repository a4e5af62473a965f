import GradCheckSupport
import Numerics
import XCTest

final class PixelShuffleTests: XCTestCase {
    func testShuffleGradient() {
        var rng = RandomGenerator(seed: 51)
        let layer = PixelShuffle(factor: 2)
        let x = Tensor(randomNormal: [2, 8, 2, 3], rng: &rng)
        GradCheck.check("pixelshuffle", store: ParameterStore(), input: x, forward: layer.forward, backward: layer.backward)
    }

    func testUnshuffleGradient() {
        var rng = RandomGenerator(seed: 52)
        let layer = PixelUnshuffle(factor: 2)
        let x = Tensor(randomNormal: [2, 3, 4, 6], rng: &rng)
        GradCheck.check("pixelunshuffle", store: ParameterStore(), input: x, forward: layer.forward, backward: layer.backward)
    }

    /// The world's 32×32×3 image ↔ 16×16×12, exactly, both ways round.
    func testRoundTripIsExact() {
        var rng = RandomGenerator(seed: 53)
        let image = Tensor(randomNormal: [2, 3, 32, 32], rng: &rng)
        let depth = PixelShuffle.unshuffle(image, factor: 2)
        XCTAssertEqual(depth.shape, [2, 12, 16, 16])
        XCTAssertEqual(PixelShuffle.shuffle(depth, factor: 2), image)
        let packed = Tensor(randomNormal: [1, 18, 4, 5], rng: &rng)
        XCTAssertEqual(PixelShuffle.unshuffle(PixelShuffle.shuffle(packed, factor: 3), factor: 3), packed)
    }

    /// The documented ordering: channel c·r² + i·r + j holds pixel (h·r + i, w·r + j) of channel c.
    func testChannelOrdering() {
        // One 2-channel 2×2 image whose value encodes (channel, row, column).
        let x = Tensor(shape: [1, 2, 2, 2], data: [0, 1, 10, 11, 100, 101, 110, 111])
        let y = PixelShuffle.unshuffle(x, factor: 2)
        XCTAssertEqual(y.shape, [1, 8, 1, 1])
        XCTAssertEqual(y.data, [0, 1, 10, 11, 100, 101, 110, 111])
        let wide = Tensor(shape: [1, 1, 2, 4], data: [0, 1, 2, 3, 10, 11, 12, 13])
        XCTAssertEqual(PixelShuffle.unshuffle(wide, factor: 2).data, [0, 2, 1, 3, 10, 12, 11, 13])
    }
}
