import CZeroMQ

/// A typed socket option: the libzmq option code plus how its `Value` is stored in option bytes.
///
/// Use with `ZMQSocket.setOption(_:_:)` and `ZMQSocket.option(_:)`, e.g.
/// `try socket.setOption(.linger, .zero)` or `try socket.option(.heartbeatInterval)`.
/// Durations are whole milliseconds (rounded up); `nil` stands for libzmq's -1 ("infinite").
/// Some options are write-only in libzmq (e.g. `.subscribe`); reading them throws `EINVAL`.
public struct ZMQSocketOption<Value>: Sendable {
    /// The `ZMQ_*` option code.
    public let code: Int32
    /// The `ZMQ_*` name, used in error messages.
    public let name: String
    let write: @Sendable (ZMQSocket, Int32, String, Value) throws(ZMQError) -> Void
    let read: @Sendable (ZMQSocket, Int32, String) throws(ZMQError) -> Value
}

extension ZMQSocket {
    /// Sets `option` to `value` (`zmq_setsockopt`).
    public func setOption<Value>(_ option: ZMQSocketOption<Value>, _ value: Value) throws(ZMQError) {
        try option.write(self, option.code, option.name, value)
    }

    /// Reads `option` back (`zmq_getsockopt`).
    public func option<Value>(_ option: ZMQSocketOption<Value>) throws(ZMQError) -> Value {
        try option.read(self, option.code, option.name)
    }
}

// MARK: - Value layouts

extension ZMQSocketOption {
    /// An `int` option mapped to `Value` by `encode`/`decode`.
    static func int32(
        _ code: Int32, _ name: String,
        encode: @escaping @Sendable (Value) -> Int32, decode: @escaping @Sendable (Int32) -> Value
    ) -> Self {
        Self(code: code, name: name,
             write: { (socket, code, name, value) throws(ZMQError) in
                 try socket.setInt32(code, name: name, encode(value))
             },
             read: { (socket, code, name) throws(ZMQError) in
                 decode(try socket.getInt32(code, name: name))
             })
    }

    /// An `int` duration in milliseconds where -1 means infinite (`nil`).
    static func milliseconds(_ code: Int32, _ name: String) -> Self where Value == Duration? {
        .int32(code, name,
               encode: { $0.map { $0.wholeMillisecondsRoundedUp } ?? -1 },
               decode: { $0 < 0 ? nil : .milliseconds($0) })
    }

    /// An `int` duration in milliseconds where 0 means off.
    static func milliseconds(_ code: Int32, _ name: String) -> Self where Value == Duration {
        .int32(code, name, encode: { $0.wholeMillisecondsRoundedUp }, decode: { .milliseconds($0) })
    }

    /// An `int` used as a flag.
    static func flag(_ code: Int32, _ name: String) -> Self where Value == Bool {
        .int32(code, name, encode: { $0 ? 1 : 0 }, decode: { $0 != 0 })
    }

    /// A binary option of at most `capacity` bytes.
    static func bytes(_ code: Int32, _ name: String, capacity: Int) -> Self where Value == [UInt8] {
        Self(code: code, name: name,
             write: { (socket, code, name, value) throws(ZMQError) in
                 try socket.setBytes(code, name: name, value)
             },
             read: { (socket, code, name) throws(ZMQError) in
                 try socket.getBytes(code, name: name, capacity: capacity)
             })
    }

    /// A 32-byte CURVE key, written and read as 40 characters of Z85 text.
    static func curveKey(_ code: Int32, _ name: String) -> Self where Value == String {
        Self(code: code, name: name,
             write: { (socket, code, name, value) throws(ZMQError) in
                 try socket.setBytes(code, name: name, Array(value.utf8))
             },
             read: { (socket, code, name) throws(ZMQError) in
                 // Asking for 41 bytes (Z85 plus NUL) makes libzmq return the text form.
                 let text = try socket.getBytes(code, name: name, capacity: 41)
                 return String(decoding: text.prefix { $0 != 0 }, as: UTF8.self)
             })
    }
}

// MARK: - The options this project uses

extension ZMQSocketOption where Value == Int {
    /// `ZMQ_SNDHWM`: outgoing messages queued per peer before sends block or drop (0: no limit).
    public static var sendHighWaterMark: Self {
        .int32(ZMQ_SNDHWM, "ZMQ_SNDHWM", encode: { Int32(clamping: $0) }, decode: { Int($0) })
    }
    /// `ZMQ_RCVHWM`: incoming messages queued per peer before the peer is throttled (0: no limit).
    public static var receiveHighWaterMark: Self {
        .int32(ZMQ_RCVHWM, "ZMQ_RCVHWM", encode: { Int32(clamping: $0) }, decode: { Int($0) })
    }
}

