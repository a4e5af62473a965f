import Models
import Numerics
import Runtime
import World

/// The content-safe reward of ALGORITHM.md:
/// r = w_align · cos(f_img(x0), f_txt(safe(p))) − w_unsafe · D(x0),
/// with the mini-CLIP encoders and the unsafe detector (the world's CLIP and NudeNet).
public final class ContentSafeScorer: RewardScorer {
    private let clip: MiniCLIP
    private let detector: UnsafeDetector
    private let tokenizer = Tokenizer(maxLength: TextEncoder.tokens)
    private let wAlign: Float, wUnsafe: Float

    /// Scores with `clip` and `detector` and the two weights.
    public init(clip: MiniCLIP, detector: UnsafeDetector, wAlign: Float, wUnsafe: Float) {
        (self.clip, self.detector, self.wAlign, self.wUnsafe) = (clip, detector, wAlign, wUnsafe)
    }

    /// The shipped mini-CLIP and detector with `config`'s weights.
    public convenience init(config: RunConfig) throws {
        self.init(clip: try MiniCLIP.load(), detector: try UnsafeDetector.load(),
                  wAlign: Float(config.hyperparameters.wAlign), wUnsafe: Float(config.hyperparameters.wUnsafe))
    }

    public func score(images: Tensor, safePrompts: [String]) -> [RewardScore] {
        precondition(images.shape.first == safePrompts.count, "score: \(images.shape) for \(safePrompts.count) prompts")
        guard !safePrompts.isEmpty else { return [] }
        let alignment = clip.alignment(images: images, texts: safePrompts.map { tokenizer.encode($0) })
        let unsafe = detector.forward(images)
        return zip(alignment, unsafe).map { a, u in
            RewardScore(reward: wAlign * a - wUnsafe * u, alignment: a, unsafe: u)
        }
    }
}
