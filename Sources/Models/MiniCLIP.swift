import Foundation
import Checkpoint
import Numerics
import World

/// The world's stand-in for CLIP: a text and an image tower, linear projections into one
/// shared space, unit normalisation and a learned logit scale, trained by `ContrastiveLoss`.
///
/// Parameters, in one store: `text.*` (`TextEncoder`), `image.*` (`ImageEncoder`),
/// `text_proj.weight`, `image_proj.weight` (E, D) and `logit_scale` (1) holding log s.
/// Follows the layer convention of `Linear`: one forward per backward.
public final class MiniCLIP {
    /// The architecture; the defaults are the shipped model.
    public struct Config: Codable, Sendable, Equatable {
        /// The text tower.
        public var text = TextEncoder.Config()
        /// The image tower.
        public var image = ImageEncoder.Config()
        /// E: features of the shared embedding space.
        public var embedding = 64
        /// Initial log s: CLIP's log(1/0.07).
        public var initialLogScale: Float = log(1 / 0.07)
        /// Largest log s used in the loss: CLIP's log 100, so the softmax cannot saturate.
        public var maxLogScale: Float = log(100)

        /// The shipped architecture.
        public init() {}

        /// Any architecture (tests use tiny ones).
        public init(text: TextEncoder.Config, image: ImageEncoder.Config, embedding: Int) {
            (self.text, self.image, self.embedding) = (text, image, embedding)
        }
    }

    /// Checkpoint metadata key holding the `Config` as JSON.
    public static let configKey = "clip.config"
    /// File name of the shipped weights in `ShippedWeights`.
    public static let shippedFileName = "clip.safetensors"

    public let config: Config
    /// Every parameter of both towers, the projections and the logit scale.
    public let store: ParameterStore
    /// The text tower (frozen, it conditions the denoiser).
    public let textEncoder: TextEncoder
    /// The image tower.
    public let imageEncoder: ImageEncoder
    /// log s: (1).
    public let logScale: ParameterStore.Parameter
    private let textProjection: Linear   // (E, D_text)
    private let imageProjection: Linear  // (E, D_image)
    private let textNorm = L2Normalize()
    private let imageNorm = L2Normalize()

    /// A freshly initialised model drawn from `rng`.
    public init(config: Config = Config(), rng: inout RandomGenerator) {
        self.config = config
        store = ParameterStore(reserve: 1 << 18)
        textEncoder = TextEncoder(store, name: "text", config: config.text, rng: &rng)
        imageEncoder = ImageEncoder(store, name: "image", config: config.image, rng: &rng)
        textProjection = Linear(store, name: "text_proj", inFeatures: config.text.width, outFeatures: config.embedding,
                                bias: false, rng: &rng)
        imageProjection = Linear(store, name: "image_proj", inFeatures: config.image.width, outFeatures: config.embedding,
                                 bias: false, rng: &rng)
        logScale = store.register("logit_scale", shape: [1], values: [config.initialLogScale])
    }

    /// The model in the checkpoint at `url`, or the shipped weights when `url` is nil.
    /// The architecture comes from the file's metadata; every parameter name and shape must match it.
    public static func load(from url: URL? = nil) throws(ModelError) -> MiniCLIP {
        let source: URL
        if let url {
            source = url
        } else {
            guard let shipped = ShippedWeights.url(shippedFileName) else { throw .missingShippedWeights(shippedFileName) }
            source = shipped
        }
        do {
            let file = try SafeTensorsFile(contentsOf: source)
            let config = try CheckpointExtras(metadata: file.metadata).json(Config.self, forKey: configKey)
            var rng = RandomGenerator(seed: 0)  // every value is overwritten by the restore
            let model = MiniCLIP(config: config, rng: &rng)
            try model.store.restore(from: file)
            return model
        } catch {
            throw .checkpoint(path: source.path, error)
        }
    }

    /// Writes the parameters and the architecture (plus `metadata`) to `url`.
    public func save(to url: URL, metadata: [String: String] = [:]) throws(CheckpointError) {
        var extras = CheckpointExtras(metadata: metadata)
        try extras.setJSON(config, forKey: MiniCLIP.configKey)
        try store.saveCheckpoint(to: url, extras: extras)
    }

    /// Unit image embeddings (B, E) of images (B, 3, S, S) in [0, 1].
    public func imageEmbeddings(_ images: Tensor) -> Tensor {
        imageNorm.forward(imageProjection.forward(imageEncoder.forward(images)))
    }

    /// Unit text embeddings (B, E) of tokenized texts.
    public func textEmbeddings(_ texts: [TokenizedText]) -> Tensor {
        textNorm.forward(textProjection.forward(textEncoder.encode(texts).pooled))
    }

    /// The reward's alignment term: cos(f_img(image_i), f_txt(text_i)) for each pair i.
    public func alignment(images: Tensor, texts: [TokenizedText]) -> [Float] {
        precondition(images.shape.first == texts.count, "alignment: \(images.shape.first ?? 0) images for \(texts.count) texts")
        return rowDots(imageEmbeddings(images), textEmbeddings(texts))
    }

    /// The logit scale s the loss uses: e^{log s}, log s capped at `maxLogScale`.
    public var scale: Float { exp(min(store.value(logScale)[0], config.maxLogScale)) }

    /// The contrastive loss of matching pairs (image_i, text_i); adds every parameter's gradient.
    public func lossAndBackward(images: Tensor, texts: [TokenizedText]) -> ContrastiveLoss {
        let u = imageEmbeddings(images)   // u: (B, E)
        let v = textEmbeddings(texts)     // v: (B, E)
        let raw = store.value(logScale)[0]
        let loss = ContrastiveLoss(image: u, text: v, logScale: min(raw, config.maxLogScale))
        _ = imageEncoder.backward(imageProjection.backward(imageNorm.backward(loss.dImage)))
        textEncoder.backward(pooled: textProjection.backward(textNorm.backward(loss.dText)))
        if raw < config.maxLogScale { store.grad(logScale)[0] += loss.dLogScale }
        return loss
    }
}

/// Why a model could not be loaded.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    /// The package was built without the named file in Sources/Models/Weights.
    case missingShippedWeights(String)
    /// The checkpoint at `path` could not be read or does not match the architecture it declares.
    case checkpoint(path: String, CheckpointError)

    public var description: String {
        switch self {
        case let .missingShippedWeights(name):
            "no shipped weights \(name) in Sources/Models/Weights; train them with `shielddiff pretrain` (scripts/pretrain.sh)"
        case let .checkpoint(path, error):
            "cannot load the mini-CLIP from \(path): \(error.message)"
        }
    }
}

/// (B, 3, S, S) tensor of images, the layout every image model takes.
public func imageBatch(_ images: [Image]) -> Tensor {
    var data: [Float] = []
    data.reserveCapacity(images.count * Image.valueCount)
    for image in images { data += image.chwTensor().data }
    return Tensor(shape: [images.count, 3, Image.side, Image.side], data: data)
}

/// Dot product of row i of a with row i of b, both (B, E).
func rowDots(_ a: Tensor, _ b: Tensor) -> [Float] {
    let e = a.shape[1]
    return (0..<a.shape[0]).map { i in
        var s: Float = 0
        for c in 0..<e { s += a.data[i * e + c] * b.data[i * e + c] }
        return s
    }
}