extension ZMQSocketOption where Value == Int64? {
    /// `ZMQ_MAXMSGSIZE`: largest inbound message in bytes; a peer sending more is disconnected.
    /// `nil`: no limit. Not enforced on `inproc`.
    public static var maximumMessageSize: Self {
        Self(code: ZMQ_MAXMSGSIZE, name: "ZMQ_MAXMSGSIZE",
             write: { (socket, code, name, value) throws(ZMQError) in
                 try socket.setInt64(code, name: name, value ?? -1)
             },
             read: { (socket, code, name) throws(ZMQError) in
                 let size = try socket.getInt64(code, name: name)
                 return size < 0 ? nil : size
             })
    }
}

extension ZMQSocketOption where Value == Duration? {
    /// `ZMQ_LINGER`: how long unsent messages are kept after close (`nil`: until sent).
    /// Sockets from `ZMQContext` start at zero.
    public static var linger: Self { .milliseconds(ZMQ_LINGER, "ZMQ_LINGER") }
    /// `ZMQ_SNDTIMEO`: how long a send with `timeout: nil` blocks (`nil`: forever).
    public static var sendTimeout: Self { .milliseconds(ZMQ_SNDTIMEO, "ZMQ_SNDTIMEO") }
    /// `ZMQ_RCVTIMEO`: how long a receive with `timeout: nil` blocks (`nil`: forever).
    public static var receiveTimeout: Self { .milliseconds(ZMQ_RCVTIMEO, "ZMQ_RCVTIMEO") }
    /// `ZMQ_RECONNECT_IVL`: wait before reconnecting a dropped connection (`nil`: never reconnect).
    public static var reconnectInterval: Self { .milliseconds(ZMQ_RECONNECT_IVL, "ZMQ_RECONNECT_IVL") }
}

extension ZMQSocketOption where Value == Duration {
    /// `ZMQ_RECONNECT_IVL_MAX`: cap for the exponential reconnect back-off (zero: no back-off).
    public static var reconnectIntervalMax: Self {
        .milliseconds(ZMQ_RECONNECT_IVL_MAX, "ZMQ_RECONNECT_IVL_MAX")
    }
    /// `ZMQ_HEARTBEAT_IVL`: interval between ZMTP PINGs (zero: no heartbeats).
    public static var heartbeatInterval: Self { .milliseconds(ZMQ_HEARTBEAT_IVL, "ZMQ_HEARTBEAT_IVL") }
    /// `ZMQ_HEARTBEAT_TIMEOUT`: silence after a PING before the connection is dropped
    /// (zero: the heartbeat interval).
    public static var heartbeatTimeout: Self {
        .milliseconds(ZMQ_HEARTBEAT_TIMEOUT, "ZMQ_HEARTBEAT_TIMEOUT")
    }
    /// `ZMQ_HANDSHAKE_IVL`: most time a new connection may take to finish its ZMTP (and CURVE)
    /// handshake before it is dropped (zero: no limit).
    public static var handshakeInterval: Self { .milliseconds(ZMQ_HANDSHAKE_IVL, "ZMQ_HANDSHAKE_IVL") }
    /// `ZMQ_HEARTBEAT_TTL`: how long the peer may wait for traffic before dropping us; libzmq keeps
    /// it in tenths of a second.
    public static var heartbeatTTL: Self { .milliseconds(ZMQ_HEARTBEAT_TTL, "ZMQ_HEARTBEAT_TTL") }
}

extension ZMQSocketOption where Value == Bool {
    /// `ZMQ_ROUTER_MANDATORY`: a ROUTER send to an unknown routing id fails with `EHOSTUNREACH`
    /// instead of being dropped silently.
    public static var routerMandatory: Self { .flag(ZMQ_ROUTER_MANDATORY, "ZMQ_ROUTER_MANDATORY") }
    /// `ZMQ_IMMEDIATE`: queue messages only to completed connections.
    public static var immediate: Self { .flag(ZMQ_IMMEDIATE, "ZMQ_IMMEDIATE") }
    /// `ZMQ_CONFLATE`: keep only the newest message (single-part messages only).
    public static var conflate: Self { .flag(ZMQ_CONFLATE, "ZMQ_CONFLATE") }
    /// `ZMQ_CURVE_SERVER`: act as the CURVE server (needs `.curveSecretKey`).
    public static var curveServer: Self { .flag(ZMQ_CURVE_SERVER, "ZMQ_CURVE_SERVER") }
}

