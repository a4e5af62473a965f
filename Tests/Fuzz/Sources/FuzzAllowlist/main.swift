import FuzzSupport
import Runtime

/// Any allowlist file: one that loads renders to a file that loads to the same table.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAllowlist(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: inputBytes(data, size), as: UTF8.self)
    guard let allowlist = try? Allowlist.parsing(text, source: "fuzz") else { return 0 }
    do {
        let again = try Allowlist.parsing(allowlist.rendered, source: "rendered")
        invariant(again == allowlist, "render/parse changed the allowlist")
    } catch {
        invariant(false, "the rendered allowlist does not load: \(error)")
    }
    return 0
}
