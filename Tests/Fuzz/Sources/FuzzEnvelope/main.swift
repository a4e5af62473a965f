import FuzzSupport
import Wire

/// Any bytes on a socket: an envelope that decodes must re-encode, and its encoding is a
/// fixed point (decode → encode gives the same bytes and value again).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEnvelope(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let envelope = try? Envelope(decoding: inputBytes(data, size)) else { return 0 }
    let encoded: [UInt8]
    do { encoded = try envelope.encoded() } catch { invariant(false, "a decoded \(envelope.payload.kind) does not encode: \(error)"); return 0 }
    do {
        let again = try Envelope(decoding: encoded)
        invariant(again == envelope, "\(envelope.payload.kind) changed through encode/decode")
        invariant((try? again.encoded()) == encoded, "\(envelope.payload.kind) encoding is not stable")
    } catch {
        invariant(false, "the encoding of a decoded \(envelope.payload.kind) does not decode: \(error)")
    }
    return 0
}
