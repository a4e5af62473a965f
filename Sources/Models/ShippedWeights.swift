import Foundation

/// The base models' weights committed with the package (Sources/Models/Weights), used
/// whenever a command is given no other checkpoint.
public enum ShippedWeights {
    /// The shipped file `name` (e.g. "clip.safetensors"); nil if it is not in the bundle.
    public static func url(_ name: String) -> URL? {
        let base = (name as NSString).deletingPathExtension
        let ext = (name as NSString).pathExtension
        return Bundle.module.url(forResource: base, withExtension: ext, subdirectory: "Weights")
    }
}
