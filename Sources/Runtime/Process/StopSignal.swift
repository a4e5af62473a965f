#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Set by SIGINT/SIGTERM; the role loops poll it (zmq_poll returns on the signal's EINTR).
private let stopFlag = Atomic<Int32>(0)

/// The process's stop request: SIGINT or SIGTERM, or the death of the parent process.
public enum StopSignal {
    /// Makes SIGINT and SIGTERM set the stop flag instead of killing the process.
    public static func install() {
        signal(SIGINT) { _ in stopFlag.store(1, ordering: .relaxed) }
        signal(SIGTERM) { _ in stopFlag.store(1, ordering: .relaxed) }
    }

    /// True once SIGINT or SIGTERM arrived.
    public static var requested: Bool { stopFlag.load(ordering: .relaxed) != 0 }

    /// True when `parentPID` is given and is no longer this process's parent (it died and
    /// the process was re-parented): children of a killed supervisor then exit by themselves.
    public static func orphaned(parentPID: Int32?) -> Bool {
        guard let parentPID else { return false }
        return getppid() != parentPID
    }
}
