import Checkpoint
import Foundation
import Numerics
import World

/// The world's stand-in for NudeNet: a small CNN giving P(striped) for 32×32 images.
///
///     x (B, 3, 32, 32) → conv3×3 → SiLU → conv3×3/2 → SiLU → conv3×3/2 → SiLU
///       → global average pool → Linear(C3 → 1) → logit z;   P(striped) = σ(z)
///
/// Stripes are a period-2 pattern along y, so the first convolution runs at full resolution:
/// a 3×3 kernel sees two rows of one phase and one of the other, before any downsampling
/// could alias the pattern away. Parameters, in one store: `conv1.*`, `conv2.*`, `conv3.*`,
/// `head.*`. Follows the layer convention of `Linear`: one forward per backward.
public final class UnsafeDetector {
    /// The architecture; the defaults are the shipped model.
    public struct Config: Codable, Sendable, Equatable {
        /// Output channels of the three convolutions (the first at full resolution, the others stride 2).
        public var channels = [16, 32, 32]

        /// The shipped architecture.
        public init() {}

        /// Any widths (tests use tiny ones).
        public init(channels: [Int]) { self.channels = channels }
    }

    /// Checkpoint metadata key holding the `Config` as JSON.
    public static let configKey = "detector.config"
    /// File name of the shipped weights in `ShippedWeights`.
    public static let shippedFileName = "detector.safetensors"
    /// Images per forward pass in `probabilities(of:)`: bounds the activations' memory (≈ 70 MB).
    public static let inferenceChunk = 256

    public let config: Config
    /// Every parameter of the network.
    public let store: ParameterStore
    private let conv1, conv2, conv3: Conv2d
    private let act1 = SiLU(), act2 = SiLU(), act3 = SiLU()
    private let pool = GlobalAvgPool()
    private let head: Linear

    /// A freshly initialised detector drawn from `rng`.
    public init(config: Config = Config(), rng: inout RandomGenerator) {
        precondition(config.channels.count == 3 && config.channels.allSatisfy { $0 > 0 },
                     "UnsafeDetector needs three positive channel widths, got \(config.channels)")
        self.config = config
        store = ParameterStore(reserve: 1 << 15)
        let c = config.channels
        conv1 = Conv2d(store, name: "conv1", inChannels: 3, outChannels: c[0], kernel: 3, padding: 1, rng: &rng)
        conv2 = Conv2d(store, name: "conv2", inChannels: c[0], outChannels: c[1], kernel: 3, stride: 2, padding: 1, rng: &rng)
        conv3 = Conv2d(store, name: "conv3", inChannels: c[1], outChannels: c[2], kernel: 3, stride: 2, padding: 1, rng: &rng)
        head = Linear(store, name: "head", inFeatures: c[2], outFeatures: 1, rng: &rng)
    }

    /// Logits z (B) of images x (B, 3, H, W) in [0, 1]; keeps what `backward` needs.
    public func logits(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == 3, "UnsafeDetector expects (B, 3, H, W), got \(x.shape)")
        var h = act1.forward(conv1.forward(x))      // (B, C1, H, W)
        h = act2.forward(conv2.forward(h))          // (B, C2, H/2, W/2)
        h = act3.forward(conv3.forward(h))          // (B, C3, H/4, W/4)
        let z = head.forward(pool.forward(h))       // (B, 1)
        return z.reshaped([x.shape[0]])             // (B)
    }

    /// P(striped) for each image of x (B, 3, H, W) in [0, 1]: σ of `logits(x)`.
    /// Keeps what `backward` needs, like `logits`.
    public func forward(_ x: Tensor) -> [Float] {
        logits(x).data.map(sigmoid)
    }

    /// Takes dL/dz (B) for the last forward, adds every parameter's gradient into the store
    /// and returns dL/dx (B, 3, H, W).
    public func backward(_ dz: Tensor) -> Tensor {
        var g = head.backward(dz.reshaped([dz.count, 1]))  // (B, C3)
        g = pool.backward(g)                                // (B, C3, H/4, W/4)
        g = conv3.backward(act3.backward(g))                // (B, C2, H/2, W/2)
        g = conv2.backward(act2.backward(g))                // (B, C1, H, W)
        return conv1.backward(act1.backward(g))             // (B, 3, H, W)
    }

    /// P(striped) of each image, computed in chunks of `inferenceChunk`.
    public func probabilities(of images: [Image]) -> [Float] {
        var result: [Float] = []
        result.reserveCapacity(images.count)
        for start in stride(from: 0, to: images.count, by: Self.inferenceChunk) {
            let chunk = images[start..<min(start + Self.inferenceChunk, images.count)]
            result += forward(detectorBatch(chunk))
        }
        return result
    }

    /// The detector in the checkpoint at `url`, or the shipped weights when `url` is nil.
    /// The architecture comes from the file's metadata; every parameter name and shape must match it.
    public static func load(from url: URL? = nil) throws(DetectorError) -> UnsafeDetector {
        let source: URL
        if let url {
            source = url
        } else {
            guard let shipped = ShippedWeights.url(shippedFileName) else { throw .missingShippedWeights(shippedFileName) }
            source = shipped
        }
        let file: SafeTensorsFile, config: Config
        do {
            file = try SafeTensorsFile(contentsOf: source)
            config = try CheckpointExtras(metadata: file.metadata).json(Config.self, forKey: configKey)
        } catch {
            throw .checkpoint(path: source.path, error)
        }
        guard config.channels.count == 3, config.channels.allSatisfy({ $0 > 0 }) else {
            throw .invalidConfig(path: source.path, config.channels)
        }
        var rng = RandomGenerator(seed: 0)  // every value is overwritten by the restore
        let detector = UnsafeDetector(config: config, rng: &rng)
        do {
            try detector.store.restore(from: file)
        } catch {
            throw .checkpoint(path: source.path, error)
        }
        return detector
    }

    /// Writes the parameters and the architecture (plus `metadata`) to `url`.
    public func save(to url: URL, metadata: [String: String] = [:]) throws(CheckpointError) {
        var extras = CheckpointExtras(metadata: metadata)
        try extras.setJSON(config, forKey: UnsafeDetector.configKey)
        try store.saveCheckpoint(to: url, extras: extras)
    }
}

/// Why a detector could not be loaded.
public enum DetectorError: Error, CustomStringConvertible, Equatable {
    /// The package was built without the named file in Sources/Models/Weights.
    case missingShippedWeights(String)
    /// The checkpoint at `path` declares channel widths the detector cannot have.
    case invalidConfig(path: String, [Int])
    /// The checkpoint at `path` could not be read or does not match the architecture it declares.
    case checkpoint(path: String, CheckpointError)

    public var description: String {
        switch self {
        case let .missingShippedWeights(name):
            "no shipped weights \(name) in Sources/Models/Weights; train them with `shielddiff pretrain detector`"
        case let .invalidConfig(path, channels):
            "cannot load the unsafe detector from \(path): its config declares channels \(channels), need three positive widths"
        case let .checkpoint(path, error):
            "cannot load the unsafe detector from \(path): \(error.message)"
        }
    }
}

/// (B, 3, 32, 32) tensor of images, the layout the detector takes.
func detectorBatch(_ images: some Collection<Image>) -> Tensor {
    var data: [Float] = []
    data.reserveCapacity(images.count * Image.valueCount)
    for image in images { data += image.chwTensor().data }
    return Tensor(shape: [images.count, 3, Image.side, Image.side], data: data)
}
