import CBLAS
import CPUFeatures
import Foundation

/// Which OpenBLAS kernel this process runs, and the best one this CPU supports.
///
/// Debian's OpenBLAS (DYNAMIC_ARCH) picks its kernels from the CPU model number; under a
/// hypervisor that hides the model it falls back to Prescott (SSE3) on CPUs with AVX2 or
/// AVX-512, 2–3.6× slower. The kernel is chosen once, when the library initialises, from
/// `OPENBLAS_CORETYPE`: so a process whose kernel is weaker than its CPU's best re-executes
/// itself once with that variable set (`selectBestOrReexecute`), and every child it spawns
/// inherits it. A user's own `OPENBLAS_CORETYPE` is never overridden.
public enum BLASKernel {
    /// The kernels this project selects, weakest first. OpenBLAS has more names; each maps onto
    /// the instruction-set tier its kernels need (`tier(ofCore:)`).
    public enum Tier: Int, Comparable, CaseIterable, Sendable {
        case sse3 = 0, avx2 = 1, avx512 = 2

        /// The `OPENBLAS_CORETYPE` value that selects this tier's kernels.
        public var coreType: String {
            switch self {
            case .sse3: "Prescott"
            case .avx2: "Haswell"
            case .avx512: "SkylakeX"
            }
        }

        public static func < (a: Tier, b: Tier) -> Bool { a.rawValue < b.rawValue }
    }

    /// Variables the re-execution sets: the kernel, and a marker saying it was our choice (so
    /// logs can tell it from the user's, and a process never re-executes twice).
    public static let coreTypeVariable = "OPENBLAS_CORETYPE"
    public static let chosenMarkerVariable = "SHIELDDIFF_BLAS_CHOSEN"

    /// The kernel OpenBLAS is running, as `openblas_get_corename` names it.
    public static var current: String { String(cString: openblas_get_corename()) }

    /// The best tier this CPU and its operating system enable, by cpuid and xgetbv.
    public static var bestSupported: Tier {
        let f = shielddiff_detect_cpu_features()
        if f.avx512f != 0 && f.avx512bw != 0 && f.avx512dq != 0 && f.avx512vl != 0 { return .avx512 }
        if f.avx2 != 0 && f.fma != 0 { return .avx2 }
        return .sse3
    }

    /// Every tier the CPU can run, weakest first: what the tests run under.
    public static var supported: [Tier] { Tier.allCases.filter { $0 <= bestSupported } }

    /// The instruction-set tier of an OpenBLAS core name (case-insensitive).
    public static func tier(ofCore name: String) -> Tier {
        switch name.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": .avx512
        case "haswell", "zen", "excavator", "steamroller": .avx2
        default: .sse3
        }
    }

    /// What to do at process start, decided from the environment and the two kernels.
    public enum Decision: Equatable, Sendable {
        /// Keep the running kernel; `reason` says why, for the log line.
        case keep(reason: String)
        /// Re-execute with `OPENBLAS_CORETYPE` set to this core type.
        case reexecute(coreType: String)
    }

    public static func decide(environment: [String: String], current: String, best: Tier) -> Decision {
        if environment[chosenMarkerVariable] != nil { return .keep(reason: "chosen for this CPU (\(best.coreType) tier)") }
        if let own = environment[coreTypeVariable], !own.isEmpty { return .keep(reason: "OPENBLAS_CORETYPE=\(own) set by the user") }
        if tier(ofCore: current) >= best { return .keep(reason: "OpenBLAS's own choice") }
        return .reexecute(coreType: best.coreType)
    }

    /// Re-executes this process with the best kernel when OpenBLAS chose a weaker one; returns
    /// (without re-executing) when the kernel is already right, the user chose it, or the
    /// re-execution fails (the process then runs on, slower, and `description` says so).
    public static func selectBestOrReexecute() {
        guard case .reexecute(let coreType) = decide(environment: ProcessInfo.processInfo.environment,
                                                     current: current, best: bestSupported) else { return }
        setenv(coreTypeVariable, coreType, 1)
        setenv(chosenMarkerVariable, "1", 1)
        let arguments = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", &argv)
        // execv returned: it failed. Undo the variables so children do not inherit a kernel
        // this process is not running.
        unsetenv(coreTypeVariable)
        unsetenv(chosenMarkerVariable)
        FileHandle.standardError.write(Data("shielddiff: could not re-execute with OPENBLAS_CORETYPE=\(coreType) (errno \(errno)); running with OpenBLAS's \(current) kernel\n".utf8))
    }

    /// One line for logs and benchmark headers, e.g. "OpenBLAS 0.3.21 kernel SkylakeX (chosen
    /// for this CPU (SkylakeX tier); CPU supports Prescott, Haswell, SkylakeX)".
    public static var description: String {
        let config = String(cString: openblas_get_config())
        let version = config.split(separator: " ").dropFirst().first.map(String.init) ?? config
        let reason: String
        switch decide(environment: ProcessInfo.processInfo.environment, current: current, best: bestSupported) {
        case .keep(let why): reason = why
        case .reexecute(let better): reason = "weaker than this CPU's \(better): not re-executed"
        }
        return "OpenBLAS \(version) kernel \(current) (\(reason); CPU supports "
            + supported.map(\.coreType).joined(separator: ", ") + ")"
    }
}
