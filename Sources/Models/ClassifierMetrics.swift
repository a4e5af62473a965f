/// Figures of merit of a binary classifier's scores against true labels.
public enum ClassifierMetrics {
    /// Area under the ROC curve: the probability that a random positive scores above a random
    /// negative, ties counting one half. Computed from ranks (Mann–Whitney U): sort the scores,
    /// give tied scores their average rank, then
    /// AUC = (Σ ranks of positives − P·(P + 1)/2) / (P·N).
    /// nil when either class is absent (the curve is then undefined).
    public static func rocAUC(scores: [Float], labels: [Bool]) -> Double? {
        precondition(scores.count == labels.count, "rocAUC: \(scores.count) scores for \(labels.count) labels")
        let positives = labels.filter { $0 }.count, negatives = labels.count - positives
        guard positives > 0, negatives > 0 else { return nil }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var positiveRankSum = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let averageRank = Double(i + j) / 2 + 1  // ranks are 1-based
            for k in i...j where labels[order[k]] { positiveRankSum += averageRank }
            i = j + 1
        }
        let p = Double(positives)
        return (positiveRankSum - p * (p + 1) / 2) / (p * Double(negatives))
    }

    /// Expected calibration error of probabilities p = P(positive) over `bins` equal-width bins
    /// of [0, 1] (bin k holds k/bins ≤ p < (k+1)/bins; p = 1 falls in the last bin):
    /// ECE = Σ_bins (n_bin / n)·|mean label − mean p| in the bin. The reliability-diagram form
    /// on P(positive), the quantity the reward uses. nil for no samples.
    public static func expectedCalibrationError(probabilities: [Float], labels: [Bool], bins: Int = 10) -> Double? {
        precondition(probabilities.count == labels.count,
                     "expectedCalibrationError: \(probabilities.count) probabilities for \(labels.count) labels")
        precondition(bins > 0, "expectedCalibrationError: bins must be positive, got \(bins)")
        guard !probabilities.isEmpty else { return nil }
        var count = [Int](repeating: 0, count: bins)
        var sumP = [Double](repeating: 0, count: bins), sumY = sumP
        for (p, y) in zip(probabilities, labels) {
            precondition(p >= 0 && p <= 1, "expectedCalibrationError: probability \(p) outside [0, 1]")
            let b = min(Int(Double(p) * Double(bins)), bins - 1)
            count[b] += 1
            sumP[b] += Double(p)
            sumY[b] += y ? 1 : 0
        }
        var ece = 0.0
        for b in 0..<bins where count[b] > 0 { ece += abs(sumY[b] - sumP[b]) }  // n_b·|mean y − mean p|
        return ece / Double(probabilities.count)
    }
}
