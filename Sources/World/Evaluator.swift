/// What an image shows, read from its pixels alone by `Evaluator`.
public struct GroundTruth: Equatable, Sendable {
    /// Most common background label on the border; nil if no border pixel has one.
    public var background: Background?
    /// The object's colour; nil without an object.
    public var color: Color?
    /// The best-fitting template's shape; nil without an object.
    public var shape: Shape?
    /// The best-fitting template's size; nil without an object.
    public var size: Size?
    /// The nominal position nearest the fitted centre; nil without an object.
    public var position: Position?
    /// Whether the best-fitting template is the striped one (false without an object).
    public var striped: Bool
    /// Whether some foreground colour covers at least `Evaluator.minimumObjectPixels` pixels.
    public var hasObject: Bool
    /// IoU of the best template with the object mask (0 without an object): how shape-like the
    /// object is.
    public var fitIoU: Double

    /// A ground truth from its fields (for tests and comparisons).
    public init(background: Background?, color: Color?, shape: Shape?, size: Size?, position: Position?,
                striped: Bool, hasObject: Bool, fitIoU: Double) {
        self.background = background
        self.color = color
        self.shape = shape
        self.size = size
        self.position = position
        self.striped = striped
        self.hasObject = hasObject
        self.fitIoU = fitIoU
    }
}

/// The referee of WORLD.md, "Ground truth from pixels".
///
/// 1. Each pixel gets the label of the nearest of the 10 palette colours (Euclidean in RGB;
///    ties go to the earlier of backgrounds then foregrounds, in declaration order).
/// 2. `background`: most common background label among the 124 border pixels.
/// 3. `color`: most common foreground label over the image (ties: declaration order); fewer
///    than 4 such pixels means no object.
/// 4. The object mask (pixels of that label) is fitted by the best IoU over every shape, both
///    sizes, scales 0.9 / 1.0 / 1.1 of the nominal half-extent, centres centroid + (i, j)·0.5 px
///    for i, j in −4...4 (81 centres within ±2 px of the mask centroid), each template solid and
///    striped (solid ∧ even rows): 3,888 templates. Strictly better IoU wins, so ties go to the
///    first in that loop order (shape, size, scale, centre y, centre x, solid before striped).
/// 5. `position`: the nominal centre nearest to the fitted centre.
///
/// Masks are 32 row bit sets, and a template row is one interval of bits (every shape is
/// convex along rows), so one template costs a few popcounts per covered row.
public enum Evaluator {
    /// Below this many pixels of the most common foreground label there is no object.
    public static let minimumObjectPixels = 4
    /// The template scales of the nominal half-extent.
    public static let scales: [Double] = [0.9, 1.0, 1.1]
    /// Centre offsets from the mask centroid on each axis, in pixels.
    public static let centreOffsets: [Double] = (-4...4).map { Double($0) * 0.5 }

    private static let palette: [RGB] = Background.allCases.map(\.rgb) + Color.allCases.map(\.rgb)
    private static let paletteChannels: [Float] = palette.flatMap { [$0.r, $0.g, $0.b] }
    private static let backgroundCount = Background.allCases.count

    /// Reads the ground truth of an image.
    public static func evaluate(_ image: Image) -> GroundTruth {
        let side = Image.side
        let labels = nearestPaletteLabels(image)  // (32, 32), row-major
        var borderCounts = [Int](repeating: 0, count: backgroundCount)
        var foregroundCounts = [Int](repeating: 0, count: palette.count - backgroundCount)
        for y in 0..<side {
            for x in 0..<side {
                let label = labels[y * side + x]
                if label >= backgroundCount {
                    foregroundCounts[label - backgroundCount] += 1
                } else if y == 0 || y == side - 1 || x == 0 || x == side - 1 {
                    borderCounts[label] += 1
                }
            }
        }
        let bgIndex = argmax(borderCounts)
        var truth = GroundTruth(background: borderCounts[bgIndex] > 0 ? Background.allCases[bgIndex] : nil,
                                color: nil, shape: nil, size: nil, position: nil, striped: false,
                                hasObject: false, fitIoU: 0)
        let fgIndex = argmax(foregroundCounts)
        guard foregroundCounts[fgIndex] >= minimumObjectPixels else { return truth }

        var mask = [UInt32](repeating: 0, count: side)  // bit x of row y: pixel (x, y) is the object
        var (sumX, sumY) = (0.0, 0.0)
        for y in 0..<side {
            for x in 0..<side where labels[y * side + x] == backgroundCount + fgIndex {
                mask[y] |= 1 << UInt32(x)
                sumX += Double(x) + 0.5
                sumY += Double(y) + 0.5
            }
        }
        let count = Double(foregroundCounts[fgIndex])
        let fit = bestFit(mask: mask, centroid: (sumX / count, sumY / count))
        truth.hasObject = true
        truth.color = Color.allCases[fgIndex]
        truth.shape = fit.shape
        truth.size = fit.size
        truth.striped = fit.striped
        truth.fitIoU = fit.iou
        truth.position = Position.allCases.min { a, b in
            distanceSquared(a.centre, fit.centre) < distanceSquared(b.centre, fit.centre)
        }
        return truth
    }

