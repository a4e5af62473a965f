import ArgumentParser
import Foundation
import Numerics

/// One measured figure: what ran, its rate in `unit`, and the best wall-clock time of one
/// iteration.
struct BenchmarkFigure {
    let name: String
    let value: Double
    let unit: String
    let seconds: Double

    /// A compute rate: `flops` floating-point operations done in `seconds`.
    static func gflops(_ name: String, flops: Double, seconds: Double) -> BenchmarkFigure {
        BenchmarkFigure(name: name, value: flops / seconds / 1e9, unit: "GFLOP/s", seconds: seconds)
    }
}

/// The fastest of `iterations` runs of `body`, in seconds; a first untimed run warms
/// caches and lets scratch buffers reach their size. Best-of, not mean: on a shared
/// machine the minimum is the figure least disturbed by other work.
func bestTime(iterations: Int, clock: BenchmarkClock = .wall, _ body: () -> Void) -> Double {
    body()
    var best = Double.infinity
    for _ in 0..<max(iterations, 1) {
        let start = clock.nanoseconds
        body()
        best = min(best, Double(clock.nanoseconds - start) / 1e9)
    }
    return best
}

/// What a benchmark times: wall clock, or the CPU time of the calling thread alone, which on
/// one thread leaves out the time other processes hold the core (a shared machine's load).
enum BenchmarkClock: String, ExpressibleByArgument, CaseIterable {
    case wall
    case threadCPU = "thread-cpu"

    var nanoseconds: UInt64 {
        switch self {
        case .wall: return DispatchTime.now().uptimeNanoseconds
        case .threadCPU:
            var t = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
            return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
        }
    }
}

/// The first line of every benchmark: the OpenBLAS kernel its figures were measured on.
func printKernelHeader() {
    print("kernel: " + BLASKernel.description)
}
