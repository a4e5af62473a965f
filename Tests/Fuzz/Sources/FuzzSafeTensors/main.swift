import Checkpoint
import FuzzSupport

/// Any checkpoint file: one that decodes must re-encode, and that encoding must decode to the
/// same bytes again (bytes are compared: NaN weights are allowed and never equal themselves).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let file = try? SafeTensorsFile(bytes: inputBytes(data, size)) else { return 0 }
    do {
        let encoded = try file.encoded()
        let again = try SafeTensorsFile(bytes: encoded)
        invariant(again.metadata == file.metadata && Set(again.tensors.keys) == Set(file.tensors.keys), "names or metadata changed")
        let reencoded = try again.encoded()
        invariant(reencoded == encoded, "encoding is not stable")
    } catch {
        invariant(false, "a decoded file does not round-trip: \(error)")
    }
    return 0
}
