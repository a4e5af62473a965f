import Foundation

/// A long task's progress bar for `Console`: the share done, what is counted, and the time
/// left at the pace so far (`ETA m:ss`). Redrawn at most ten times a second; `finish`
/// removes it. On a terminal only: elsewhere the commands' plain lines tell the progress.
final class ProgressBar {
    private let label: String
    private let started = Date()
    private var lastDrawn = Date.distantPast
    private static let cells = 24

    /// A bar whose lines start with `label`.
    init(_ label: String) { self.label = label }

    /// Whether bars are drawn (standard output is a terminal).
    static var isShown: Bool { Console.shared.isTerminal }

    /// Redraws the bar at `fraction` (clamped to [0, 1]) done, `counts` (e.g. "128/500
    /// images") and `detail` after it; `force` draws even within a tenth of a second of the last.
    func update(fraction: Double, counts: String, detail: String = "", force: Bool = false) {
        let now = Date()
        guard Self.isShown, force || now.timeIntervalSince(lastDrawn) >= 0.1 else { return }
        lastDrawn = now
        Console.shared.showBar(Self.render(label: label, fraction: fraction, counts: counts, detail: detail,
                                           elapsed: now.timeIntervalSince(started)))
    }

    /// Removes the bar.
    func finish() { if Self.isShown { Console.shared.showBar(nil) } }

    /// The bar's text: `label [=====>      ]  42% counts detail ETA m:ss` (ETA `?` before
    /// any progress).
    static func render(label: String, fraction: Double, counts: String, detail: String, elapsed: Double) -> String {
        let done = min(max(fraction.isFinite ? fraction : 0, 0), 1)
        let filled = Int(done * Double(cells))
        let arrow = filled < cells ? ">" : ""
        let cellsText = String(repeating: "=", count: filled) + arrow
            + String(repeating: " ", count: max(0, cells - filled - arrow.count))
        let eta = done > 0 ? clock(elapsed * (1 - done) / done) : "?"
        let parts = [label, "[\(cellsText)]", String(format: "%3.0f%%", done * 100), counts, detail, "ETA \(eta)"]
        return parts.filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// `m:ss` (or `h:mm:ss`) of `seconds`.
    static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        let (h, m, s) = (total / 3600, total / 60 % 60, total % 60)
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, s) : String(format: "%d:%02d", m, s)
    }
}
