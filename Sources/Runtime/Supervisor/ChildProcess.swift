#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Starting and reaping child processes of the supervisor.
enum ChildProcess {
    /// How a child ended.
    enum Status: Equatable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)

        var isClean: Bool { self == .exited(0) }

        var description: String {
            switch self {
            case let .exited(code): return "exit status \(code)"
            case let .signaled(signal): return "signal \(signal)"
            }
        }
    }

    /// Starts `executable` with `arguments` in a process group of its own, so a terminal's
    /// Ctrl-C reaches only the supervisor, which then stops the children in protocol order.
    /// `output`: a descriptor to give the child as its stdout and stderr (default: the supervisor's).
    static func spawn(_ executable: String, _ arguments: [String], output: Int32? = nil) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let output {
            posix_spawn_file_actions_adddup2(&actions, output, STDOUT_FILENO)
            posix_spawn_file_actions_adddup2(&actions, output, STDERR_FILENO)
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard status == 0 else {
            throw RuntimeError("cannot start \(executable) \(arguments.joined(separator: " ")): \(String(cString: strerror(status)))")
        }
        return pid
    }

    /// Every child that ended since the last call, without waiting.
    static func reap() -> [(pid: pid_t, status: Status)] {
        var ended: [(pid_t, Status)] = []
        while true {
            var raw: Int32 = 0
            let pid = waitpid(-1, &raw, WNOHANG)
            guard pid > 0 else { return ended }
            // The wait status layout of <sys/wait.h> (WIFEXITED / WEXITSTATUS / WTERMSIG).
            let signal = raw & 0x7f
            ended.append((pid, signal == 0 ? .exited((raw >> 8) & 0xff) : .signaled(signal)))
        }
    }
}
