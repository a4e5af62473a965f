#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Wire
import ZMQ

/// The `train` supervisor (PROTOCOL.md §5.6): starts the learner, the actors and the reward
/// workers as child processes of the same binary, restarts a child that dies (with a
/// doubling delay, logged), joins the control endpoint as SUPERVISOR to follow STATS, and on
/// SIGINT/SIGTERM ends the run in protocol order: TERMINATE to the learner, which
/// terminates its peers, checkpoints and acknowledges; children still alive after the grace
/// period are killed.
public final class Supervisor {
    /// The roles the supervisor starts, as `shielddiff` subcommand names.
    enum ChildRole: String { case learner, actor, rewardWorker = "reward-worker" }

    private struct Child {
        let role: ChildRole
        let name: String
        var pid: pid_t?
        var startedAt = ContinuousClock.now
        var failures = 0
        var restartAt: ContinuousClock.Instant?
        var finished = false
    }

    private let config: RunConfig
    private let executable: String
    private let configPath: String
    private let resume: Bool
    private let log: RuntimeLog
    /// Where the children write their lines (nil: the supervisor's own stdout and stderr).
    private let childOutput: Int32?
    /// Called with each STATS of the learner (one per update).
    private let onStats: (Stats) -> Void
    private let context: ZMQContext
    /// CURVE: the supervisor's key (its name is the supervisor's instance id) and the learner's.
    private let curve: PeerCurve?
    /// Per-run keys of the children (`train` with `security.mode: curve`): `DIR/NAME.key`.
    private let childKeyFolder: String?
    private var children: [Child] = []
    private var control: EnvelopeSocket?
    private var welcomed = false
    private var lastHeard = ContinuousClock.now
    private var lastSent = ContinuousClock.now
    private var shutdownDeadline: ContinuousClock.Instant?
    private var learnerFinishedCleanly = false
    private var lastStats: Stats?
    private var stragglersSignalled = false

    /// A supervisor that starts `executable` (this binary) with the config file `configPath`;
    /// `resume`: the learner's first start resumes from the newest checkpoint too.
    /// `childKeyFolder`: where each child's `NAME.key` is (CURVE runs).
    /// `log`: the supervisor's lines; `childOutput`: a descriptor for the children's stdout and
    /// stderr; `onStats`: told each STATS (e.g. for a progress bar).
    public init(config: RunConfig, executable: String, configPath: String, resume: Bool,
                childKeyFolder: String? = nil, log: RuntimeLog = RuntimeLog(name: "supervisor"),
                childOutput: Int32? = nil, onStats: @escaping (Stats) -> Void = { _ in }) throws {
        self.config = config
        self.log = log
        self.childOutput = childOutput
        self.onStats = onStats
        self.childKeyFolder = childKeyFolder
        curve = try PeerCurve.load(config, role: .supervisor, name: nil)
        self.executable = executable
        self.configPath = configPath
        self.resume = resume
        context = try ZMQContext()
        children.append(Child(role: .learner, name: "learner"))
        for i in 0..<config.actors { children.append(Child(role: .actor, name: "actor-\(i)")) }
        for i in 0..<config.rewardWorkers { children.append(Child(role: .rewardWorker, name: "reward-\(i)")) }
    }

    /// The learner's exit status when an endpoint is held by another process (EX_CONFIG of
    /// sysexits.h): not retried, since no restart can free it.
    public static let endpointInUseStatus: Int32 = 78

    /// Runs the whole training run; returns the process exit status (0 after a clean end).
    public func run() throws -> Int32 {
        defer {
            control?.close()
            try? context.close()
        }
        for index in children.indices { try start(index) }
        while true {
            let now = ContinuousClock.now
            for (pid, status) in ChildProcess.reap() { ended(pid, status, now: now) }
            if shutdownDeadline == nil, StopSignal.requested { beginShutdown(now: now, reason: "signal") }
            if let deadline = shutdownDeadline {
                if children.allSatisfy({ $0.pid == nil }) {
                    log.info("all children stopped" + (lastStats.map { "; last version \($0.policyVersion)" } ?? ""))
                    return learnerFinishedCleanly ? 0 : 1
                }
                if now >= deadline { killRemaining() }
                else if !stragglersSignalled, children.first(where: { $0.role == .learner })?.pid == nil {
                    signalStragglers()
                }
            } else {
                for index in children.indices {
                    if let restartAt = children[index].restartAt, now >= restartAt { try start(index) }
                }
            }
            serveControl(now: now)
        }
    }

    // MARK: - Children

    private func start(_ index: Int) throws {
        var child = children[index]
        var arguments = [child.role.rawValue, "--config", configPath, "--parent-pid", String(getpid())]
        if child.role != .learner { arguments += ["--instance", child.name] }
        if let childKeyFolder { arguments += ["--set", "security.key=\(childKeyFolder)/\(child.name).key"] }
        if child.role == .learner && (resume || child.failures > 0) { arguments.append("--resume") }
        let command = config.rewardWorkerCommand.split(whereSeparator: \.isWhitespace).map(String.init)
        if child.role == .rewardWorker && !command.isEmpty {
            child.pid = try ChildProcess.spawn("/usr/bin/env", command + [
                "--endpoint", config.endpoints.rewardBackend, "--instance", child.name,
                "--credit", String(config.rewardWorkerCredit), "--parent-pid", String(getpid())], output: childOutput)
        } else {
            child.pid = try ChildProcess.spawn(executable, arguments, output: childOutput)
        }
        child.startedAt = .now
        child.restartAt = nil
        children[index] = child
        log.info("started \(child.name) (pid \(child.pid!))")
        if child.role == .learner { connectControl(now: .now) }
    }

