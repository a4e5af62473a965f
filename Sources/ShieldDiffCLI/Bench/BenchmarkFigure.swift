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
func bestTime(iterations: Int, _ body: () -> Void) -> Double {
    body()
    var best = Double.infinity
    for _ in 0..<max(iterations, 1) {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return best
}

/// The first line of every benchmark: the OpenBLAS kernel its figures were measured on.
func printKernelHeader() {
    print("kernel: " + BLASKernel.description)
}
