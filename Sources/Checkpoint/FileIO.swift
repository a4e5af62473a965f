#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The error for a failed system call, read from `errno` at once so nothing can overwrite it.
private func posixError(_ what: String, source: String) -> CheckpointError {
    let code = errno
    return CheckpointError(.io(errno: code), source: source, "\(what): \(String(cString: strerror(code))) (errno \(code))")
}

/// The whole file at `url`.
func readFile(_ url: URL) throws(CheckpointError) -> [UInt8] {
    let path = url.path
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw posixError("cannot open for reading", source: path) }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw posixError("cannot stat", source: path) }
    var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
        if n < 0 {
            if errno == EINTR { continue }
            throw posixError("cannot read", source: path)
        }
        if n == 0 { break }  // shrank while reading: what was read is the file
        done += n
    }
    bytes.removeLast(bytes.count - done)
    return bytes
}

/// Test-only: `SHIELDDIFF_TEST_WRITE_PAUSE_MS` (unset in real runs) makes `writeAtomically`
/// write in four pieces and pause after each and before the rename, so crash tests can kill
/// a writer in the middle of a write of a small file.
private let testWritePause: useconds_t? = ProcessInfo.processInfo.environment["SHIELDDIFF_TEST_WRITE_PAUSE_MS"]
    .flatMap { UInt32($0) }.map { $0 * 1000 }

/// Replaces the file at `url` with `bytes` so that readers and crashes see the old file or the
/// new one, never a partial write: the bytes go to a temporary file in the same directory,
/// which is fsynced, renamed over the target (atomic within a file system), and then the
/// directory is fsynced so the rename itself survives a crash.
/// On failure before the rename the temporary file is removed and the target is untouched.
func writeAtomically(_ bytes: [UInt8], to url: URL) throws(CheckpointError) {
    let target = url.path
    let directory = url.deletingLastPathComponent().path
    let temporary = url.deletingLastPathComponent()
        .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: .min ... .max)).tmp").path

    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw posixError("cannot create temporary file \(temporary)", source: target) }
    var renamed = false
    defer { if !renamed { unlink(temporary) } }
    do {
        defer { close(fd) }
        var done = 0
        let piece = testWritePause == nil ? bytes.count : max(1, (bytes.count + 3) / 4)
        while done < bytes.count {
            let end = min(bytes.count, done + piece)
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, end - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw posixError("cannot write temporary file \(temporary)", source: target)
            }
            done += n
            if let testWritePause { usleep(testWritePause) }
        }
        guard fsync(fd) == 0 else { throw posixError("cannot fsync temporary file \(temporary)", source: target) }
    }
    if let testWritePause { usleep(testWritePause) }
    guard rename(temporary, target) == 0 else {
        throw posixError("cannot rename temporary file \(temporary) over the target", source: target)
    }
    renamed = true

    let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard directoryFD >= 0 else { throw posixError("file replaced, but cannot open directory \(directory) to fsync it", source: target) }
    defer { close(directoryFD) }
    guard fsync(directoryFD) == 0 else { throw posixError("file replaced, but cannot fsync directory \(directory)", source: target) }
}
