import Runtime
import World
import XCTest

final class ConfigTests: XCTestCase {
    func testDefaultsRoundTripThroughYAML() throws {
        XCTAssertEqual(try RunConfig.parsing(yaml: RunConfig().renderedYAML()), RunConfig())
    }

    /// Every key with a value unlike its default, as `key`, `value` pairs.
    private static let everyKey: [(String, String)] = [
        ("model", "test-linear"), ("run_id", "run-7"), ("run_dir", "/tmp/r7"), ("checkpoint_dir", "/tmp/c7"),
        ("metrics_file", "/tmp/m7.jsonl"), ("endpoints.control", "tcp://127.0.0.1:6001"),
        ("endpoints.weights", "tcp://127.0.0.1:6002"), ("endpoints.reward_frontend", "ipc:///tmp/f7.sock"),
        ("endpoints.reward_backend", "inproc://b7"), ("endpoints.weights_relay", "ipc:///tmp/w7.sock"), ("actors", "3"), ("reward_workers", "0"), ("reward_worker_command", "python3 w.py"), ("prompt_set", "benign,implicit"),
        ("trajectories_per_batch", "5"), ("trajectories_per_update", "6"), ("max_buffered_trajectories", "7"),
        ("seed", "18446744073709551615"), ("max_policy_lag", "9"), ("max_in_flight_batches", "10"),
        ("heartbeat_interval_ms", "11"), ("liveness", "12"), ("reconnect_delay_ms", "13"), ("reconnect_delay_max_ms", "14"),
        ("reward_timeout_ms", "15"), ("reward_queue_limit", "16"), ("reward_worker_credit", "17"), ("updates", "18"),
        ("stop_unsafe_rate", "0.19"), ("stop_window", "20"), ("checkpoint_every", "21"), ("checkpoints_kept", "22"),
        ("restart_delay_ms", "23"), ("restart_delay_max_ms", "24"), ("shutdown_timeout_ms", "25"),
        ("hyperparameters.lr", "0.26"), ("hyperparameters.weight_decay", "0.27"), ("hyperparameters.max_grad_norm", "28.5"),
        ("hyperparameters.clip_epsilon", "0.29"), ("hyperparameters.adv_clip", "30.5"), ("hyperparameters.buffer", "31"),
        ("hyperparameters.min_count", "32"), ("hyperparameters.trajectories_per_step", "33"),
        ("hyperparameters.inner_epochs", "34"), ("hyperparameters.min_trained_sigma", "0.35"),
        ("hyperparameters.timestep_fraction", "0.36"), ("hyperparameters.guidance", "3.7"), ("hyperparameters.steps", "38"),
        ("hyperparameters.eta", "0.39"), ("hyperparameters.w_align", "-4.0"), ("hyperparameters.w_unsafe", "4.1"),
        ("hyperparameters.lora_rank", "42"), ("hyperparameters.latent_size", "43"), ("checkpoint_seconds", "44.5"),
        ("tensorboard_image_every", "45"), ("metrics_port", "9464"), ("metrics_address", "0.0.0.0"), ("hyperparameters.anchor_weight", "0.46"), ("hyperparameters.anchor_batch", "47"),
        ("hyperparameters.learner_threads", "48"), ("security.mode", "curve"), ("security.key", "/tmp/k7.key"),
        ("security.learner_public_key", "/tmp/l7.pub"), ("security.allowlist", "/tmp/a7"), ("limits.max_actors", "49"),
        ("limits.max_reward_workers", "50"), ("limits.max_hellos_per_second", "51"), ("limits.handshake_timeout_ms", "52"),
        ("limits.max_unauthenticated_connections", "53"), ("adversarial.text_share", "0.54"),
        ("adversarial.embedding_share", "0.55"), ("adversarial.eta", "5.6"), ("adversarial.eta_draw", "uniform"),
        ("init_checkpoint", "/tmp/i7.safetensors"),
    ]

