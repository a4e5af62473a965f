import Runtime
import XCTest

final class ConfigTests: XCTestCase {
    func testDefaultsRoundTrip() throws {
        XCTAssertEqual(try RunConfig.parsing(yaml: RunConfig().renderedYAML()), RunConfig())
    }
}
