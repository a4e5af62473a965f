import Foundation
import ZMQ

/// The learner's ZAP handler (RFC 27): a small thread that answers the requests libzmq sends to
/// `inproc://zeromq.zap.01` during each CURVE handshake, with `decideZAP` against the current
/// allowlist, and stops on a command over its pipe (as czmq's zauth actor).
///
/// Must be started before any CURVE server socket of the context binds: without a handler
/// libzmq admits every client key. Counts what it decided; logs a refused key at most once a
/// minute.
public final class ZAPHandler: @unchecked Sendable {
    /// What the handler decided so far.
    public struct Counts: Equatable, Sendable {
        public var admitted = 0
        public var refused: [ZAPRefusal: Int] = [:]
        /// Every count as a metric name and value (all reasons, zero included).
        public var metrics: [(String, Double)] {
            [("zap_admitted", Double(admitted))] + ZAPRefusal.allCases.map { ("zap_refused_\($0.rawValue)", Double(refused[$0] ?? 0)) }
        }
    }

    private let context: ZMQContext
    private let log: RuntimeLog
    private let lock = NSLock()
    private var table: Allowlist
    private var counts = Counts()
    private var lastLogged: [[UInt8]: ContinuousClock.Instant] = [:]
    private let commandEndpoint = "inproc://zap-commands-\(UInt64.random(in: .min ... .max))"
    private var commands: ZMQSocket?
    private let started = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private var startError: Error?

    /// A handler for `context` deciding by `allowlist`.
    public init(context: ZMQContext, allowlist: Allowlist, log: RuntimeLog) {
        self.context = context
        self.table = allowlist
        self.log = log
    }

    /// Binds the ZAP endpoint on a new thread and returns once it is bound (or throws why not).
    public func start() throws {
        let thread = Thread { [self] in serve() }
        thread.name = "zap"
        thread.start()
        started.wait()
        if let startError { throw startError }
        let pipe = try ZMQSocket(context, type: .pair)
        try pipe.connect(commandEndpoint)
        commands = pipe
    }

    /// Replaces the allowlist; later handshakes are decided by the new one.
    public func replace(_ allowlist: Allowlist) {
        lock.lock()
        table = allowlist
        lock.unlock()
    }

    /// The allowlist in force.
    public var allowlist: Allowlist {
        lock.lock()
        defer { lock.unlock() }
        return table
    }

    /// A snapshot of the counts.
    public var snapshot: Counts {
        lock.lock()
        defer { lock.unlock() }
        return counts
    }

    /// Stops the thread and waits for it to close its sockets.
    public func stop() {
        guard let commands else { return }
        self.commands = nil
        _ = try? commands.send(Array("TERM".utf8), timeout: .seconds(1))
        finished.wait()
        try? commands.close()
    }

    private func serve() {
        let zap: ZMQSocket, pipe: ZMQSocket
        do {
            zap = try ZMQSocket(context, type: .reply)
            try zap.bind("inproc://zeromq.zap.01")
            pipe = try ZMQSocket(context, type: .pair)
            try pipe.bind(commandEndpoint)
        } catch {
            startError = RuntimeError("cannot start the ZAP handler: \(error)")
            started.signal()
            finished.signal()
            return
        }
        started.signal()
        let poller = ZMQPoller()
        poller.add(zap)
        poller.add(pipe)
        loop: while true {
            let ready: [ZMQPoller.Ready]
            do { ready = try poller.poll(timeout: nil) } catch where error.isInterrupted { continue } catch { break }
            for item in ready {
                if item.index == 1 { break loop }
                guard let request = try? zap.receiveMultipart(timeout: .zero) else { continue }
                let decision = decide(request)
                // REP requires an answer to every request, a malformed one included.
                _ = try? zap.sendMultipart(decision.replyFrames, timeout: .seconds(1))
            }
        }
        try? zap.close()
        try? pipe.close()
        finished.signal()
    }

    private func decide(_ request: [[UInt8]]) -> ZAPDecision {
        lock.lock()
        let decision = decideZAP(request, allowlist: table)
        var logIt = false
        if let refusal = decision.refusal {
            counts.refused[refusal, default: 0] += 1
            let now = ContinuousClock.now
            let key = decision.clientKey ?? []
            if lastLogged[key].map({ now - $0 >= .seconds(60) }) ?? true {
                // Bounded: a flood of fresh keys cannot grow the table past a few thousand.
                if lastLogged.count >= 4096 { lastLogged = lastLogged.filter { now - $0.value < .seconds(60) } }
                if lastLogged.count < 4096 { lastLogged[key] = now; logIt = true }
            }
        } else {
            counts.admitted += 1
        }
        lock.unlock()
        if logIt, let refusal = decision.refusal {
            let domain = request.count > 2 ? String(decoding: request[2], as: UTF8.self) : "?"
            let address = request.count > 3 ? String(decoding: request[3], as: UTF8.self) : "?"
            let key = decision.clientKey.map { ZMQCurveKeyPair.encodeZ85($0) } ?? "-"
            log.info("refused a handshake on \(domain) from \(address): \(refusal.rawValue) (\(decision.text)); key \(key) " +
                     "(logged once a minute per key)")
        }
        return decision
    }
}