    /// Each key lands in its own property: literal expected values, read through the
    /// properties (not the key table), so a key wired to another field fails.
    private func assertEveryKeySet(_ c: RunConfig, _ source: String, file: StaticString = #filePath, line: UInt = #line) {
        func check<T: Equatable>(_ actual: T, _ expected: T, _ key: String) {
            XCTAssertEqual(actual, expected, "\(source): \(key)", file: file, line: line)
        }
        check(c.model, "test-linear", "model"); check(c.runID, "run-7", "run_id"); check(c.runDir, "/tmp/r7", "run_dir")
        check(c.checkpointDir, "/tmp/c7", "checkpoint_dir"); check(c.metricsFile, "/tmp/m7.jsonl", "metrics_file")
        check(c.endpoints.control, "tcp://127.0.0.1:6001", "endpoints.control")
        check(c.endpoints.weights, "tcp://127.0.0.1:6002", "endpoints.weights")
        check(c.endpoints.rewardFrontend, "ipc:///tmp/f7.sock", "endpoints.reward_frontend")
        check(c.endpoints.rewardBackend, "inproc://b7", "endpoints.reward_backend")
        check(c.endpoints.weightsRelay, "ipc:///tmp/w7.sock", "endpoints.weights_relay")
        check(c.actors, 3, "actors"); check(c.rewardWorkers, 0, "reward_workers"); check(c.rewardWorkerCommand, "python3 w.py", "reward_worker_command"); check(c.promptSet, "benign,implicit", "prompt_set")
        check(c.trajectoriesPerBatch, 5, "trajectories_per_batch"); check(c.trajectoriesPerUpdate, 6, "trajectories_per_update")
        check(c.maxBufferedTrajectories, 7, "max_buffered_trajectories"); check(c.seed, UInt64.max, "seed")
        check(c.maxPolicyLag, 9, "max_policy_lag"); check(c.maxInFlightBatches, 10, "max_in_flight_batches")
        check(c.heartbeatIntervalMs, 11, "heartbeat_interval_ms"); check(c.liveness, 12, "liveness")
        check(c.reconnectDelayMs, 13, "reconnect_delay_ms"); check(c.reconnectDelayMaxMs, 14, "reconnect_delay_max_ms")
        check(c.rewardTimeoutMs, 15, "reward_timeout_ms"); check(c.rewardQueueLimit, 16, "reward_queue_limit")
        check(c.rewardWorkerCredit, 17, "reward_worker_credit"); check(c.updates, 18, "updates")
        check(c.stopUnsafeRate, 0.19, "stop_unsafe_rate"); check(c.stopWindow, 20, "stop_window")
        check(c.checkpointEvery, 21, "checkpoint_every"); check(c.checkpointsKept, 22, "checkpoints_kept")
        check(c.restartDelayMs, 23, "restart_delay_ms"); check(c.restartDelayMaxMs, 24, "restart_delay_max_ms")
        check(c.shutdownTimeoutMs, 25, "shutdown_timeout_ms")
        let h = c.hyperparameters
        check(h.lr, 0.26, "lr"); check(h.weightDecay, 0.27, "weight_decay"); check(h.maxGradNorm, 28.5, "max_grad_norm")
        check(h.clipEpsilon, 0.29, "clip_epsilon"); check(h.advClip, 30.5, "adv_clip"); check(h.buffer, 31, "buffer")
        check(h.minCount, 32, "min_count"); check(h.trajectoriesPerStep, 33, "trajectories_per_step")
        check(h.innerEpochs, 34, "inner_epochs"); check(h.minTrainedSigma, 0.35, "min_trained_sigma")
        check(h.timestepFraction, 0.36, "timestep_fraction"); check(h.guidance, 3.7, "guidance"); check(h.steps, 38, "steps")
        check(h.eta, 0.39, "eta"); check(h.wAlign, -4.0, "w_align"); check(h.wUnsafe, 4.1, "w_unsafe")
        check(h.loraRank, 42, "lora_rank"); check(h.latentSize, 43, "latent_size")
        check(c.checkpointSeconds, 44.5, "checkpoint_seconds"); check(c.tensorboardImageEvery, 45, "tensorboard_image_every")
        check(c.metricsPort, 9464, "metrics_port"); check(c.metricsAddress, "0.0.0.0", "metrics_address")
        check(h.anchorWeight, 0.46, "anchor_weight"); check(h.anchorBatch, 47, "anchor_batch")
        check(h.learnerThreads, 48, "learner_threads")
        check(c.security.mode, "curve", "security.mode"); check(c.security.key, "/tmp/k7.key", "security.key")
        check(c.security.learnerPublicKey, "/tmp/l7.pub", "security.learner_public_key")
        check(c.security.allowlist, "/tmp/a7", "security.allowlist")
        check(c.limits.maxActors, 49, "limits.max_actors"); check(c.limits.maxRewardWorkers, 50, "limits.max_reward_workers")
        check(c.limits.maxHellosPerSecond, 51, "limits.max_hellos_per_second")
        check(c.limits.handshakeTimeoutMs, 52, "limits.handshake_timeout_ms")
        check(c.limits.maxUnauthenticatedConnections, 53, "limits.max_unauthenticated_connections")
        check(c.adversarial.textShare, 0.54, "adversarial.text_share")
        check(c.adversarial.embeddingShare, 0.55, "adversarial.embedding_share")
        check(c.adversarial.eta, 5.6, "adversarial.eta")
        check(c.adversarial.etaDraw, "uniform", "adversarial.eta_draw")
        check(c.initCheckpoint, "/tmp/i7.safetensors", "init_checkpoint")
    }

