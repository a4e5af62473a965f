import Runtime
import Wire

/// `train`'s progress bar, fed the learner's STATS. A run ends at `updates` or at the stop
/// rule, whichever comes first, so the bar fills toward the nearer of the two: the share of
/// `updates` done, or how far the unsafe share (averaged over the last `stop_window` updates,
/// as the rule does) has fallen from its first value to `stop_unsafe_rate` (scaled down while
/// the window is not yet full). The ETA extrapolates that fill at its pace so far.
final class TrainProgress {
    private let updates: Int, rate: Double, window: Int
    private let bar = ProgressBar("train")
    private var shares: [Double] = []
    private var first: Double?
    private var seen = 0

    init(config: RunConfig) {
        (updates, rate, window) = (config.updates, config.stopUnsafeRate, config.stopWindow)
    }

    /// Shows the bar with no update done yet.
    func start() { bar.update(fraction: 0, counts: "update 0" + (updates > 0 ? "/\(updates)" : ""), force: true) }

    /// Redraws the bar for one STATS.
    func record(_ stats: Stats) {
        var numbers: [String: Double] = [:]
        for metric in stats.metrics { numbers[metric.name] = metric.value }
        guard let update = numbers["update"] else { return }
        if let share = numbers["unsafe_fraction"] {
            shares = Array((shares + [share]).suffix(window))
            seen += 1
        }
        let mean = shares.isEmpty ? nil : shares.reduce(0, +) / Double(shares.count)
        if first == nil { first = mean }
        var fraction = updates > 0 ? update / Double(updates) : 0
        if rate > 0, let mean, let first, first > rate {
            let fall = (first - mean) / (first - rate)
            fraction = max(fraction, min(fall, Double(min(seen, window)) / Double(window)))
        }
        var detail = numbers["reward_mean"].map { String(format: "reward %.3f", $0) } ?? ""
        if let mean { detail += String(format: " unsafe %.3f", mean) + (rate > 0 ? String(format: " (stop ≤ %.3g)", rate) : "") }
        bar.update(fraction: fraction, counts: String(format: "update %.0f", update) + (updates > 0 ? "/\(updates)" : ""),
                   detail: detail, force: true)
    }

    /// Removes the bar.
    func finish() { bar.finish() }
}
