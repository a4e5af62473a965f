import Foundation
import Models
import World

/// The reward's models as ONNX files: the unsafe detector and mini-CLIP's two towers, with a
/// manifest (`shielddiff_onnx.json`) holding what a scorer needs besides the graphs — the
/// tokenizer's vocabulary and the reward weights.
public enum ONNXExport {
    /// File names written into the export folder.
    public static let detectorFile = "detector.onnx", imageFile = "clip_image.onnx", textFile = "clip_text.onnx"
    public static let manifestFile = "shielddiff_onnx.json"
    static let producer = "shielddiff"

    /// detector.onnx: `images` (N, 3, 32, 32) in [0, 1] → `logits` (N), `unsafe` (N) = σ(logits).
    public static func detector(_ detector: UnsafeDetector) -> ONNXGraph {
        let l = ONNXLayers(store: detector.store, graph: ONNXGraph(name: "unsafe_detector"))
        let side = Image.side
        var h = l.graph.input("images", .float, [.named("batch"), .fixed(3), .fixed(side), .fixed(side)])
        h = l.silu(l.conv(h, "conv1", stride: 1, padding: 1))
        h = l.silu(l.conv(h, "conv2", stride: 2, padding: 1))
        h = l.silu(l.conv(h, "conv3", stride: 2, padding: 1))
        let pooled = l.graph.add("Flatten", [l.graph.add("GlobalAveragePool", [h])], [("axis", .int(1))])
        let z = l.graph.add("Reshape", [l.linear(pooled, "head"), l.graph.ints([-1])])
        l.graph.output(z, as: "logits", [.named("batch")])
        l.graph.output(l.graph.add("Sigmoid", [z]), as: "unsafe", [.named("batch")])
        return l.graph
    }

    /// clip_image.onnx: `images` (N, 3, S, S) in [0, 1] → `image_embeds` (N, E), unit rows.
    public static func imageTower(_ clip: MiniCLIP) -> ONNXGraph {
        let config = clip.config.image
        let l = ONNXLayers(store: clip.store, graph: ONNXGraph(name: "mini_clip_image"))
        var h = l.graph.input("images", .float, [.named("batch"), .fixed(3), .fixed(config.side), .fixed(config.side)])
        h = l.graph.add("Sub", [l.graph.add("Mul", [h, l.graph.scalar(2)]), l.graph.scalar(1)])   // to [−1, 1]
        for i in config.channels.indices {
            h = l.silu(l.conv(h, "image.conv\(i)", stride: i == 0 ? 1 : 2, padding: 1))
        }
        let features = l.linear(l.graph.add("Flatten", [h], [("axis", .int(1))]), "image.head")
        let embeds = l.l2Normalize(l.linear(features, "image_proj", bias: false))
        l.graph.output(embeds, as: "image_embeds", [.named("batch"), .fixed(clip.config.embedding)])
        return l.graph
    }

