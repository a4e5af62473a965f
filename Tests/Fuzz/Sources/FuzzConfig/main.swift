import FuzzSupport
import Runtime

/// Any YAML config: one that loads renders to YAML that loads to the same configuration.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: inputBytes(data, size), as: UTF8.self)
    guard let config = try? RunConfig.parsing(yaml: text, source: "fuzz") else { return 0 }
    _ = try? config.validated()
    do {
        let again = try RunConfig.parsing(yaml: config.renderedYAML(), source: "rendered")
        invariant(again == config, "render/parse changed the config")
    } catch {
        invariant(false, "the rendered config does not load: \(error)")
    }
    return 0
}
