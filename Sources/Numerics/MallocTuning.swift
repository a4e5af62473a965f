import Foundation

/// glibc malloc settings for a process whose layers allocate megabyte-sized tensors on every
/// pass. By default glibc serves such blocks with mmap and unmaps them on free (and trims the
/// heap's top once 128 KiB–64 MiB of it is free), so each layer's outputs are faulted in and
/// zeroed by the kernel afresh: a profile of the denoiser spent about a fifth of its time in
/// page faults and unmaps. With blocks up to 32 MiB (glibc's maximum) kept in the heap and no
/// automatic trim, freed activations are reused by the next pass. Memory still goes back to the
/// system on an explicit `malloc_trim` (the learner's once-a-minute `MemoryTrim`).
public enum MallocTuning {
    private typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
    // Swift's Glibc module does not declare mallopt; looked up at run time (nil without glibc).
    private static let mallopt: Mallopt? = dlsym(nil, "mallopt").map { unsafeBitCast($0, to: Mallopt.self) }
    private static let trimThreshold: Int32 = -1, mmapThreshold: Int32 = -3  // M_TRIM_THRESHOLD, M_MMAP_THRESHOLD

    /// Applies the settings; true when glibc accepted both. Call once at process start.
    @discardableResult
    public static func keepFreedMemoryForReuse() -> Bool {
        guard let mallopt else { return false }
        return mallopt(mmapThreshold, 32 << 20) == 1 && mallopt(trimThreshold, Int32.max) == 1
    }
}
