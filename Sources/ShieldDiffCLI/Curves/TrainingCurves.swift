import Foundation
import World

/// The training-curves PNG `train` leaves in the run folder (`curves.png`): reward, unsafe
/// share, KL and clip fraction per update, read from metrics.jsonl, one line plot each in a
/// 2 × 2 grid of `panelWidth` × `panelHeight` panels with ticks at the first, middle and last
/// value of each axis. Drawn here and encoded by `World.PNG`, so the main job needs no
/// plotting package.
enum TrainingCurves {
    /// The metrics line's key, the panel's title and the line's colour, left to right, top to bottom.
    static let panels: [(key: String, title: String, colour: RGB)] = [
        ("reward_mean", "reward", RGB(0.12, 0.47, 0.71)),
        ("unsafe_fraction", "unsafe share", RGB(0.84, 0.15, 0.16)),
        ("approx_kl", "approx kl", RGB(0.17, 0.63, 0.17)),
        ("clipfrac", "clip fraction", RGB(0.58, 0.40, 0.74)),
    ]
    static let panelWidth = 320, panelHeight = 200, columns = 2
    /// The plot area inside a panel: margins for the title (top) and tick labels (left, bottom).
    static let margin = (left: 64, right: 14, top: 26, bottom: 24)

    /// Width and height of the image.
    static var size: (width: Int, height: Int) {
        (columns * panelWidth, (panels.count + columns - 1) / columns * panelHeight)
    }

    /// Writes the curves of the metrics file at `metrics` to `url`; false (nothing written)
    /// when the file has no update yet.
    @discardableResult
    static func write(metrics: URL, to url: URL) throws -> Bool {
        let series = try read(metrics)
        guard series.values.contains(where: { !$0.isEmpty }) else { return false }
        try PNG.write(render(series), to: url.path)
        return true
    }

    /// Each panel's (update, value) points; lines without the update or with a non-finite
    /// value (null in JSON) are left out.
    static func read(_ metrics: URL) throws -> [String: [(x: Double, y: Double)]] {
        let text = try String(contentsOf: metrics, encoding: .utf8)
        var series: [String: [(x: Double, y: Double)]] = [:]
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let update = (object["update"] as? NSNumber)?.doubleValue else { continue }
            for panel in panels {
                if let value = (object[panel.key] as? NSNumber)?.doubleValue, value.isFinite {
                    series[panel.key, default: []].append((update, value))
                }
            }
        }
        return series
    }

    /// The PNG of `series` (by metrics key).
    static func render(_ series: [String: [(x: Double, y: Double)]]) -> [UInt8] {
        var canvas = Canvas(width: size.width, height: size.height)
        for (index, panel) in panels.enumerated() {
            let x0 = (index % columns) * panelWidth, y0 = (index / columns) * panelHeight
            draw(series[panel.key] ?? [], title: panel.title, colour: panel.colour, into: &canvas, at: (x0, y0))
        }
        return PNG.encode(width: canvas.width, height: canvas.height, rgb: canvas.rgb)
    }

    private static func draw(_ points: [(x: Double, y: Double)], title: String, colour: RGB,
                             into canvas: inout Canvas, at origin: (x: Int, y: Int)) {
        let ink = RGB(0, 0, 0), grey = RGB(0.45, 0.45, 0.45)
        let left = origin.x + margin.left, right = origin.x + panelWidth - margin.right
        let top = origin.y + margin.top, bottom = origin.y + panelHeight - margin.bottom
        canvas.text(title, x: origin.x + (panelWidth - PixelFont.textWidth(title, scale: 2)) / 2, y: origin.y + 6,
                    scale: 2, colour: ink)
        canvas.line(left, top, left, bottom, ink)
        canvas.line(left, bottom, right, bottom, ink)
        guard let first = points.first else { return }

        let xs = axisRange(points.map(\.x)), ys = axisRange(points.map(\.y))
        func px(_ x: Double) -> Int { left + Int(((x - xs.low) / (xs.high - xs.low) * Double(right - left)).rounded()) }
        func py(_ y: Double) -> Int { bottom - Int(((y - ys.low) / (ys.high - ys.low) * Double(bottom - top)).rounded()) }
        for fraction in [0.0, 0.5, 1.0] {
            let y = ys.low + fraction * (ys.high - ys.low), row = py(y)
            canvas.line(left - 4, row, left, row, ink)
            let label = String(format: "%.3g", y)
            canvas.text(label, x: left - 6 - PixelFont.textWidth(label, scale: 1), y: row - PixelFont.height / 2,
                        scale: 1, colour: ink)
            let x = xs.low + fraction * (xs.high - xs.low), column = px(x)
            canvas.line(column, bottom, column, bottom + 4, ink)
            let xLabel = String(format: "%.0f", x)
            canvas.text(xLabel, x: column - PixelFont.textWidth(xLabel, scale: 1) / 2, y: bottom + 7, scale: 1, colour: ink)
        }
        canvas.text("update", x: right - PixelFont.textWidth("update", scale: 1), y: bottom + 15, scale: 1, colour: grey)

        var previous = (px(first.x), py(first.y))
        canvas.dot(previous.0, previous.1, colour)
        for point in points.dropFirst() {
            let next = (px(point.x), py(point.y))
            canvas.line(previous.0, previous.1, next.0, next.1, colour, thickness: 2)
            canvas.dot(next.0, next.1, colour)
            previous = next
        }
    }

    /// The values' range, widened when they are all equal so the line sits in the middle.
    private static func axisRange(_ values: [Double]) -> (low: Double, high: Double) {
        let low = values.min()!, high = values.max()!
        if high > low { return (low, high) }
        let pad = low == 0 ? 1 : abs(low) * 0.1
        return (low - pad, high + pad)
    }
}

