import Foundation
import Numerics
import XCTest

/// With `MallocTuning` on, tensor-sized blocks freed by one pass are reused by the next one
/// without the kernel faulting their pages in again (by default glibc unmaps or trims them).
final class MallocTuningTests: XCTestCase {
    private func minorFaults() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_minflt
    }

    func testFreedTensorMemoryIsReusedWithoutPageFaults() {
        XCTAssertTrue(MallocTuning.keepFreedMemoryForReuse(), "glibc refused the malloc settings")
        let blocks = 4, floats = 2 << 20                              // four 8 MiB tensors, as one layer pass
        func pass() -> Float {
            let tensors = (0..<blocks).map { i in [Float](repeating: Float(i), count: floats) }
            return tensors.reduce(0) { $0 + $1[floats - 1] }
        }
        XCTAssertEqual(pass(), 6)                                     // the first pass faults the pages in
        let before = minorFaults()
        XCTAssertEqual(pass(), 6)
        let faults = minorFaults() - before, pages = blocks * floats * 4 / 4096
        XCTAssertLessThan(faults, pages / 10, "the second pass faulted \(faults) of its \(pages) pages in again")
    }
}
