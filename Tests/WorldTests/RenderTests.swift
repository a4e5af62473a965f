import Numerics
import World
import XCTest

final class RenderTests: XCTestCase {
    /// The WORLD.md inequalities written literally, independent of `Shape.contains`.
    private func inside(_ shape: Shape, _ dx: Double, _ dy: Double, _ s: Double) -> Bool {
        switch shape {
        case .circle: return dx * dx + dy * dy <= s * s
        case .square: return max(abs(dx), abs(dy)) <= 0.85 * s
        case .triangle: return -s <= dy && dy <= 0.7 * s && abs(dx) <= 0.6 * (dy + s)
        case .cross: return (abs(dx) <= s && abs(dy) <= s / 3) || (abs(dy) <= s && abs(dx) <= s / 3)
        }
    }

    private func foregroundPixels(_ image: Image, _ colour: RGB) -> Set<[Int]> {
        var pixels = Set<[Int]>()
        for y in 0..<32 { for x in 0..<32 where image[x, y] == colour { pixels.insert([x, y]) } }
        return pixels
    }

    func testNominalShapesCoverExactlyTheFormulaPixels() {
        var counts: [String: Int] = [:]
        for shape in Shape.allCases {
            for size in Size.allCases {
                for position in Position.allCases {
                    let scene = Scene(background: .navy, color: .yellow, shape: shape, size: size,
                                      position: position, striped: false)
                    let got = foregroundPixels(scene.render(), Color.yellow.rgb)
                    var expected = Set<[Int]>()
                    let (cx, cy) = position.centre
                    for y in 0..<32 {
                        for x in 0..<32 where inside(shape, Double(x) + 0.5 - cx, Double(y) + 0.5 - cy, size.halfExtent) {
                            expected.insert([x, y])
                        }
                    }
                    XCTAssertEqual(got, expected, "\(shape) \(size) \(position)")
                    counts["\(size) \(shape)"] = got.count
                }
            }
        }
        print("nominal pixel counts:", counts.sorted { $0.key < $1.key })
        // By hand: a square of half-side 0.85·5 = 4.25 around an integer centre covers the
        // 8 × 8 pixel centres at offsets ±0.5 … ±3.5; 0.85·8.5 = 7.225 covers 14 × 14.
        XCTAssertEqual(counts["small square"], 64)
        XCTAssertEqual(counts["large square"], 196)
        // Cross, s = 5: arms |d| ≤ 5 (10 centres) by |d| ≤ 5/3 (4 centres): 2·10·4 − 4·4 = 64.
        XCTAssertEqual(counts["small cross"], 64)
        // Circle, s = 5: per quadrant columns at 0.5 … 4.5 hold 5, 5, 4, 4, 2 centres: 4·20 = 80.
        XCTAssertEqual(counts["small circle"], 80)
        // Triangle, s = 5: rows dy = −4.5 … 3.5 hold 0, 2, 4, 4, 6, 6, 8, 10, 10 centres = 50; this
        // counts the boundary ties dy = 3.5 = 0.7·s and |dx| = 0.6·(dy + s) at dy = −2.5 and 2.5.
        XCTAssertEqual(counts["small triangle"], 50)
    }

    func testStripedShapesLoseOddRowsToTheBackground() {
        for shape in Shape.allCases {
            let solid = Scene(background: .brown, color: .white, shape: shape, size: .large, position: .center,
                              striped: false)
            var striped = solid
            striped.striped = true
            let (a, b) = (solid.render(), striped.render())
            var oddRowsWithShape = 0
            for y in 0..<32 {
                for x in 0..<32 {
                    if y % 2 == 1 {
                        XCTAssertEqual(b[x, y], Background.brown.rgb)
                        if a[x, y] == Color.white.rgb { oddRowsWithShape += 1 }
                    } else {
                        XCTAssertEqual(b[x, y], a[x, y])
                    }
                }
            }
            XCTAssertGreaterThan(oddRowsWithShape, 20, "\(shape): stripes must remove shape pixels")
        }
    }

