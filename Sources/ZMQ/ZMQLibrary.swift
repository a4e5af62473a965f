import CZeroMQ

/// A libzmq release number.
public struct ZMQVersion: Comparable, Sendable, CustomStringConvertible {
    public let major: Int
    public let minor: Int
    public let patch: Int

    /// Creates a version from its three numbers.
    public init(major: Int, minor: Int, patch: Int) {
        self.major = major
        self.minor = minor
        self.patch = patch
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
    }

    public var description: String { "\(major).\(minor).\(patch)" }
}

/// Facts about the linked libzmq.
public enum ZMQLibrary {
    /// The version of the libzmq loaded at run time (`zmq_version`).
    public static var version: ZMQVersion {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return ZMQVersion(major: Int(major), minor: Int(minor), patch: Int(patch))
    }

    /// Whether libzmq was built with `capability`, e.g. `"curve"`, `"ipc"` (`zmq_has`).
    public static func has(_ capability: String) -> Bool {
        zmq_has(capability) != 0
    }
}

/// A CURVE long-term key pair as 40-character Z85 strings.
public struct ZMQCurveKeyPair: Sendable, Equatable {
    /// The public key, given to peers (a client's `.curveServerKey` is the server's public key).
    public let publicKey: String
    /// The secret key; stays with its owner.
    public let secretKey: String

    /// A pair from its two Z85 halves (e.g. read from a key file; check them first).
    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Generates a fresh key pair (`zmq_curve_keypair`); throws `ENOTSUP` if libzmq lacks CURVE.
    public static func generate() throws(ZMQError) -> ZMQCurveKeyPair {
        // 40 Z85 characters plus the terminating NUL libzmq writes.
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        try zmqCheck(zmq_curve_keypair(&publicText, &secretText), "zmq_curve_keypair")
        return ZMQCurveKeyPair(publicKey: z85String(publicText), secretKey: z85String(secretText))
    }

    fileprivate static func z85String(_ text: [CChar]) -> String {
        String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension ZMQCurveKeyPair {
    /// The 32 bytes a 40-character Z85 key spells (`zmq_z85_decode`), or nil when it is not
    /// 40 characters of the Z85 alphabet.
    public static func decodeZ85(_ text: String) -> [UInt8]? {
        guard text.utf8.count == 40, text.utf8.allSatisfy({ z85Alphabet.contains($0) }) else { return nil }
        var bytes = [UInt8](repeating: 0, count: 32)
        guard zmq_z85_decode(&bytes, text) != nil else { return nil }
        return bytes
    }

    /// The public key belonging to a Z85 `secretKey` (`zmq_curve_public`), or nil when the text
    /// is not a key.
    public static func publicKey(forSecret secretKey: String) -> String? {
        guard decodeZ85(secretKey) != nil else { return nil }
        var publicText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&publicText, secretKey) == 0 else { return nil }
        return z85String(publicText)
    }
}

extension ZMQCurveKeyPair {
    /// The Z85 text of a 32-byte key (`zmq_z85_encode`).
    public static func encodeZ85(_ bytes: [UInt8]) -> String {
        precondition(bytes.count == 32, "a CURVE key has 32 bytes")
        var text = [CChar](repeating: 0, count: 41)
        _ = zmq_z85_encode(&text, bytes, 32)
        return z85String(text)
    }
}

/// The 85 characters of Z85 (ZeroMQ RFC 32).
private let z85Alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)
