/// One benchmark result: a rate in `unit` (GFLOP/s unless stated, e.g. "GB/s") and the
/// best wall-clock seconds of one run.
struct BenchmarkFigure { let name: String; let gflops: Double; let seconds: Double; var unit: String = "GFLOP/s" }
