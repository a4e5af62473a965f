import Checkpoint
import Numerics
import XCTest

final class FNV1aTests: XCTestCase {
    /// The published FNV-1a 64 test vectors: the byte stream is plain FNV-1a.
    func testBytesMatchThePublishedVectors() {
        func hex(_ text: String) -> String {
            var hash = FNV1a()
            hash.mix(bytes: text.utf8)
            return hash.hex
        }
        XCTAssertEqual(hex(""), "cbf29ce484222325")
        XCTAssertEqual(hex("a"), "af63dc4c8601ec8c")
        XCTAssertEqual(hex("foobar"), "85944171f73967e8")
    }

    /// The tensor digest sees every name, shape and value, whatever the dictionary's order.
    func testTensorDigestSeesNamesShapesAndValues() {
        let a = Tensor(shape: [2, 2], data: [1, 2, 3, 4]), b = Tensor(shape: [3], data: [5, 6, 7])
        let digest = FNV1a.digest(["a": a, "b": b])
        XCTAssertEqual(FNV1a.digest(["b": b, "a": a]), digest)
        XCTAssertNotEqual(FNV1a.digest(["a": b, "b": a]), digest)
        XCTAssertNotEqual(FNV1a.digest(["a": Tensor(shape: [4], data: [1, 2, 3, 4]), "b": b]), digest)
        XCTAssertNotEqual(FNV1a.digest(["a": Tensor(shape: [2, 2], data: [1, 2, 3, 4.0001]), "b": b]), digest)
    }
}
