import Checkpoint
import Foundation
import Models
import Numerics
import XCTest

final class DetectorCheckpointTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("detector-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    private func tinyDetector(seed: UInt64) -> UnsafeDetector {
        var rng = RandomGenerator(seed: seed)
        return UnsafeDetector(config: .init(channels: [2, 3, 4]), rng: &rng)
    }

    func testSaveAndLoadGiveTheSameProbabilities() throws {
        let detector = tinyDetector(seed: 1)
        let url = directory.appendingPathComponent("d.safetensors")
        try detector.save(to: url)
        let loaded = try UnsafeDetector.load(from: url)
        XCTAssertEqual(loaded.config, detector.config)
        var rng = RandomGenerator(seed: 2)
        let x = Tensor(shape: [2, 3, 32, 32], data: (0..<6144).map { _ in rng.nextUniform() })
        XCTAssertEqual(loaded.forward(x), detector.forward(x))
    }

    func testCorruptFileNamesTheFile() throws {
        let url = directory.appendingPathComponent("corrupt.safetensors")
        try Data([0x10, 0, 0, 0, 0, 0, 0, 0] + Array("{not json".utf8)).write(to: url)
        XCTAssertThrowsError(try UnsafeDetector.load(from: url)) { error in
            guard case let .checkpoint(path, inner) = error as? DetectorError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, url.path)
            XCTAssertEqual(inner.kind, .headerBeyondFile)
            print("corrupt file: \(error)")
        }
    }

    /// A file whose tensors do not match the architecture its metadata declares.
    func testWrongShapesAreListed() throws {
        var file = try tinyDetector(seed: 3).store.checkpoint()
        var extras = CheckpointExtras()
        try extras.setJSON(UnsafeDetector.Config(channels: [2, 3, 5]), forKey: UnsafeDetector.configKey)
        file.metadata = extras.metadata
        let url = directory.appendingPathComponent("shapes.safetensors")
        try file.write(to: url)
        XCTAssertThrowsError(try UnsafeDetector.load(from: url)) { error in
            guard case let .checkpoint(_, inner) = error as? DetectorError else { return XCTFail("\(error)") }
            XCTAssertEqual(inner.kind, .parameterMismatch)
            let message = "\(error)"
            XCTAssertTrue(message.contains("conv3.weight") && message.contains("head.weight"), message)
            print("wrong shapes: \(message)")
        }
    }

    func testMissingOrImpossibleConfig() throws {
        let file = try tinyDetector(seed: 4).store.checkpoint()
        let url = directory.appendingPathComponent("noconfig.safetensors")
        try file.write(to: url)
        XCTAssertThrowsError(try UnsafeDetector.load(from: url)) { error in
            guard case let .checkpoint(_, inner) = error as? DetectorError else { return XCTFail("\(error)") }
            XCTAssertEqual(inner.kind, .missingField)
        }
        var bad = file
        var extras = CheckpointExtras()
        try extras.setJSON(UnsafeDetector.Config(channels: [2, 0]), forKey: UnsafeDetector.configKey)
        bad.metadata = extras.metadata
        try bad.write(to: url)
        XCTAssertThrowsError(try UnsafeDetector.load(from: url)) { error in
            XCTAssertEqual(error as? DetectorError, .invalidConfig(path: url.path, [2, 0]))
        }
    }
}
