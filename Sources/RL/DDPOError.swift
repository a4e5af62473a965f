/// What the RL code rejects, each case naming the offending value.
public enum DDPOError: Error, CustomStringConvertible, Equatable {
    /// A configuration field outside its allowed range.
    case invalidConfig(field: String, value: String, expected: String)
    /// A trajectory whose shapes or values do not fit the learner.
    case invalidTrajectory(index: Int, reason: String)
    /// An update was asked for with no trajectories.
    case emptyBatch
    /// Prompt and reward lists of different lengths.
    case countMismatch(prompts: Int, rewards: Int)
    /// A reward that is NaN or infinite.
    case nonFiniteReward(index: Int, value: Float)
    /// Saved tracker state that cannot be read or breaks the tracker's invariants.
    case invalidTrackerState(String)
    /// The optimizer refused to step (e.g. a non-finite gradient norm).
    case optimizer(String)

    public var description: String {
        switch self {
        case let .invalidConfig(field, value, expected): "DDPO config: \(field) = \(value), expected \(expected)"
        case let .invalidTrajectory(index, reason): "DDPO: trajectory \(index): \(reason)"
        case .emptyBatch: "DDPO: an update needs at least one trajectory"
        case let .countMismatch(prompts, rewards): "DDPO: \(prompts) prompts for \(rewards) rewards"
        case let .nonFiniteReward(index, value): "DDPO: reward \(index) is \(value)"
        case let .invalidTrackerState(reason): "DDPO prompt-stat tracker state: \(reason)"
        case let .optimizer(reason): "DDPO optimizer: \(reason)"
        }
    }
}
