import Foundation
import Numerics

/// Everything a training checkpoint holds besides the model parameters: named tensors
/// (optimizer moments, ...) and metadata strings (step counts, RNG state, config as JSON).
public struct CheckpointExtras: Equatable, Sendable {
    /// In the file these are named `extraPrefix + name`, so they can never pass for parameters.
    public static let extraPrefix = "extra/"

    public var tensors: [String: Tensor]
    public var metadata: [String: String]

    public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Stores `value` as JSON in `metadata[key]`.
    public mutating func setJSON(_ value: some Encodable, forKey key: String) throws(CheckpointError) {
        do {
            metadata[key] = String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
        } catch {
            throw CheckpointError(.invalidMetadata, source: "<memory>", "cannot encode metadata \(quoted(key)) as JSON: \(error)")
        }
    }

    /// The JSON value stored in `metadata[key]`, decoded as `type`.
    public func json<T: Decodable>(_ type: T.Type, forKey key: String) throws(CheckpointError) -> T {
        guard let text = metadata[key] else {
            throw CheckpointError(.missingField, source: "<memory>", "checkpoint metadata has no key \(quoted(key))")
        }
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch {
            throw CheckpointError(.invalidMetadata, source: "<memory>",
                                  "metadata \(quoted(key)) is not JSON for \(T.self): \(error)")
        }
    }
}