extension ZMQSocketOption where Value == [UInt8] {
    /// `ZMQ_ROUTING_ID`: this socket's identity as seen by a peer ROUTER (1...255 bytes, not
    /// starting with a zero byte). Set before connecting.
    public static var routingID: Self { .bytes(ZMQ_ROUTING_ID, "ZMQ_ROUTING_ID", capacity: 255) }
    /// `ZMQ_SUBSCRIBE` (write-only): receive messages whose first frame starts with these bytes;
    /// empty subscribes to everything.
    public static var subscribe: Self { .bytes(ZMQ_SUBSCRIBE, "ZMQ_SUBSCRIBE", capacity: 0) }
    /// `ZMQ_UNSUBSCRIBE` (write-only): remove one earlier identical subscription.
    public static var unsubscribe: Self { .bytes(ZMQ_UNSUBSCRIBE, "ZMQ_UNSUBSCRIBE", capacity: 0) }
}

extension ZMQSocketOption where Value == String {
    /// `ZMQ_CURVE_PUBLICKEY` (Z85): this socket's long-term public key (client side).
    public static var curvePublicKey: Self { .curveKey(ZMQ_CURVE_PUBLICKEY, "ZMQ_CURVE_PUBLICKEY") }
    /// `ZMQ_CURVE_SECRETKEY` (Z85): this socket's long-term secret key.
    public static var curveSecretKey: Self { .curveKey(ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY") }
    /// `ZMQ_CURVE_SERVERKEY` (Z85): the server's public key, which makes this socket a CURVE client.
    public static var curveServerKey: Self { .curveKey(ZMQ_CURVE_SERVERKEY, "ZMQ_CURVE_SERVERKEY") }
    /// `ZMQ_ZAP_DOMAIN`: the domain a server socket names in its ZAP requests (RFC 27), so one
    /// handler can apply a different policy per socket. Set before binding.
    public static var zapDomain: Self {
        Self(code: ZMQ_ZAP_DOMAIN, name: "ZMQ_ZAP_DOMAIN",
             write: { (socket, code, name, value) throws(ZMQError) in
                 try socket.setBytes(code, name: name, Array(value.utf8))
             },
             read: { (socket, code, name) throws(ZMQError) in
                 let text = try socket.getBytes(code, name: name, capacity: 256)
                 return String(decoding: text.prefix { $0 != 0 }, as: UTF8.self)
             })
    }
}

// MARK: - Raw zmq_setsockopt / zmq_getsockopt

extension ZMQSocket {
    func setInt32(_ code: Int32, name: String, _ value: Int32) throws(ZMQError) {
        let socket = try liveHandle("zmq_setsockopt(\(name))")
        var value = value
        try zmqCheck(zmq_setsockopt(socket, code, &value, MemoryLayout<Int32>.size),
                     "zmq_setsockopt(\(name), \(value))")
    }

    func getInt32(_ code: Int32, name: String) throws(ZMQError) -> Int32 {
        let socket = try liveHandle("zmq_getsockopt(\(name))")
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        try zmqCheck(zmq_getsockopt(socket, code, &value, &size), "zmq_getsockopt(\(name))")
        return value
    }

    func setInt64(_ code: Int32, name: String, _ value: Int64) throws(ZMQError) {
        let socket = try liveHandle("zmq_setsockopt(\(name))")
        var value = value
        try zmqCheck(zmq_setsockopt(socket, code, &value, MemoryLayout<Int64>.size),
                     "zmq_setsockopt(\(name), \(value))")
    }

    func getInt64(_ code: Int32, name: String) throws(ZMQError) -> Int64 {
        let socket = try liveHandle("zmq_getsockopt(\(name))")
        var value: Int64 = 0
        var size = MemoryLayout<Int64>.size
        try zmqCheck(zmq_getsockopt(socket, code, &value, &size), "zmq_getsockopt(\(name))")
        return value
    }

    func setBytes(_ code: Int32, name: String, _ value: [UInt8]) throws(ZMQError) {
        let socket = try liveHandle("zmq_setsockopt(\(name))")
        let result = value.withUnsafeBytes { zmq_setsockopt(socket, code, $0.baseAddress, $0.count) }
        try zmqCheck(result, "zmq_setsockopt(\(name), \(value.count) bytes)")
    }

    func getBytes(_ code: Int32, name: String, capacity: Int) throws(ZMQError) -> [UInt8] {
        let socket = try liveHandle("zmq_getsockopt(\(name))")
        var value = [UInt8](repeating: 0, count: capacity)
        var size = capacity
        let result = value.withUnsafeMutableBytes { zmq_getsockopt(socket, code, $0.baseAddress, &size) }
        try zmqCheck(result, "zmq_getsockopt(\(name))")
        return Array(value.prefix(size))
    }
}
