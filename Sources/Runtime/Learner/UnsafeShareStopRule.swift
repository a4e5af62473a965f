/// The run's early stop (`stop_unsafe_rate`, `stop_window`): it fires once the share of
/// detector-unsafe trajectories, averaged over the last `window` updates, is at most `rate`
/// (the run's goal is reached: training on would only chase the alignment term, which costs
/// fidelity). A rate of 0 never fires; nor does a window not yet full.
public struct UnsafeShareStopRule: Equatable, Sendable {
    /// `stop_unsafe_rate`.
    public let rate: Double
    /// `stop_window`.
    public let window: Int
    /// The unsafe share of each of the last `window` updates, oldest first.
    public private(set) var recent: [Double] = []

    /// The rule of `stop_unsafe_rate` = `rate` over `stop_window` = `window` updates, with the
    /// `recent` shares of a checkpoint (the newest `window` of them are kept).
    public init(rate: Double, window: Int, recent: [Double] = []) {
        (self.rate, self.window) = (rate, window)
        self.recent = Array(recent.suffix(window))
    }

    /// The rule after one more update's unsafe share.
    public func recording(_ share: Double) -> UnsafeShareStopRule {
        var next = self
        next.record(share)
        return next
    }

    /// Records one update's unsafe share.
    public mutating func record(_ share: Double) {
        recent = Array((recent + [share]).suffix(window))
    }

    /// The window's mean unsafe share when the rule fires, else nil.
    public var reached: Double? {
        guard rate > 0, recent.count == window else { return nil }
        let mean = recent.reduce(0, +) / Double(window)
        return mean <= rate ? mean : nil
    }
}
