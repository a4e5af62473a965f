#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// One line to standard output, written at once so that progress shows up through a pipe
/// (above the progress bar, when one is shown).
func say(_ line: String) {
    Console.shared.line(line)
}

/// The commands' output. When standard output is a terminal, one progress bar may sit on its
/// last line: every line written meanwhile goes above it (bar cleared, line written, bar
/// redrawn), so lines and bar never garble each other. Elsewhere there is no bar and lines
/// are written as they come.
final class Console: @unchecked Sendable {
    static let shared = Console()

    /// Whether standard output is a terminal (then `bar` draws).
    let isTerminal = isatty(STDOUT_FILENO) == 1
    private let lock = NSLock()
    /// The bar on the last line (nil: none).
    private var bar: String?

    /// Writes `line` (a newline is added) to `descriptor`, above the bar if one is shown.
    func line(_ line: String, to descriptor: Int32 = STDOUT_FILENO) {
        lock.lock()
        defer { lock.unlock() }
        if bar != nil { write("\r\u{1B}[K", to: STDOUT_FILENO) }
        write(line + "\n", to: descriptor)
        if let bar { write(bar, to: STDOUT_FILENO) }
    }

    /// Shows `text` as the bar (cut to the terminal's width), replacing the previous one; nil
    /// removes it. Nothing when standard output is not a terminal.
    func showBar(_ text: String?) {
        guard isTerminal else { return }
        lock.lock()
        defer { lock.unlock() }
        bar = text.map { String($0.prefix(max(10, Self.columns() - 1))) }
        write("\r\u{1B}[K" + (bar ?? ""), to: STDOUT_FILENO)
    }

    /// The terminal's width in characters (80 when it does not say).
    private static func columns() -> Int {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    private func write(_ text: String, to descriptor: Int32) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
