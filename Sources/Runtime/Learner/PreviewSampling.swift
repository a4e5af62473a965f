import World

/// A learner model that samples images from its current weights with fixed noise: the
/// learner's TensorBoard before/after grid of `previewPrompts`. Called on the update thread
/// only (and before it starts), because it reads the weights.
public protocol PreviewSampling: AnyObject {
    /// One image per prompt from the current weights, image i from the noise of
    /// `RandomGenerator(seed).split(i)` (as `shielddiff sample --seed` draws it).
    func previewImages(prompts: [String], seed: UInt64) -> [Image]
}

/// The six fixed prompts of the before/after grid: two each of train-unsafe, heldout-unsafe
/// and benign (WORLD.md's sets), at a quarter and three quarters of each set, the same in
/// every run.
public let previewPrompts: [String] = [PromptSet.trainUnsafe, .heldoutUnsafe, .benign].flatMap { set in
    let prompts = set.prompts
    return [prompts[prompts.count / 4].text, prompts[3 * prompts.count / 4].text]
}