    private struct Fit {
        var iou = -1.0
        var shape = Shape.circle
        var size = Size.small
        var centre = (x: 0.0, y: 0.0)
        var striped = false
    }

    private static func bestFit(mask: [UInt32], centroid: (x: Double, y: Double)) -> Fit {
        let side = Image.side
        let maskCount = mask.reduce(0) { $0 + $1.nonzeroBitCount }
        var best = Fit()
        var halfWidthStorage = [Double](repeating: -1, count: side)  // per row; −1: row misses the template
        mask.withUnsafeBufferPointer { mask in
            halfWidthStorage.withUnsafeMutableBufferPointer { halfWidths in
                for shape in Shape.allCases {
                    for size in Size.allCases {
                        for scale in scales {
                            let s = size.halfExtent * scale
                            for oy in centreOffsets {
                                let cy = centroid.y + oy
                                var (firstRow, lastRow) = (side, -1)
                                for y in 0..<side {
                                    halfWidths[y] = shape.rowHalfWidth(dy: Double(y) + 0.5 - cy, halfExtent: s) ?? -1
                                    if halfWidths[y] >= 0 { firstRow = min(firstRow, y); lastRow = y }
                                }
                                guard firstRow <= lastRow else { continue }
                                for ox in centreOffsets {
                                    let cx = centroid.x + ox
                                    // Solid template: all rows; striped: even rows only.
                                    var (inter, area, interEven, areaEven) = (0, 0, 0, 0)
                                    for y in firstRow...lastRow where halfWidths[y] >= 0 {
                                        let w = halfWidths[y]
                                        // Pixel x is inside when |x + 0.5 − cx| ≤ w. Shifted by 64 the
                                        // bounds are positive (|cx| < 40, w < 10), so truncation floors;
                                        // this avoids libm ceil/floor calls on baseline x86-64.
                                        let (left, right) = (cx - w - 0.5 + 64, cx + w - 0.5 + 64)
                                        let leftFloor = Int(left)
                                        let lo = max(0, (Double(leftFloor) < left ? leftFloor + 1 : leftFloor) - 64)
                                        let hi = min(side - 1, Int(right) - 64)
                                        guard lo <= hi else { continue }
                                        let bits = UInt32(truncatingIfNeeded: ((UInt64(1) << UInt64(hi - lo + 1)) - 1) << UInt64(lo))
                                        let i = (bits & mask[y]).nonzeroBitCount
                                        let a = hi - lo + 1
                                        inter += i
                                        area += a
                                        if y & 1 == 0 {
                                            interEven += i
                                            areaEven += a
                                        }
                                    }
                                    let solid = Double(inter) / Double(maskCount + area - inter)
                                    let striped = Double(interEven) / Double(maskCount + areaEven - interEven)
                                    if solid > best.iou {
                                        best = Fit(iou: solid, shape: shape, size: size, centre: (cx, cy), striped: false)
                                    }
                                    if striped > best.iou {
                                        best = Fit(iou: striped, shape: shape, size: size, centre: (cx, cy), striped: true)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return best
    }

    /// The palette index (backgrounds, then foregrounds) nearest to each pixel, row-major.
    private static func nearestPaletteLabels(_ image: Image) -> [Int] {
        let n = Image.side * Image.side
        var labels = [Int](repeating: 0, count: n)
        image.pixels.withUnsafeBufferPointer { p in
            paletteChannels.withUnsafeBufferPointer { pal in
                for k in 0..<n {
                    let (r, g, b) = (p[3 * k], p[3 * k + 1], p[3 * k + 2])
                    var (bestLabel, bestDistance) = (0, Float.infinity)
                    for label in 0..<(pal.count / 3) {
                        let (dr, dg, db) = (r - pal[3 * label], g - pal[3 * label + 1], b - pal[3 * label + 2])
                        let d = dr * dr + dg * dg + db * db
                        if d < bestDistance { (bestLabel, bestDistance) = (label, d) }
                    }
                    labels[k] = bestLabel
                }
            }
        }
        return labels
    }

    /// Index of the first maximum.
    private static func argmax(_ counts: [Int]) -> Int {
        var best = 0
        for i in counts.indices where counts[i] > counts[best] { best = i }
        return best
    }

    private static func distanceSquared(_ a: (x: Double, y: Double), _ b: (x: Double, y: Double)) -> Double {
        (a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)
    }
}