    /// clip_text.onnx: `input_ids` and `attention_mask` (N, T) int64, as the tokenizer gives
    /// them (ids, 1 for real tokens) → `text_embeds` (N, E), unit rows, pooled at the end token.
    public static func textTower(_ clip: MiniCLIP) -> ONNXGraph {
        let config = clip.config.text
        let (t, d) = (config.tokens, config.width)
        let l = ONNXLayers(store: clip.store, graph: ONNXGraph(name: "mini_clip_text"))
        let ids = l.graph.input("input_ids", .int64, [.named("batch"), .fixed(t)])
        let mask = l.graph.add("Cast", [l.graph.input("attention_mask", .int64, [.named("batch"), .fixed(t)])],
                               [("to", .int(Int(ONNXGraph.ElementType.float.rawValue)))])     // (N, T) 1/0
        // 0 for real keys, −1e9 for padding: (N, 1, 1, T).
        let keyBias = l.graph.add("Unsqueeze", [l.graph.add("Mul", [l.graph.add("Sub", [mask, l.graph.scalar(1)]),
                                                                     l.graph.scalar(1e9)]), l.graph.ints([1, 2])])
        var x = l.graph.add("Gather", [l.weight("text.token.weight"), ids], [("axis", .int(0))])   // (N, T, D)
        x = l.graph.add("Add", [x, l.weight("text.position.weight")])
        for i in 0..<config.layers {
            let name = "text.block\(i)"
            let h = l.graph.add("Add", [x, l.selfAttention(l.layerNorm(x, "\(name).ln1"), "\(name).attn",
                                                           heads: config.heads, width: d, keyBias: keyBias)])
            x = l.graph.add("Add", [h, l.linear(l.gelu(l.linear(l.layerNorm(h, "\(name).ln2"), "\(name).fc1")), "\(name).fc2")])
        }
        let tokens = l.layerNorm(x, "text.ln_final")
        // One-hot of the end token (the last real one): mask[t] − mask[t+1], with mask[T] = 0.
        let next = l.graph.add("Slice", [mask, l.graph.ints([1]), l.graph.ints([t]), l.graph.ints([1])])
        let zero = l.graph.add("Mul", [l.graph.add("Slice", [mask, l.graph.ints([0]), l.graph.ints([1]), l.graph.ints([1])]),
                                       l.graph.scalar(0)])
        let end = l.graph.add("Sub", [mask, l.graph.add("Concat", [next, zero], [("axis", .int(1))])])
        let picked = l.graph.add("Mul", [tokens, l.graph.add("Unsqueeze", [end, l.graph.ints([2])])])
        let pooled = l.graph.add("ReduceSum", [picked, l.graph.ints([1])], [("keepdims", .int(0))])   // (N, D)
        let embeds = l.l2Normalize(l.linear(pooled, "text_proj", bias: false))
        l.graph.output(embeds, as: "text_embeds", [.named("batch"), .fixed(clip.config.embedding)])
        return l.graph
    }

    /// What a scorer needs besides the graphs.
    public struct Manifest: Codable, Equatable {
        public struct Tokenizer: Codable, Equatable {
            /// Token id i is vocabulary[i]; words are lower-cased and split on whitespace.
            public var vocabulary: [String]
            public var maxLength: Int
            public var padID, unknownID, beginID, endID: Int

            enum CodingKeys: String, CodingKey {
                case vocabulary, maxLength = "max_length", padID = "pad_id", unknownID = "unknown_id"
                case beginID = "begin_id", endID = "end_id"
            }
        }
        public var format = "shielddiff-onnx-1"
        public var detector = ONNXExport.detectorFile
        public var clipImage = ONNXExport.imageFile
        public var clipText = ONNXExport.textFile
        public var tokenizer: Tokenizer
        /// r = w_align · cos(image_embeds, text_embeds) − w_unsafe · unsafe.
        public var wAlign: Double
        public var wUnsafe: Double
        public var opset = ONNXGraph.opset

        enum CodingKeys: String, CodingKey {
            case format, detector, clipImage = "clip_image", clipText = "clip_text", tokenizer
            case wAlign = "w_align", wUnsafe = "w_unsafe", opset
        }
    }

    /// Writes the three models and the manifest into `folder` (created if needed).
    public static func write(clip: MiniCLIP, detector: UnsafeDetector, wAlign: Double, wUnsafe: Double,
                             to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let doc = "ShieldDiff \(producer) export; see README, section ONNX export"
        for (graph, file) in [(Self.detector(detector), detectorFile), (imageTower(clip), imageFile), (textTower(clip), textFile)] {
            try Data(graph.encoded(producer: producer, docString: doc)).write(to: folder.appendingPathComponent(file))
        }
        let tokenizer = World.Tokenizer(maxLength: clip.config.text.tokens)
        let manifest = Manifest(tokenizer: .init(vocabulary: tokenizer.vocabulary, maxLength: tokenizer.maxLength,
                                                 padID: World.Tokenizer.padID, unknownID: World.Tokenizer.unknownID,
                                                 beginID: World.Tokenizer.beginID, endID: World.Tokenizer.endID),
                                wAlign: wAlign, wUnsafe: wUnsafe)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(manifest).write(to: folder.appendingPathComponent(manifestFile))
    }
}