/// An RGB buffer (HWC, values in [0, 1]) on a white background, with lines, dots and text.
struct Canvas {
    let width: Int, height: Int
    private(set) var rgb: [Float]

    init(width: Int, height: Int) {
        (self.width, self.height) = (width, height)
        rgb = [Float](repeating: 1, count: width * height * 3)
    }

    /// Sets one pixel (outside the canvas: nothing).
    mutating func set(_ x: Int, _ y: Int, _ colour: RGB) {
        guard (0..<width).contains(x), (0..<height).contains(y) else { return }
        let i = (y * width + x) * 3
        (rgb[i], rgb[i + 1], rgb[i + 2]) = (colour.r, colour.g, colour.b)
    }

    /// A straight line from (x0, y0) to (x1, y1), `thickness` pixels wide (Bresenham).
    mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ colour: RGB, thickness: Int = 1) {
        let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var (x, y, error) = (x0, y0, dx + dy)
        while true {
            for t in 0..<thickness { set(x + (dy == 0 ? 0 : t), y + (dy == 0 ? t : 0), colour) }
            if x == x1 && y == y1 { return }
            let twice = 2 * error
            if twice >= dy { error += dy; x += sx }
            if twice <= dx { error += dx; y += sy }
        }
    }

    /// A 3 × 3 dot centred on (x, y).
    mutating func dot(_ x: Int, _ y: Int, _ colour: RGB) {
        for dy in -1...1 { for dx in -1...1 { set(x + dx, y + dy, colour) } }
    }

    /// `text` in `PixelFont` with its top-left corner at (x, y), each font pixel `scale` × `scale`.
    mutating func text(_ text: String, x: Int, y: Int, scale: Int, colour: RGB) {
        for (index, character) in text.enumerated() {
            let left = x + index * (PixelFont.width + 1) * scale
            for row in 0..<PixelFont.height {
                for column in 0..<PixelFont.width where PixelFont.ink(character, x: column, y: row) {
                    for sy in 0..<scale { for sx in 0..<scale { set(left + column * scale + sx, y + row * scale + sy, colour) } }
                }
            }
        }
    }
}
