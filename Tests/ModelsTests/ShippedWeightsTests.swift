import Models
import XCTest

final class ShippedWeightsTests: XCTestCase {
    func testTheWeightsFolderIsBundled() {
        XCTAssertNotNil(ShippedWeights.url("README.md"))
        XCTAssertNil(ShippedWeights.url("no-such-file.safetensors"))
    }
}