    func testJitterStaysWithinItsBounds() {
        var rng = RandomGenerator(seed: 7)
        var (minDx, maxDx, minScale, maxScale) = (1.0, -1.0, 2.0, 0.0)
        for i in 0..<2_000 {
            let scene = Scene(background: Background.allCases[i % 4], color: Color.allCases[i % 6],
                              shape: Shape.allCases[i % 4], size: Size.allCases[i % 2],
                              position: Position.allCases[i % 5], striped: i % 3 == 0)
            let p = scene.jitteredParameters(using: &rng)
            let (cx, cy) = scene.position.centre
            XCTAssertLessThanOrEqual(abs(p.centreX - cx), 1)
            XCTAssertLessThanOrEqual(abs(p.centreY - cy), 1)
            let scale = p.halfExtent / scene.size.halfExtent
            XCTAssert(scale >= 0.9 - 1e-6 && scale <= 1.1 + 1e-6, "scale \(scale)")
            (minDx, maxDx) = (min(minDx, p.centreX - cx), max(maxDx, p.centreX - cx))
            (minScale, maxScale) = (min(minScale, scale), max(maxScale, scale))
            for (got, nominal) in [(p.foreground, scene.color.rgb), (p.background, scene.background.rgb)] {
                for (g, n) in [(got.r, nominal.r), (got.g, nominal.g), (got.b, nominal.b)] {
                    XCTAssert(g >= 0 && g <= 1 && abs(g - n) <= 0.04 + 1e-6, "channel \(g) from \(n)")
                }
            }
            // Every pixel shows one of the two jittered colours; the render is the parameters'.
            let image = p.render()
            for y in 0..<32 { for x in 0..<32 { XCTAssert(image[x, y] == p.foreground || image[x, y] == p.background) } }
        }
        XCTAssert(minDx < -0.9 && maxDx > 0.9, "centre jitter spans [\(minDx), \(maxDx)]")
        XCTAssert(minScale < 0.91 && maxScale > 1.09, "scale jitter spans [\(minScale), \(maxScale)]")
    }

    func testTensorViewsAndTheirInverses() throws {
        var rng = RandomGenerator(seed: 3)
        let image = Scene(background: .gray, color: .red, shape: .triangle, size: .large, position: .left,
                          striped: true).render(jitter: &rng)
        let chw = image.chwTensor()
        XCTAssertEqual(chw.shape, [3, 32, 32])
        XCTAssertEqual(chw.data[2 * 1024 + 7 * 32 + 5], image[5, 7].b)
        XCTAssertEqual(try Image(chw: chw), image)
        XCTAssertEqual(try Image(hwc: image.pixels), image)
        XCTAssertThrowsError(try Image(hwc: [0.5, 0.5]))

        let s2d = image.spaceToDepth()
        XCTAssertEqual(s2d.shape, [12, 16, 16])
        // Pixel (x 5, y 7) is (j 2, dx 1), (i 3, dy 1); its blue channel (c 2) is 2·4 + 1·2 + 1 = 11.
        XCTAssertEqual(s2d.data[(11 * 16 + 3) * 16 + 2], image[5, 7].b)
        XCTAssertEqual(s2d.data[(4 * 16 + 3) * 16 + 2], image[4, 6].g)
        XCTAssertEqual(try Image(spaceToDepth: s2d), image)

        XCTAssertThrowsError(try Image(chw: s2d)) { error in
            XCTAssertEqual((error as? ImageShapeError)?.expected, [3, 32, 32])
            XCTAssertEqual((error as? ImageShapeError)?.got, [12, 16, 16])
        }
        let outOfRange = Tensor(repeating: 1.7, shape: [3, 32, 32])
        XCTAssertEqual(try Image(chw: outOfRange).pixels.max(), 1)
    }
}
