#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A pipe whose lines go to `Console` on stderr: `train` hands its write end to the children
/// as their stdout and stderr when the terminal shows a progress bar, so their lines appear
/// above the bar instead of through it.
final class LineRelay: @unchecked Sendable {
    /// The write end, for the children.
    let descriptor: Int32
    private let readEnd: Int32
    private let done = DispatchSemaphore(value: 0)

    init() throws {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw RelayError("cannot make a pipe for the children's output: \(String(cString: strerror(errno)))") }
        (readEnd, descriptor) = (ends[0], ends[1])
        // Neither end is inherited as such: spawn's dup2 hands the write end on as fds 1 and 2.
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let thread = Thread { [self] in relay() }
        thread.name = "train-output"
        thread.start()
    }

    /// Closes the write end and waits (at most `timeout` seconds) until every line written
    /// before is relayed.
    func finish(timeout: Double = 2) {
        close(descriptor)
        _ = done.wait(timeout: .now() + timeout)
    }

    private func relay() {
        defer { done.signal() }
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            pending += buffer[0..<count]
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                Console.shared.line(String(decoding: pending[..<newline], as: UTF8.self), to: STDERR_FILENO)
                pending.removeSubrange(...newline)
            }
        }
        if !pending.isEmpty { Console.shared.line(String(decoding: pending, as: UTF8.self), to: STDERR_FILENO) }
        close(readEnd)
    }
}

/// The relay's pipe cannot be made.
struct RelayError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
