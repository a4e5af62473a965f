/// One measured throughput: what ran, its rate and the best wall-clock time per iteration.
struct BenchmarkFigure {
    let name: String
    let gflops: Double
    let seconds: Double
}
