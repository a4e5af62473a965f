/// The shortest of `iterations` timed runs of `body`, after one untimed warm-up run
/// (the best run, because the machine is shared).
func bestSeconds(_ iterations: Int, _ body: () -> Void) -> Double {
    body()
    let clock = ContinuousClock()
    var best = Double.infinity
    for _ in 0..<max(iterations, 1) {
        let elapsed = clock.measure(body)
        best = min(best, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
    }
    return best
}
