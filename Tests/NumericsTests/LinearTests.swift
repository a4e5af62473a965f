import XCTest
import Numerics

final class SgemmTests: XCTestCase {
    func testBLASMatchesNaiveForEveryTransposition() {
        var rng = RandomGenerator(seed: 1)
        let (m, n, k) = (7, 5, 9)
        let a = Tensor(randomNormal: [m * k], rng: &rng).data
        let b = Tensor(randomNormal: [k * n], rng: &rng).data
        for ta in [false, true] {
            for tb in [false, true] {
                var fast = [Float](repeating: 0.5, count: m * n)
                var slow = fast
                let lda = ta ? m : k, ldb = tb ? k : n
                sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.7, a: a, lda: lda, b: b, ldb: ldb,
                      beta: 0.3, c: &fast, ldc: n)
                sgemmNaive(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.7, a: a, lda: lda, b: b, ldb: ldb,
                           beta: 0.3, c: &slow, ldc: n)
                for i in 0..<(m * n) { XCTAssertEqual(fast[i], slow[i], accuracy: 1e-4) }
            }
        }
    }
}
