import Checkpoint
import Foundation
import Numerics
import XCTest

final class ParameterStoreCheckpointTests: XCTestCase {
    /// A store with the given parameter shapes, values drawn from `seed`.
    func store(_ shapes: [(String, [Int])], seed: UInt64) -> ParameterStore {
        var rng = RandomGenerator(seed: seed)
        let store = ParameterStore()
        for (name, shape) in shapes { store.register(name, shape: shape, values: Tensor(randomNormal: shape, rng: &rng).data) }
        return store
    }

    let shapes: [(String, [Int])] = [("embed.weight", [10, 4]), ("layer.0.weight", [4, 4]), ("layer.0.bias", [4]),
                                     ("scale", []), ("unused", [0, 4])]

    func testSaveAndLoadRestoresParametersAndExtras() throws {
        let url = try temporaryDirectory(for: self).appendingPathComponent("step-3.safetensors")
        let saved = store(shapes, seed: 1)
        var rng = RandomGenerator(seed: 99)
        _ = rng.next()
        var extras = CheckpointExtras(tensors: ["adam.m/embed.weight": Tensor(repeating: 0.5, shape: [10, 4])],
                                      metadata: ["note": "three steps"])
        try extras.setJSON(3, forKey: "step")
        try extras.setJSON(rng.state, forKey: "rng")
        try saved.saveCheckpoint(to: url, extras: extras)

        let loaded = store(shapes, seed: 2)
        XCTAssertNotEqual(Array(loaded.values), Array(saved.values))
        let restored = try loaded.loadCheckpoint(from: url)
        XCTAssertEqual(Array(loaded.values), Array(saved.values))
        XCTAssertEqual(restored, extras)
        XCTAssertEqual(try restored.json(Int.self, forKey: "step"), 3)
        var resumed = try XCTUnwrap(RandomGenerator(state: restored.json([UInt64].self, forKey: "rng")))
        XCTAssertEqual(resumed.next(), rng.next(), "restored RNG continues the saved stream")
    }

    func testMismatchNamesEveryProblemAndChangesNothing() throws {
        let file = try store([("a", [2]), ("b", [2, 3]), ("c", [1])], seed: 1).checkpoint()
        let model = store([("a", [2]), ("b", [3, 2]), ("d", [1])], seed: 2)
        let before = Array(model.values)
        let error = checkpointError { () throws(CheckpointError) in try model.restore(from: file) }
        XCTAssertEqual(error?.kind, .parameterMismatch)
        let message = error?.description ?? ""
        for text in ["missing from the file (1): \"d\"", "not in the model (1): \"c\"", "\"b\" is [2, 3] in the file, [3, 2] in the model"] {
            XCTAssertTrue(message.contains(text), "message lacks \(text): \(message)")
        }
        XCTAssertEqual(Array(model.values), before, "a failed restore must not write any parameter")
        print(message)
    }

    func testNonFiniteParameterIsRejected() throws {
        let saved = store([("a", [3])], seed: 1)
        saved.value(saved.parameters[0])[1] = .nan
        let model = store([("a", [3])], seed: 2)
        assertThrows(.nonFinite, mentioning: ["\"a\"", "element 1"]) { () throws(CheckpointError) in
            try model.restore(from: saved.checkpoint())
        }
    }

    func testReservedPrefixAndMetadataErrors() throws {
        assertThrows(.invalidName, mentioning: ["extra/x"]) { () throws(CheckpointError) in
            try store([("extra/x", [1])], seed: 1).checkpoint()
        }
        let extras = CheckpointExtras(metadata: ["step": "three"])
        assertThrows(.missingField, mentioning: ["\"rng\""]) { () throws(CheckpointError) in try extras.json(Int.self, forKey: "rng") }
        assertThrows(.invalidMetadata, mentioning: ["\"step\""]) { () throws(CheckpointError) in try extras.json(Int.self, forKey: "step") }
    }
}
