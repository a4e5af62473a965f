struct BenchmarkFigure { let name: String; let gflops: Double; let seconds: Double }
