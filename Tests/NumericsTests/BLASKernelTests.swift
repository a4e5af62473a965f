import Foundation
import Numerics
import XCTest

final class BLASKernelTests: XCTestCase {
    func testCoreNamesMapOntoTheirInstructionSets() {
        XCTAssertEqual(BLASKernel.tier(ofCore: "Prescott"), .sse3)
        XCTAssertEqual(BLASKernel.tier(ofCore: "Sandybridge"), .sse3)
        XCTAssertEqual(BLASKernel.tier(ofCore: "Haswell"), .avx2)
        XCTAssertEqual(BLASKernel.tier(ofCore: "Zen"), .avx2)
        XCTAssertEqual(BLASKernel.tier(ofCore: "SkylakeX"), .avx512)
        XCTAssertEqual(BLASKernel.tier(ofCore: "cooperlake"), .avx512)
    }

    func testAWeakerKernelThanTheCPUsBestIsReplaced() {
        XCTAssertEqual(BLASKernel.decide(environment: [:], current: "Prescott", best: .avx512),
                       .reexecute(coreType: "SkylakeX"))
        XCTAssertEqual(BLASKernel.decide(environment: [:], current: "Prescott", best: .avx2),
                       .reexecute(coreType: "Haswell"))
        XCTAssertEqual(BLASKernel.decide(environment: [:], current: "Haswell", best: .avx512),
                       .reexecute(coreType: "SkylakeX"))
    }

    func testOpenBLASsChoiceIsKeptWhenItIsAsGood() {
        XCTAssertEqual(BLASKernel.decide(environment: [:], current: "Cooperlake", best: .avx512),
                       .keep(reason: "OpenBLAS's own choice"))
        XCTAssertEqual(BLASKernel.decide(environment: [:], current: "Prescott", best: .sse3),
                       .keep(reason: "OpenBLAS's own choice"))
    }

    /// A user's OPENBLAS_CORETYPE is theirs, even a weaker one; and a process that was already
    /// re-executed never re-executes again (whatever OpenBLAS then reports).
    func testTheUsersChoiceAndAnEarlierChoiceAreNeverOverridden() {
        XCTAssertEqual(BLASKernel.decide(environment: ["OPENBLAS_CORETYPE": "Prescott"], current: "Prescott", best: .avx512),
                       .keep(reason: "OPENBLAS_CORETYPE=Prescott set by the user"))
        XCTAssertEqual(BLASKernel.decide(environment: ["OPENBLAS_CORETYPE": "SkylakeX", "SHIELDDIFF_BLAS_CHOSEN": "1"],
                                         current: "Prescott", best: .avx512),
                       .keep(reason: "chosen for this CPU (SkylakeX tier)"))
    }

    func testTheSupportedKernelsEndAtTheBestOne() {
        let supported = BLASKernel.supported
        XCTAssertEqual(supported.first, .sse3)
        XCTAssertEqual(supported.last, BLASKernel.bestSupported)
        XCTAssertEqual(supported, supported.sorted())
    }

    /// Under the kernel this test runs with (the test command runs it under each), sgemm
    /// agrees with the Double-accumulating naive oracle at a size that takes the packed path.
    func testSgemmUnderTheRunningKernelMatchesTheNaiveOracle() {
        var rng = RandomGenerator(seed: 11)
        let (m, n, k) = (67, 45, 129)
        let a = Tensor(randomNormal: [m, k], rng: &rng), b = Tensor(randomNormal: [k, n], rng: &rng)
        var fast = [Float](repeating: 0, count: m * n), naive = fast
        sgemm(m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: n, c: &fast, ldc: n)
        sgemmNaive(m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: n, c: &naive, ldc: n)
        let worst = zip(fast, naive).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst, 1e-4 * Float(k).squareRoot(), "kernel \(BLASKernel.current)")
    }
}
