import Foundation

/// Per-prompt reward statistics for DDPO advantages (ALGORITHM.md, "The update"):
/// keep the last `buffer` rewards of each prompt; with at least `minCount` of them
/// A = (r − mean_p)/(std_p + 1e−6), else the batch's mean and std; A clamped to
/// [−advantageClip, advantageClip]. Std is the population std (NumPy's default, as in the
/// reference implementation). The state is plain data, saved with learner checkpoints.
public struct PromptStatTracker: Codable, Equatable, Sendable {
    /// Rewards kept per prompt (oldest dropped first).
    public let buffer: Int
    /// Rewards a prompt needs before its own statistics are used.
    public let minCount: Int
    /// Advantages are clamped to ±advantageClip.
    public let advantageClip: Float
    /// The kept rewards of each prompt, oldest first.
    public private(set) var history: [String: [Float]] = [:]

    /// Requires buffer ≥ 1, 0 ≤ minCount ≤ buffer (a larger minCount would never be reached)
    /// and advantageClip > 0.
    public init(buffer: Int, minCount: Int, advantageClip: Float) throws(DDPOError) {
        guard buffer >= 1 else { throw .invalidConfig(field: "buffer", value: "\(buffer)", expected: "≥ 1") }
        guard (0...buffer).contains(minCount) else {
            throw .invalidConfig(field: "minCount", value: "\(minCount)", expected: "in 0...buffer (\(buffer))")
        }
        guard advantageClip > 0 else {
            throw .invalidConfig(field: "advantageClip", value: "\(advantageClip)", expected: "> 0")
        }
        (self.buffer, self.minCount, self.advantageClip) = (buffer, minCount, advantageClip)
    }

    /// Records the batch's rewards (rewards[i] for prompts[i]) and returns their advantages.
    /// Each prompt's statistics include this batch's rewards for it. `groups[i]` (default: all
    /// 0) keeps kinds of trajectories apart: a prompt's statistics and the batch fallback are
    /// per group, so e.g. adversarial DDPO's pushed trajectories (group 1), nearly all striped
    /// at first, are compared with each other, not against the plain ones' higher rewards.
    public mutating func advantages(prompts: [String], rewards: [Float], groups: [Int]? = nil) throws(DDPOError) -> [Float] {
        guard prompts.count == rewards.count else { throw .countMismatch(prompts: prompts.count, rewards: rewards.count) }
        precondition(groups == nil || groups!.count == prompts.count, "PromptStatTracker: \(groups?.count ?? 0) groups for \(prompts.count) prompts")
        if let bad = rewards.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteReward(index: bad, value: rewards[bad]) }
        let group = groups ?? Array(repeating: 0, count: prompts.count)
        var batchRows: [Int: [Int]] = [:]
        for i in rewards.indices { batchRows[group[i], default: []].append(i) }
        let batch = batchRows.mapValues { rows in Self.meanAndStd(rows.map { rewards[$0] }) }
        var rowsOf: [String: [Int]] = [:]
        for (i, p) in prompts.enumerated() { rowsOf[Self.key(p, group: group[i]), default: []].append(i) }
        var result = [Float](repeating: 0, count: rewards.count)
        for (key, rows) in rowsOf {
            let kept = (history[key, default: []] + rows.map { rewards[$0] }).suffix(buffer)
            history[key] = Array(kept)
            let (mean, std) = kept.count >= minCount ? Self.meanAndStd(Array(kept)) : batch[group[rows[0]]]!
            for i in rows {
                let a = Float((Double(rewards[i]) - mean) / (std + 1e-6))
                result[i] = min(max(a, -advantageClip), advantageClip)
            }
        }
        return result
    }

    /// The history key of `prompt` in `group`: the prompt itself in group 0.
    static func key(_ prompt: String, group: Int) -> String { group == 0 ? prompt : "[group \(group)] \(prompt)" }

    /// The state as JSON, keys sorted so equal states give equal strings.
    public func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Every field is finite by construction, so encoding cannot fail.
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    /// A tracker from `jsonString()` output, checked against the tracker's invariants.
    public init(json: String) throws(DDPOError) {
        let decoded: PromptStatTracker
        do { decoded = try JSONDecoder().decode(PromptStatTracker.self, from: Data(json.utf8)) } catch {
            throw .invalidTrackerState("unreadable JSON: \(error)")
        }
        try self.init(buffer: decoded.buffer, minCount: decoded.minCount, advantageClip: decoded.advantageClip)
        for (prompt, rewards) in decoded.history {
            guard rewards.count <= buffer else {
                throw .invalidTrackerState("prompt \"\(prompt)\" keeps \(rewards.count) rewards, buffer is \(buffer)")
            }
            guard rewards.allSatisfy(\.isFinite) else { throw .invalidTrackerState("prompt \"\(prompt)\" has a non-finite reward") }
        }
        history = decoded.history
    }

    /// Mean and population std, in Double.
    private static func meanAndStd(_ values: [Float]) -> (mean: Double, std: Double) {
        let n = Double(values.count)
        let mean = values.reduce(0.0) { $0 + Double($1) } / n
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        return (mean, variance.squareRoot())
    }
}
