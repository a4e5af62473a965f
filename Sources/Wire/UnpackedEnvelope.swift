import CShieldProto

/// Sole owner of one envelope returned by protobuf-c's `unpack`, freed exactly once by
/// `free_unpacked` in `deinit`. The C pointer is lent only inside `withMessage`, so it
/// cannot outlive the owner.
struct UnpackedEnvelope: ~Copyable {
    private let message: UnsafeMutablePointer<Shielddiff__V1__Envelope>

    /// Unpacks `bytes`; throws `.malformed` where protobuf-c returns NULL.
    init(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        let data = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        guard let message = shielddiff__v1__envelope__unpack(nil, bytes.count, data) else {
            throw .malformed(bytes: bytes.count)
        }
        self.message = message
    }

    deinit {
        shielddiff__v1__envelope__free_unpacked(message, nil)
    }

    /// Runs `body` on the unpacked message; nothing it points to may escape `body`.
    borrowing func withMessage<R, E: Error>(
        _ body: (Shielddiff__V1__Envelope) throws(E) -> R
    ) throws(E) -> R {
        try body(message.pointee)
    }
}
