import CommandSupport
import FineTuning
import Foundation
import Models
import Numerics
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The LoRA adapters written as PEFT files, read by Python's `safetensors` and `json`: PEFT's
/// key naming and layouts, the config's r / lora_alpha / target_modules, and the values.
final class PEFTExportTests: XCTestCase {
    /// Checks the folder against PEFT's conventions and prints what it found as JSON.
    static let script = #"""
        import json, os, re, sys
        try:
            import numpy as np
            from safetensors.numpy import load_file
            from safetensors import safe_open
        except ImportError as e:
            sys.exit(f"Python package {e.name!r} is missing: scripts/setup.sh installs safetensors and numpy")

        folder = sys.argv[1]
        assert sorted(os.listdir(folder)) == ["adapter_config.json", "adapter_model.safetensors"], os.listdir(folder)
        config = json.load(open(os.path.join(folder, "adapter_config.json")))
        tensors = load_file(os.path.join(folder, "adapter_model.safetensors"))
        with safe_open(os.path.join(folder, "adapter_model.safetensors"), framework="numpy") as f:
            assert f.metadata() == {"format": "pt"}, f.metadata()
        assert config["peft_type"] == "LORA" and config["bias"] == "none", config
        r, alpha = config["r"], config["lora_alpha"]
        modules = {}
        for key, a in tensors.items():
            m = re.fullmatch(r"base_model\.model\.(.+)\.lora_([AB])\.weight", key)
            assert m, f"{key} is not a PEFT LoRA key"
            assert a.dtype == np.float32, f"{key}: {a.dtype}"
            modules.setdefault(m.group(1), {})[m.group(2)] = a
        assert sorted(modules) == config["target_modules"], "target_modules differ from the modules of the keys"
        out = {}
        for name, ab in modules.items():
            assert set(ab) == {"A", "B"}, f"{name}: {sorted(ab)}"
            A, B = ab["A"], ab["B"]
            assert A.ndim == B.ndim and A.ndim in (2, 4), f"{name}: A {A.shape}, B {B.shape}"
            assert A.shape[0] == r and B.shape[1] == r, f"{name}: rank {A.shape[0]}/{B.shape[1]}, config r {r}"
            if A.ndim == 4:
                assert B.shape[2:] == (1, 1), f"{name}: B of a convolution is 1x1, got {B.shape}"
            out[name] = {"A": list(A.shape), "B": list(B.shape), "sum": float(A.astype(np.float64).sum() + B.astype(np.float64).sum())}
        print(json.dumps({"r": r, "lora_alpha": alpha, "modules": out}))
        """#

    struct Found: Decodable {
        struct Module: Decodable {
            let A: [Int]
            let B: [Int]
            let sum: Double
        }
        let r: Int
        let lora_alpha: Double
        let modules: [String: Module]
    }

    func testAdaptersAreWrittenAsPEFTFiles() throws {
        let policy = try Fixture.policy(rank: 2, seed: 3)
        // Trained-looking adapters: B is no longer zero.
        var rng = RandomGenerator(seed: 11)
        for p in policy.trainable.parameters {
            policy.trainable.set(p, Tensor(randomNormal: p.shape, std: 0.1, rng: &rng))
        }
        let adapter = try XCTUnwrap(policy.peftAdapter)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("peft-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        try adapter.write(to: folder)

        let found = try JSONDecoder().decode(Found.self, from: Data(try Python.run(Self.script, [folder.path]).utf8))
        XCTAssertEqual(found.r, 2)
        XCTAssertEqual(found.lora_alpha, 2)
        // One module per adapted layer: every linear layer and convolution of the denoiser.
        XCTAssertEqual(found.modules.count * 2, policy.trainable.parameters.count)
        let base = Dictionary(uniqueKeysWithValues: policy.model.unet.store.parameters.map { ($0.name, $0.shape) })
        for (module, shapes) in found.modules {
            // The module is the adapted base layer: A maps its inputs (and kernel) to r, B r to its outputs.
            let weight = try XCTUnwrap(base["unet.\(module).weight"], "\(module) is no layer of the denoiser")
            XCTAssertEqual(shapes.A, [2] + weight.dropFirst(), module)
            XCTAssertEqual(shapes.B, [weight[0], 2] + (weight.count == 4 ? [1, 1] : []), module)
        }
        // The values are the trained ones.
        let expected = policy.trainable.parameters.reduce(0.0) { total, p in
            total + policy.trainable.tensor(p).data.reduce(0.0) { $0 + Double($1) }
        }
        XCTAssertEqual(found.modules.values.reduce(0.0) { $0 + $1.sum }, expected, accuracy: 1e-6 * Double(policy.trainable.parameters.count))
        XCTAssertNotEqual(expected, 0)
    }

    /// `shielddiff learner` with lora_rank > 0 leaves `<run_dir>/adapter` when the run ends.
    func testLoRALearnerLeavesPEFTFilesInTheRunFolder() throws {
        let folder = URL(fileURLWithPath: "/tmp/sd-peft-\(getpid())-\(UInt16.random(in: .min ... .max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        let log = folder.appendingPathComponent("learner.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let learner = Process()
        learner.executableURL = URL(fileURLWithPath: try ShieldDiffBinary.checked())
        learner.arguments = ["learner", "--parent-pid", String(getpid())] + [
            "model=diffusion", "run_dir=\(folder.path)/run", "hyperparameters.lora_rank=2", "updates=0",
            "endpoints.control=ipc://\(folder.path)/c.sock", "endpoints.weights=ipc://\(folder.path)/w.sock",
            "endpoints.reward_frontend=ipc://\(folder.path)/f.sock", "endpoints.reward_backend=ipc://\(folder.path)/b.sock",
        ].flatMap { ["--set", $0] }
        learner.standardError = try FileHandle(forWritingTo: log)
        learner.standardOutput = learner.standardError
        try learner.run()
        defer { if learner.isRunning { learner.terminate() } }
        let text = { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        let deadline = ContinuousClock.now + .seconds(120)
        while !text().contains("reward ipc://") && learner.isRunning && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertTrue(learner.isRunning, text())
        kill(learner.processIdentifier, SIGTERM)  // ends the run: final checkpoint, then the adapter files
        learner.waitUntilExit()
        XCTAssertEqual(learner.terminationStatus, 0, text())
        XCTAssertTrue(text().contains("PEFT adapter (r 2, "), text())
        let found = try JSONDecoder().decode(Found.self, from: Data(try Python.run(Self.script, [folder.appendingPathComponent("run/adapter").path]).utf8))
        XCTAssertEqual(found.r, 2)
        XCTAssertFalse(found.modules.isEmpty)
    }

    func testFullDenoiserHasNoAdapter() throws {
        XCTAssertNil(try Fixture.policy(rank: 0).peftAdapter)
    }
}
