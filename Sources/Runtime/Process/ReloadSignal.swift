#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Set by SIGHUP; the learner's loop takes it and re-reads its allowlist.
private let reloadFlag = Atomic<Int32>(0)

/// The process's reload request (SIGHUP).
public enum ReloadSignal {
    /// Makes SIGHUP set the reload flag instead of ending the process.
    public static func install() {
        signal(SIGHUP) { _ in reloadFlag.store(1, ordering: .relaxed) }
    }

    /// True once per SIGHUP (or burst of them) since the last call.
    public static func take() -> Bool { reloadFlag.exchange(0, ordering: .relaxed) != 0 }
}