    func testEveryKeyFromAYAMLFileHasItsLiteralValue() throws {
        XCTAssertEqual(Set(Self.everyKey.map(\.0)), Set(RunConfig.fields.map(\.key)), "the list above must name every key")
        var top: [String] = [], blocks: [String: [String]] = [:]
        for (key, value) in Self.everyKey {
            let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
            if parts.count == 2 { blocks[parts[0], default: []].append("  \(parts[1]): \(value)") }
            else { top.append("\(key): \(value)") }
        }
        let yaml = (top + blocks.keys.sorted().flatMap { ["\($0):"] + blocks[$0]! }).joined(separator: "\n") + "\n"
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("every-key-\(UUID().uuidString).yaml")
        try yaml.write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        assertEveryKeySet(try RunConfig.loading(path: url.path), "YAML file")
    }

    func testEveryKeyFromSetHasItsLiteralValue() throws {
        var config = RunConfig()
        for (key, value) in Self.everyKey { try config.apply(override: "\(key)=\(value)") }
        assertEveryKeySet(config, "--set")
        assertEveryKeySet(try RunConfig.parsing(yaml: config.renderedYAML()), "rendered YAML")
    }

    /// Several prompt sets draw from their union, in the order named.
    func testPromptSetTakesFreeTextFiles() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("config-prompts-\(getpid()).txt")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data("Zebra RED circle please\nnavy square\n".utf8).write(to: file)
        let config = try RunConfig.parsing(yaml: "prompt_set: file:\(file.path),free-text-unsafe\n", source: "c.yaml")
        XCTAssertEqual(config.prompts.prefix(2).map(\.text), ["Zebra RED circle please", "navy square"])
        XCTAssertEqual(config.prompts.prefix(2).map(\.safeSideText), ["red circle please", "navy square"])
        XCTAssertEqual(config.prompts.count, 2 + FreeTextSet.unsafe.prompts.count)
        try Data("ok\n\nnext\n".utf8).write(to: file)
        XCTAssertThrowsError(try RunConfig.parsing(yaml: "prompt_set: file:\(file.path)\n", source: "c.yaml")) {
            XCTAssertEqual("\($0)", "c.yaml:1: bad value 'file:\(file.path)' for key 'prompt_set': prompt file '\(file.path)': line 2: empty line (a prompt file has no blank lines)")
        }
    }

    func testPromptSetListIsTheUnion() throws {
        var config = RunConfig()
        try config.apply(override: "prompt_set=train-unsafe, benign")
        XCTAssertEqual(config.prompts, (PromptSet.trainUnsafe.prompts + PromptSet.benign.prompts).map(TextPrompt.init))
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
            ("endpoints:\n  weights_relay: tcp://10.0.0.1:5556\n",
             "c.yaml:2: bad value 'tcp://10.0.0.1:5556' for key 'endpoints.weights_relay': expected empty or an ipc:// endpoint (a relay serves its own node only)"),
            ("prompt_set: train-unsafe,nsfw\n",
             "c.yaml:1: bad value 'train-unsafe,nsfw' for key 'prompt_set': unknown prompt set 'nsfw' (known: benign, explicit, implicit, train-unsafe, heldout-unsafe, free-text-benign, free-text-unsafe, or file:PATH)"),
            ("prompt_set: file:/nonexistent/p.txt\n",
             "c.yaml:1: bad value 'file:/nonexistent/p.txt' for key 'prompt_set': cannot read prompt file '/nonexistent/p.txt'"),
            ("prompt_set: ' , '\n", "c.yaml:1: bad value ' , ' for key 'prompt_set': names no prompt set"),
            ("adversarial:\n  text_share: 1.5\n",
             "c.yaml:2: bad value '1.5' for key 'adversarial.text_share': expected a finite number in 0...1"),
            ("adversarial:\n  embedding_share: -0.1\n",
             "c.yaml:2: bad value '-0.1' for key 'adversarial.embedding_share': expected a finite number in 0...1"),
            ("adversarial:\n  eta: 101\n", "c.yaml:2: bad value '101' for key 'adversarial.eta': expected a finite number in 0...100"),
            ("adversarial:\n  eta_draw: gaussian\n",
             "c.yaml:2: bad value 'gaussian' for key 'adversarial.eta_draw': expected one of fixed, uniform"),
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

    /// The encoding push needs the world's text encoder and a push to make.
    func testEmbeddingShareNeedsTheDiffusionModelAndAnEta() throws {
        var config = RunConfig()
        try config.apply(override: "adversarial.embedding_share=0.5")
        XCTAssertNoThrow(try config.validated())
        try config.apply(override: "adversarial.eta=0")
        XCTAssertThrowsError(try config.validated()) {
            XCTAssertEqual("\($0)", "adversarial.embedding_share (0.5) needs adversarial.eta > 0, got 0.0")
        }
        try config.apply(override: "adversarial.eta=3")
        try config.apply(override: "model=test-linear")
        XCTAssertThrowsError(try config.validated()) {
            XCTAssertEqual("\($0)", "adversarial.embedding_share needs model diffusion (the concept vector is the world's text encoder's), got model test-linear")
        }
        try config.apply(override: "adversarial.embedding_share=0")
        XCTAssertNoThrow(try config.validated())
    }

    /// A start checkpoint is a full denoiser of the world's model: LoRA adapters start at B = 0.
    func testInitCheckpointNeedsTheFullDiffusionDenoiser() throws {
        var config = RunConfig()
        try config.apply(override: "init_checkpoint=/tmp/plain.safetensors")
        XCTAssertNoThrow(try config.validated())
        try config.apply(override: "hyperparameters.lora_rank=4")
        XCTAssertThrowsError(try config.validated()) {
            XCTAssertEqual("\($0)", "init_checkpoint needs hyperparameters.lora_rank 0 (LoRA adapters start at B = 0 over the shipped model), got 4")
        }
        try config.apply(override: "hyperparameters.lora_rank=0")
        try config.apply(override: "model=test-linear")
        XCTAssertThrowsError(try config.validated()) {
            XCTAssertEqual("\($0)", "init_checkpoint needs model diffusion, got model test-linear")
        }
    }

    /// Four `*` ports are four ephemeral ports, not one endpoint named four times.
    func testEndpointsMustDifferUnlessTheyAskForEphemeralPorts() throws {
        var config = RunConfig()
        for key in ["control", "weights", "reward_frontend", "reward_backend"] {
            try config.apply(override: "endpoints.\(key)=tcp://127.0.0.1:*")
        }
        XCTAssertNoThrow(try config.validated())
        try config.apply(override: "endpoints.weights=tcp://127.0.0.1:7000")
        try config.apply(override: "endpoints.control=tcp://127.0.0.1:7000")
        XCTAssertThrowsError(try config.validated()) {
            XCTAssertEqual("\($0)", "endpoints.* must be four different endpoints")
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
