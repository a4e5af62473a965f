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

    /// Generates a fresh key pair (`zmq_curve_keypair`); throws `ENOTSUP` if libzmq lacks CURVE.
    public static func generate() throws(ZMQError) -> ZMQCurveKeyPair {
        // 40 Z85 characters plus the terminating NUL libzmq writes.
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        try zmqCheck(zmq_curve_keypair(&publicText, &secretText), "zmq_curve_keypair")
        return ZMQCurveKeyPair(publicKey: z85String(publicText), secretKey: z85String(secretText))
    }

    private static func z85String(_ text: [CChar]) -> String {
        String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