    private func ended(_ pid: pid_t, _ status: ChildProcess.Status, now: ContinuousClock.Instant) {
        guard let index = children.firstIndex(where: { $0.pid == pid }) else { return }
        var child = children[index]
        child.pid = nil
        defer { children[index] = child }
        if status.isClean || shutdownDeadline != nil {
            child.finished = true
            log.info("\(child.name) (pid \(pid)) ended: \(status)")
            if child.role == .learner {
                learnerFinishedCleanly = status.isClean
                if shutdownDeadline == nil { beginShutdown(now: now, reason: "the learner ended the run") }
            }
            return
        }
        if child.role == .learner && status == .exited(Self.endpointInUseStatus) {
            log.info("the learner cannot bind its endpoints (another process holds one): stopping the run")
            beginShutdown(now: now, reason: "the learner's endpoints are in use")
            return
        }
        if now - child.startedAt > .seconds(30) { child.failures = 0 }
        child.failures += 1
        let base = Duration.milliseconds(config.restartDelayMs) * (1 << min(child.failures - 1, 16))
        let delay = min(base, .milliseconds(config.restartDelayMaxMs))
        child.restartAt = now + delay
        log.info("\(child.name) (pid \(pid)) died: \(status); restart \(child.failures) in \(delay)")
    }

    private func beginShutdown(now: ContinuousClock.Instant, reason: String) {
        // The learner waits `shutdown_timeout_ms` for its peers, then checkpoints: allow both.
        shutdownDeadline = now + .milliseconds(config.shutdownTimeoutMs * 2 + 2000)
        log.info("stopping the run (\(reason))")
        for index in children.indices { children[index].restartAt = nil }
        guard let learner = children.first(where: { $0.role == .learner })?.pid else { return }
        if welcomed, case .sent = (try? control?.send(.terminate(Terminate(reason: reason)))) ?? .queueFull {
            return
        }
        kill(learner, SIGTERM)  // not connected: the learner's own signal path runs the same dialog
    }

    /// Once the learner has ended, a child still running never got its TERMINATE (it was
    /// not connected at the time): SIGTERM makes it stop at once instead of at the deadline.
    private func signalStragglers() {
        stragglersSignalled = true
        for child in children {
            guard let pid = child.pid else { continue }
            log.info("\(child.name) (pid \(pid)) still running after the learner ended: SIGTERM")
            kill(pid, SIGTERM)
        }
    }

    private func killRemaining() {
        for child in children {
            if let pid = child.pid {
                log.info("\(child.name) (pid \(pid)) still running after the grace period: killed")
                kill(pid, SIGKILL)
            }
        }
        shutdownDeadline = .now + .seconds(5)
    }

    // MARK: - Control connection

    private func connectControl(now: ContinuousClock.Instant) {
        control?.close()
        welcomed = false
        let name = curve?.identity.name ?? "supervisor"
        control = try? EnvelopeSocket(context, .dealer, connect: config.endpoints.control, sender: name,
                                      curve: curve?.side, handshakeLimit: config.handshakeLimit)
        lastHeard = now
        send(.hello(Hello(role: .supervisor, instanceID: name,
                          pid: UInt32(ProcessInfo.processInfo.processIdentifier), policyVersion: 0)), now: now)
    }

    private func send(_ payload: Envelope.Payload, now: ContinuousClock.Instant) {
        if case .sent = (try? control?.send(payload)) ?? .queueFull { lastSent = now }
    }

    /// Waits up to 50 ms for control messages; heartbeats; reconnects when the learner is silent.
    private func serveControl(now: ContinuousClock.Instant) {
        guard let control else { Thread.sleep(forTimeInterval: 0.05); return }
        let poller = ZMQPoller()
        poller.add(control.socket)
        if (try? poller.poll(timeout: .milliseconds(50)))?.isEmpty == false {
            while let incoming = try? control.receive() {
                lastHeard = .now
                switch incoming.envelope.payload {
                case .welcome:
                    welcomed = true
                    // A TERMINATE sent on a connection the learner had already replaced was
                    // answered NOT_WELCOMED and lost: say it again on the new one.
                    if shutdownDeadline != nil { send(.terminate(Terminate(reason: "signal")), now: .now) }
                case let .stats(stats):
                    lastStats = stats
                    onStats(stats)
                case .terminateAck: log.info("the learner acknowledged TERMINATE")
                case .error(let report) where report.code == .notWelcomed: connectControl(now: .now)
                default: break
                }
            }
        }
        let later = ContinuousClock.now
        if later - lastHeard > config.deadAfter, shutdownDeadline == nil {
            connectControl(now: later)
        } else if later - lastSent >= config.heartbeatInterval {
            send(.heartbeat(Heartbeat(policyVersion: lastStats?.policyVersion ?? 0)), now: later)
        }
    }
}
