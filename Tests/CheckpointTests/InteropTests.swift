import Checkpoint
import CommandSupport
import Foundation
import Numerics
import XCTest

/// Files written here must load in Python's reference `safetensors` package, and files it
/// writes must load here. Both sides compute expected values from the same exact formulas.
final class InteropTests: XCTestCase {
    /// Reads (`read PATH`: prints the file as JSON) or writes (`write PATH`) with the reference package.
    static let script = #"""
        import json, sys
        try:
            import numpy as np
            from safetensors import safe_open
            from safetensors.numpy import load_file, save_file
        except ImportError as e:
            print(f"Python package {e.name!r} is missing: pip install safetensors numpy", file=sys.stderr)
            sys.exit(3)

        mode, path = sys.argv[1], sys.argv[2]
        if mode == "read":
            with safe_open(path, framework="numpy") as f:
                metadata = f.metadata() or {}
            out = {}
            for name, a in load_file(path).items():
                flat = a.reshape(-1)
                entry = {"dtype": str(a.dtype), "shape": list(a.shape)}
                if flat.size <= 64:
                    entry["values"] = [float(x) for x in flat]
                else:  # integral values: exact sums identify the contents
                    ints = flat.astype(np.int64)
                    entry["integral"] = bool((ints == flat).all())
                    entry["sum"] = int(ints.sum())
                    entry["weighted"] = int((ints * np.arange(flat.size)).sum())
                out[name] = entry
            print(json.dumps({"tensors": out, "metadata": metadata}))
        else:
            def base(n, k):  # multiples of 1/8 in [-6.25, 6.25]: exact in every float type
                return ((np.arange(n) * 37 + k) % 101 - 50) / 8.0
            big = (np.arange(100_000) * 7919) % 1001 - 500
            save_file({
                "f32": base(6, 1).reshape(2, 3).astype(np.float32),
                "f16": base(10, 2).astype(np.float16),
                "f64": base(5, 3) / 3.0,
                "f16.special": np.array([np.inf, -np.inf, 65504, 2.0**-24, -0.0], dtype=np.float16),
                "scalar": np.array(2.5, dtype=np.float32),
                "empty": np.zeros((0, 4), dtype=np.float16),
                "big": big.astype(np.float32),
            }, path, metadata={"step": "7", "note": "héllo \"✓\""})
        """#

    struct PythonView: Decodable {
        struct Entry: Decodable {
            let dtype: String
            let shape: [Int]
            let values: [Double]?
            let integral: Bool?
            let sum: Int?
            let weighted: Int?
        }
        let tensors: [String: Entry]
        let metadata: [String: String]
    }

    func testPythonReadsWhatSwiftWrites() throws {
        let small: [String: Tensor] = [
            "scalar": Tensor(shape: [], data: [-1.75]),
            "empty": Tensor(zeros: [0, 3]),
            "matrix": Tensor(shape: [3, 4], data: (0..<12).map { Float($0) * 0.37 - 1.1 }),
            "name with \"quotes\", \\ and é": Tensor(shape: [2], data: [.leastNonzeroMagnitude, -.greatestFiniteMagnitude]),
        ]
        let bigValues = (0..<100_000).map { Float(($0 * 7919) % 1001 - 500) }
        var tensors = small
        tensors["big"] = Tensor(shape: [1000, 100], data: bigValues)
        let metadata = ["step": "42", "note": "héllo \"quoted\"\n✓"]
        let url = try temporaryDirectory(for: self).appendingPathComponent("swift.safetensors")
        try SafeTensorsFile(tensors: tensors, metadata: metadata).write(to: url)

        let view = try JSONDecoder().decode(PythonView.self, from: Data(try Python.run(Self.script, ["read", url.path]).utf8))
        XCTAssertEqual(view.metadata, metadata)
        XCTAssertEqual(Set(view.tensors.keys), Set(tensors.keys))
        for (name, tensor) in small {
            let entry = try XCTUnwrap(view.tensors[name], name)
            XCTAssertEqual(entry.dtype, "float32", name)
            XCTAssertEqual(entry.shape, tensor.shape, name)
            XCTAssertEqual(entry.values?.map(Float.init), tensor.data, name)
        }
        let big = try XCTUnwrap(view.tensors["big"])
        XCTAssertEqual(big.shape, [1000, 100])
        XCTAssertEqual(big.integral, true)
        XCTAssertEqual(big.sum, bigValues.reduce(0) { $0 + Int($1) })
        XCTAssertEqual(big.weighted, bigValues.enumerated().reduce(0) { $0 + $1.offset * Int($1.element) })
        print("python read \(view.tensors.count) tensors; big: sum \(big.sum ?? 0), weighted \(big.weighted ?? 0)")
    }

    func testSwiftReadsWhatPythonWrites() throws {
        let url = try temporaryDirectory(for: self).appendingPathComponent("python.safetensors")
        try Python.run(Self.script, ["write", url.path])
        let file = try SafeTensorsFile(contentsOf: url)

        func base(_ n: Int, _ k: Int) -> [Double] { (0..<n).map { Double(($0 * 37 + k) % 101 - 50) / 8 } }
        XCTAssertEqual(file.metadata, ["step": "7", "note": "héllo \"✓\""])
        XCTAssertEqual(Set(file.tensors.keys), ["f32", "f16", "f64", "f16.special", "scalar", "empty", "big"])
        XCTAssertEqual(file.tensors["f32"], Tensor(shape: [2, 3], data: base(6, 1).map(Float.init)))
        XCTAssertEqual(file.tensors["f16"], Tensor(shape: [10], data: base(10, 2).map(Float.init)))
        XCTAssertEqual(file.tensors["f64"], Tensor(shape: [5], data: base(5, 3).map { Float($0 / 3) }))
        XCTAssertTrue(bitIdentical(file.tensors["f16.special"], Tensor(shape: [5], data: [.infinity, -.infinity, 65504, 0x1p-24, -0.0])))
        XCTAssertEqual(file.tensors["scalar"], Tensor(shape: [], data: [2.5]))
        XCTAssertEqual(file.tensors["empty"], Tensor(zeros: [0, 4]))
        XCTAssertEqual(file.tensors["big"], Tensor(shape: [100_000], data: (0..<100_000).map { Float(($0 * 7919) % 1001 - 500) }))
    }
}
