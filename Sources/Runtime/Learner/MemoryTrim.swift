import Foundation

/// glibc's `malloc_trim(0)`: gives the free pages inside every malloc arena back to the system.
/// Without it the learner's RSS climbs for tens of minutes although nothing leaks: in a soak
/// (test policy, ~20 updates/s) the live heap stayed at 7.5 MB and the arenas' size at 13 MB
/// from minute 2 to minute 12, while RSS rose from 43 to 48 MB as the threads' frees and
/// mallocs touched ever more of the arenas' pages. Swift's Glibc module does not declare it,
/// so it is looked up at run time; without glibc this does nothing.
enum MemoryTrim {
    private typealias Trim = @convention(c) (Int) -> Int32
    private static let trim: Trim? = dlsym(nil, "malloc_trim").map { unsafeBitCast($0, to: Trim.self) }

    /// How often the learner trims.
    static let interval = Duration.seconds(60)

    static func run() { _ = trim?(0) }
}
