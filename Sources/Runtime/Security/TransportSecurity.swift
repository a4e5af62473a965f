import ZMQ

/// How one socket takes part in CURVE: the learner's sockets are servers (one ZAP domain each),
/// every peer socket a client holding the learner's public key.
public enum CurveSocketSide {
    case server(CurveIdentity, SecuredEndpoint)
    case client(CurveIdentity, serverKey: String)

    /// Sets the CURVE options (before bind or connect), plus a handshake time limit so a
    /// connection that never completes its handshake is dropped instead of held.
    func apply(to socket: ZMQSocket, handshakeLimit: Duration) throws(ZMQError) {
        switch self {
        case let .server(identity, endpoint):
            try socket.setOption(.zapDomain, endpoint.rawValue)
            try socket.setOption(.curveServer, true)
            try socket.setOption(.curveSecretKey, identity.keys.secretKey)
        case let .client(identity, serverKey):
            try socket.setOption(.curveServerKey, serverKey)
            try socket.setOption(.curvePublicKey, identity.keys.publicKey)
            try socket.setOption(.curveSecretKey, identity.keys.secretKey)
        }
        try socket.setOption(.handshakeInterval, handshakeLimit)
    }
}

/// A peer process's CURVE setting (actor, reward worker, supervisor), read once at start.
public struct PeerCurve: Sendable {
    public let identity: CurveIdentity
    /// The learner's public key (Z85).
    public let learnerKey: String

    /// The client side for this peer's sockets.
    public var side: CurveSocketSide { .client(identity, serverKey: learnerKey) }

    /// nil when `security.mode` is not `curve`; otherwise the key of `security.key` (which must
    /// be made for `role` and, unless `name` is nil, named `name`) and the learner's public key.
    public static func load(_ config: RunConfig, role: KeyRole, name: String?) throws -> PeerCurve? {
        guard config.security.mode == "curve" else { return nil }
        let identity = try loadIdentity(config, role: role, name: name)
        guard !config.security.learnerPublicKey.isEmpty else {
            throw ConfigError("security.mode is curve but security.learner_public_key is not set (the learner's NAME.pub file)")
        }
        let learner = try PublicKeyEntry.load(path: config.security.learnerPublicKey)
        guard learner.role == .learner else {
            throw KeyFileError("\(config.security.learnerPublicKey): a \(learner.role.rawValue) key, not the learner's")
        }
        return PeerCurve(identity: identity, learnerKey: learner.publicKey)
    }
}

/// The learner's CURVE setting: its key and the allowlist.
public struct LearnerCurve: Sendable {
    public let identity: CurveIdentity
    public let allowlist: Allowlist

    /// nil when `security.mode` is not `curve`.
    public static func load(_ config: RunConfig) throws -> LearnerCurve? {
        guard config.security.mode == "curve" else { return nil }
        let identity = try loadIdentity(config, role: .learner, name: nil)
        guard !config.security.allowlist.isEmpty else {
            throw ConfigError("security.mode is curve but security.allowlist is not set (shielddiff keys allow --out FILE …)")
        }
        return LearnerCurve(identity: identity, allowlist: try Allowlist.load(path: config.security.allowlist))
    }
}

private func loadIdentity(_ config: RunConfig, role: KeyRole, name: String?) throws -> CurveIdentity {
    guard !config.security.key.isEmpty else {
        throw ConfigError("security.mode is curve but security.key is not set (this process's secret key file)")
    }
    let identity = try CurveIdentity.load(path: config.security.key)
    guard identity.role == role else {
        throw KeyFileError("\(config.security.key): a \(identity.role.rawValue) key; this \(role.rawValue) process needs a \(role.rawValue) key")
    }
    if let name, identity.name != name {
        throw KeyFileError("\(config.security.key): the key is named '\(identity.name)' but this process is '\(name)' "
                           + "(the learner takes the key's name as the instance id)")
    }
    return identity
}

extension RunConfig.Endpoints {
    /// The endpoints that are reachable from another host (tcp on an address that is not
    /// loopback); empty when all are loopback, ipc or inproc.
    public var exposed: [String] {
        [control, weights, rewardFrontend, rewardBackend].filter { endpoint in
            guard endpoint.hasPrefix("tcp://") else { return false }
            var host = endpoint.dropFirst(6)
            if let colon = host.lastIndex(of: ":") { host = host[..<colon] }
            if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
            return !(host == "localhost" || host == "::1" || host.hasPrefix("127."))
        }
    }
}
