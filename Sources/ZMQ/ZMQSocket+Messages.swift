import CZeroMQ

/// Sending and receiving frames.
///
/// Every call takes a `timeout`:
/// - `nil` blocks as the socket's `.sendTimeout` / `.receiveTimeout` options say (default: forever);
/// - `.zero` is the non-blocking variant (`ZMQ_DONTWAIT`);
/// - a positive duration waits at most that long.
///
/// When nothing could be sent or received in time, the call throws a `ZMQError` with
/// `isTimeout == true` (`EAGAIN`); it never returns a partial or empty result instead.
extension ZMQSocket {
    /// Sends one frame; `more: true` marks it as a non-final part of a multipart message.
    public func send(_ frame: [UInt8], more: Bool = false, timeout: Duration? = nil) throws(ZMQError) {
        let socket = try liveHandle("zmq_send")
        let moreFlag = more ? ZMQ_SNDMORE : 0
        try waitingUntilReady(socket, for: ZMQ_POLLOUT, timeout: timeout, "zmq_send") { flags in
            frame.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags | moreFlag) }
        }
    }

    /// Sends one frame straight from caller memory; libzmq makes the only copy.
    public func send(bytes: UnsafeRawBufferPointer, more: Bool = false, timeout: Duration? = nil) throws(ZMQError) {
        let socket = try liveHandle("zmq_send")
        let moreFlag = more ? ZMQ_SNDMORE : 0
        try waitingUntilReady(socket, for: ZMQ_POLLOUT, timeout: timeout, "zmq_send") { flags in
            zmq_send(socket, bytes.baseAddress, bytes.count, flags | moreFlag)
        }
    }

    /// Sends all `frames` as one multipart message (delivered all-or-nothing). Empty frames are
    /// allowed; an empty array sends nothing.
    public func sendMultipart(_ frames: [[UInt8]], timeout: Duration? = nil) throws(ZMQError) {
        guard let first = frames.first else { return }
        // libzmq admits a multipart message whole once its first part is queued, so only the
        // first part waits; the rest never block.
        try send(first, more: frames.count > 1, timeout: timeout)
        for index in frames.indices.dropFirst() {
            try send(frames[index], more: index < frames.count - 1, timeout: .zero)
        }
    }

    /// Receives one frame. If it is part of a multipart message, `hasMore` is then true and the
    /// following calls return the remaining parts.
    public func receive(timeout: Duration? = nil) throws(ZMQError) -> [UInt8] {
        let socket = try liveHandle("zmq_msg_recv")
        return try receiveFrame(socket, timeout: timeout).frame
    }

    /// Receives every frame of the next multipart message (a single-part message gives one frame).
    public func receiveMultipart(timeout: Duration? = nil) throws(ZMQError) -> [[UInt8]] {
        let socket = try liveHandle("zmq_msg_recv")
        var part = try receiveFrame(socket, timeout: timeout)
        var frames = [part.frame]
        // The remaining parts arrived together with the first, so they never wait.
        while part.more {
            part = try receiveFrame(socket, timeout: .zero)
            frames.append(part.frame)
        }
        return frames
    }

    /// Receives the next multipart message and the value of one metadata `property` of its
    /// connection (`zmq_msg_gets`), e.g. `"User-Id"` (the id a ZAP handler gave the peer) or
    /// `"Peer-Address"`; nil when the connection has no such property.
    public func receiveMultipart(timeout: Duration? = nil, property: String) throws(ZMQError) -> (frames: [[UInt8]], property: String?) {
        let socket = try liveHandle("zmq_msg_recv")
        var part = try receiveFrame(socket, timeout: timeout, property: property)
        var value = part.property
        var frames = [part.frame]
        // A ROUTER's identity frame is made locally and carries no metadata; the peer's frames do.
        while part.more {
            part = try receiveFrame(socket, timeout: .zero, property: value == nil ? property : nil)
            value = value ?? part.property
            frames.append(part.frame)
        }
        return (frames, value)
    }

    /// True when the last received frame has more parts following it (`ZMQ_RCVMORE`).
    public var hasMore: Bool {
        get throws(ZMQError) { try getInt32(ZMQ_RCVMORE, name: "ZMQ_RCVMORE") != 0 }
    }

    /// Receives one frame into the reusable message, copies it out once and releases the message.
    private func receiveFrame(
        _ socket: UnsafeMutableRawPointer, timeout: Duration?, property: String? = nil
    ) throws(ZMQError) -> (frame: [UInt8], more: Bool, property: String?) {
        zmq_msg_init(message)
        defer { zmq_msg_close(message) }
        try waitingUntilReady(socket, for: ZMQ_POLLIN, timeout: timeout, "zmq_msg_recv") { flags in
            zmq_msg_recv(message, socket, flags)
        }
        let count = zmq_msg_size(message)
        let frame = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0, let source = zmq_msg_data(message) {
                buffer.baseAddress!.initialize(from: source.assumingMemoryBound(to: UInt8.self), count: count)
            }
            initialized = count
        }
        // Metadata lives with the message, so it is read before the message is released.
        let value = property.flatMap { name in zmq_msg_gets(message, name).map { String(cString: $0) } }
        return (frame, zmq_msg_more(message) != 0, value)
    }

    /// Runs `attempt` (a send or receive taking libzmq flags) under the timeout rules above.
    private func waitingUntilReady(
        _ socket: UnsafeMutableRawPointer,
        for event: Int32,
        timeout: Duration?,
        _ operation: String,
        _ attempt: (Int32) -> Int32
    ) throws(ZMQError) {
        guard let timeout else {
            try zmqCheck(attempt(0), operation)
            return
        }
        // Trying before polling reports state errors (e.g. EFSM on a REQ socket) at once
        // instead of waiting out the timeout for a readiness that never comes.
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while true {
            do {
                try zmqCheck(attempt(ZMQ_DONTWAIT), operation)
                return
            } catch where error.isTimeout {
                let remaining = clock.now.duration(to: deadline)
                guard remaining > .zero, try pollOne(socket, event: event, timeout: remaining, operation) else {
                    throw ZMQError(code: EAGAIN, operation: "\(operation) (timed out after \(timeout))")
                }
            }
        }
    }
}
