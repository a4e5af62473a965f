/// The learner's four endpoints as ZAP domains (`ZMQ_ZAP_DOMAIN`), each with the key roles it
/// admits (PROTOCOL.md §3, "CURVE").
public enum SecuredEndpoint: String, CaseIterable, Sendable {
    case control, weights, rewardFrontend = "reward-frontend", rewardBackend = "reward-backend"

    /// The roles whose keys may connect here.
    public var admittedRoles: Set<KeyRole> {
        switch self {
        case .control: return [.actor, .supervisor]
        case .weights, .rewardFrontend: return [.actor]
        case .rewardBackend: return [.rewardWorker]
        }
    }
}

/// Why a ZAP request was refused; each is a metrics counter `zap_refused_<rawValue>`.
public enum ZAPRefusal: String, CaseIterable, Sendable {
    /// Not a well-formed RFC 27 request (frames, version).
    case malformed
    /// A domain that is none of the four endpoints.
    case unknownDomain = "unknown_domain"
    /// Not the CURVE mechanism (e.g. a NULL/plaintext peer on a socket that asks ZAP).
    case notCurve = "not_curve"
    /// A key that is not on the allowlist.
    case unknownKey = "unknown_key"
    /// A listed key whose role this endpoint does not admit.
    case wrongRole = "wrong_role"
}

/// The answer to one ZAP request.
public struct ZAPDecision: Equatable, Sendable {
    /// The request id to echo (empty when the request had none).
    public let requestID: [UInt8]
    /// The key's name when admitted (it becomes the connection's `User-Id`), else nil.
    public let userID: String?
    /// Why it was refused, else nil.
    public let refusal: ZAPRefusal?
    /// The status text of the reply.
    public let text: String
    /// The client's 32-byte public key when the request carried one (for rate-limited logging).
    public let clientKey: [UInt8]?

    /// The RFC 27 reply: version, request id, status code, status text, user id, metadata.
    /// User-Id is only ever set with 200.
    public var replyFrames: [[UInt8]] {
        let status = userID == nil ? "400" : "200"
        return [Array("1.0".utf8), requestID, Array(status.utf8), Array(text.utf8), Array((userID ?? "").utf8), []]
    }
}

/// Decides one ZAP request (its frames after the REP envelope) against `allowlist`. Pure: the
/// ZAP thread only moves frames, so every rule is here and tested without sockets.
public func decideZAP(_ frames: [[UInt8]], allowlist: Allowlist) -> ZAPDecision {
    let requestID = frames.count > 1 ? frames[1] : []
    func refuse(_ refusal: ZAPRefusal, _ text: String, key: [UInt8]? = nil) -> ZAPDecision {
        ZAPDecision(requestID: requestID, userID: nil, refusal: refusal, text: text, clientKey: key)
    }
    // version, request id, domain, address, identity, mechanism, credentials…
    guard frames.count >= 6, frames[0] == Array("1.0".utf8) else {
        return refuse(.malformed, "malformed ZAP request")
    }
    let domain = String(decoding: frames[2], as: UTF8.self)
    guard let endpoint = SecuredEndpoint(rawValue: domain) else {
        return refuse(.unknownDomain, "unknown domain")
    }
    guard frames[5] == Array("CURVE".utf8) else { return refuse(.notCurve, "CURVE required") }
    guard frames.count == 7, frames[6].count == 32 else { return refuse(.malformed, "malformed CURVE credentials") }
    let key = frames[6]
    guard let entry = allowlist.byKey[key] else { return refuse(.unknownKey, "key not allowed", key: key) }
    guard endpoint.admittedRoles.contains(entry.role) else {
        return refuse(.wrongRole, "role \(entry.role.rawValue) not allowed on \(endpoint.rawValue)", key: key)
    }
    return ZAPDecision(requestID: requestID, userID: entry.name, refusal: nil, text: "OK", clientKey: key)
}
