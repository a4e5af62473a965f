import Numerics
import XCTest

final class ParameterStoreTests: XCTestCase {
    /// Registering past the reserved capacity moves the buffers but keeps every value and
    /// gradient, and the named views stay contiguous in registration order.
    func testGrowthKeepsValuesAndViewsAreContiguous() {
        let store = ParameterStore(reserve: 4)
        let a = store.register("a", shape: [3], values: [1, 2, 3])
        store.grad(a)[1] = 5
        let b = store.register("b", shape: [2, 5], values: (0..<10).map(Float.init))
        let c = store.register("c", shape: [], values: [7])
        XCTAssertEqual([a.offset, b.offset, c.offset], [0, 3, 13])
        XCTAssertEqual(store.count, 14)
        XCTAssertEqual(store.tensor(a).data, [1, 2, 3])
        XCTAssertEqual(store.grad(a)[1], 5)
        XCTAssertEqual(store.tensor(b).shape, [2, 5])
        XCTAssertEqual(Array(store.values), [1, 2, 3] + (0..<10).map(Float.init) + [7])
        XCTAssertEqual(store.parameter(named: "b"), b)
        XCTAssertNil(store.parameter(named: "z"))
        store.set(c, Tensor(shape: [], data: [9]))
        XCTAssertEqual(store.values.last, 9)
        store.zeroGrads()
        XCTAssertTrue(store.grads.allSatisfy { $0 == 0 })
    }
}
