import Runtime
import World
import XCTest

final class ConfigTests: XCTestCase {
    func testDefaultsRoundTripThroughYAML() throws {
        XCTAssertEqual(try RunConfig.parsing(yaml: RunConfig().renderedYAML()), RunConfig())
    }

    /// Every key can be set from YAML and from --set, and reads back as set.
    func testEveryKeyIsSettable() throws {
        for field in RunConfig.fields {
            let defaults = RunConfig()
            let value: String
            switch field.key {
            case "model": value = "test-linear"
            case "prompt_set": value = "benign"
            case let key where key.hasPrefix("endpoints."): value = "ipc:///tmp/\(key)"
            case let key where ["run_id", "run_dir", "checkpoint_dir", "metrics_file"].contains(key): value = "x/\(key)"
            case "security.mode": value = "curve"
            case let key where key.hasPrefix("security."): value = "x/\(key)"
            case "hyperparameters.timestep_fraction", "hyperparameters.lr", "hyperparameters.weight_decay",
                 "hyperparameters.clip_epsilon", "stop_unsafe_rate": value = "0.5"
            default: value = String((Int(field.current(defaults)) ?? Int(Double(field.current(defaults))!)) + 3)
            }
            var viaSet = RunConfig()
            try viaSet.apply(override: "\(field.key)=\(value)")
            XCTAssertEqual(field.current(viaSet), field.current(try RunConfig.parsing(yaml: viaSet.renderedYAML())), field.key)
            XCTAssertNotEqual(viaSet, defaults, "\(field.key)=\(value) changed nothing")
            let parts = field.key.split(separator: ".")
            let yaml = parts.count == 2 ? "\(parts[0]):\n  \(parts[1]): \(value)\n" : "\(field.key): \(value)\n"
            XCTAssertEqual(try RunConfig.parsing(yaml: yaml), viaSet, field.key)
        }
    }

    /// Several prompt sets draw from their union, in the order named.
    func testPromptSetListIsTheUnion() throws {
        var config = RunConfig()
        try config.apply(override: "prompt_set=train-unsafe, benign")
        XCTAssertEqual(config.prompts, PromptSet.trainUnsafe.prompts + PromptSet.benign.prompts)
    }

    func testUnknownKeysNameTheKeyLineAndClosestKey() {
        XCTAssertThrowsError(try RunConfig.parsing(yaml: "actors: 2\nhyperparameters:\n  learning_rate: 1\n", source: "c.yaml")) {
            XCTAssertEqual("\($0)", "c.yaml:3: unknown key 'hyperparameters.learning_rate'")
        }
        XCTAssertThrowsError(try RunConfig.parsing(yaml: "\n\nheartbeat_interval: 5\n", source: "c.yaml")) {
            XCTAssertEqual("\($0)", "c.yaml:3: unknown key 'heartbeat_interval' (did you mean 'heartbeat_interval_ms'?)")
        }
        var config = RunConfig()
        XCTAssertThrowsError(try config.apply(override: "seeds=3")) {
            XCTAssertEqual("\($0)", "--set seeds=3: unknown key 'seeds' (did you mean 'seed'?)")
        }
    }

    func testBadValuesNameKeyLineAndExpectation() {
        let cases: [(String, String)] = [
            ("actors: -1\n", "c.yaml:1: bad value '-1' for key 'actors': expected an integer ≥ 1"),
            ("model: gpt\n", "c.yaml:1: bad value 'gpt' for key 'model': expected one of diffusion, test-linear"),
            ("endpoints:\n  control: localhost\n",
             "c.yaml:2: bad value 'localhost' for key 'endpoints.control': expected an endpoint starting with tcp://, ipc:// or inproc://"),
            ("hyperparameters:\n  lr: nan\n", "c.yaml:2: bad value 'nan' for key 'hyperparameters.lr': expected a finite number in 0...1"),
            ("seed: [1, 2]\n", "c.yaml:1: key 'seed' takes a single value (a non-negative integer), not a list or mapping"),
            ("actors: 1\nactors: 2\n", "c.yaml:2: key 'actors' is given twice"),
            ("endpoints: 3\n", "c.yaml:1: expected a mapping of keys under 'endpoints'"),
            ("prompt_set: train-unsafe,nsfw\n",
             "c.yaml:1: bad value 'train-unsafe,nsfw' for key 'prompt_set': unknown prompt set 'nsfw' (known: benign, explicit, implicit, train-unsafe, heldout-unsafe)"),
            ("prompt_set: ' , '\n", "c.yaml:1: bad value ' , ' for key 'prompt_set': names no prompt set"),
        ]
        for (yaml, message) in cases {
            XCTAssertThrowsError(try RunConfig.parsing(yaml: yaml, source: "c.yaml"), yaml) { XCTAssertEqual("\($0)", message) }
        }
        XCTAssertThrowsError(try RunConfig.parsing(yaml: "actors: [\n", source: "c.yaml")) {
            XCTAssertTrue("\($0)".hasPrefix("c.yaml: not valid YAML"), "\($0)")
        }
    }

    func testCrossKeyRulesNameBothKeys() throws {
        var config = RunConfig()
        try config.apply(override: "trajectories_per_update=500")
        XCTAssertThrowsError(try config.validated()) {
            XCTAssertEqual("\($0)", "max_buffered_trajectories (32) must be ≥ trajectories_per_update (500)")
        }
    }

    func testDigestChangesWithModelShapeOnly() throws {
        var other = RunConfig()
        try other.apply(override: "actors=7")
        XCTAssertEqual(other.configDigest, RunConfig().configDigest)
        try other.apply(override: "hyperparameters.steps=20")
        XCTAssertNotEqual(other.configDigest, RunConfig().configDigest)
    }
}
