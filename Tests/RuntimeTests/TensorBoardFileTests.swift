import Foundation
import XCTest

/// A real run's TensorBoard event file, read by the Python `tensorboard` package's own
/// loaders: every number of every metrics.jsonl line is a scalar at its update's step.
final class TensorBoardFileTests: XCTestCase {
    private var run: RunHarness!

    override func tearDown() {
        run?.tearDown()
        super.tearDown()
    }

    /// Reads the event files of a folder with TensorBoard and compares them with metrics.jsonl;
    /// prints "<lines> lines, <scalars> scalars" when every value matches.
    static let check = #"""
        import json, math, os, sys
        try:
            import numpy as np
            from tensorboard.backend.event_processing import event_accumulator, event_file_loader
        except ImportError as e:
            sys.exit(f"Python package {e.name!r} is missing: scripts/setup.sh installs tensorboard and numpy")

        run_dir = sys.argv[1]
        files = sorted(f for f in os.listdir(run_dir) if f.startswith("events.out.tfevents."))
        assert len(files) == 1, f"expected one event file in {run_dir}, found {files}"
        lines = [json.loads(l) for l in open(os.path.join(run_dir, "metrics.jsonl"))]
        assert lines, "metrics.jsonl is empty"

        # Raw records: the file version first, then exactly one event per metrics line.
        events = list(event_file_loader.EventFileLoader(os.path.join(run_dir, files[0])).Load())
        assert events[0].file_version == "brain.Event:2", events[0]
        assert len(events) == 1 + len(lines), f"{len(events)} events for {len(lines)} metrics lines"

        acc = event_accumulator.EventAccumulator(run_dir, size_guidance={event_accumulator.SCALARS: 0})
        acc.Reload()
        tags = set(acc.Tags()["scalars"])
        numbers = lambda line: {k: v for k, v in line.items()
                                if k != "time" and (v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)))}
        expected_tags = set().union(*(numbers(l).keys() for l in lines))
        assert tags == expected_tags, f"tags differ: only in TensorBoard {tags - expected_tags}, only in metrics {expected_tags - tags}"
        compared = 0
        for line in lines:
            step = line["update"]
            for tag, value in numbers(line).items():
                found = [s for s in acc.Scalars(tag) if s.step == step]
                assert len(found) == 1, f"{tag}: {len(found)} scalars at step {step}"
                got = found[0]
                if value is None:  # non-finite numbers are null in JSON
                    assert not math.isfinite(got.value), f"{tag} at {step}: {got.value} for null"
                else:
                    assert got.value == float(np.float32(value)), f"{tag} at {step}: TensorBoard {got.value}, metrics {value}"
                assert abs(got.wall_time - line["time"]) < 1e-3, f"{tag} at {step}: wall time {got.wall_time} vs {line['time']}"
                compared += 1
        print(f"{len(lines)} lines, {compared} scalars")
        """#

    func testEveryMetricIsATensorBoardScalar() throws {
        run = try RunHarness("tensorboard")
        let config = try run.writeConfig("updates: 4\n")
        try run.startRole("learner", "learner", config: config)
        try run.startRole("actor-0", "actor", config: config, ["--instance", "actor-0"])
        try run.startRole("reward-0", "reward-worker", config: config, ["--instance", "reward-0"])
        XCTAssertEqual(run.waitForExit(run.processes["learner"]!, timeout: .seconds(30)), 0, run.allLogs())
        let lines = run.metrics()
        XCTAssertEqual(lines.count, 4, run.allLogs())

        let output = try Python.run(Self.check, [run.directory.appendingPathComponent("run").path])
        let scalars = lines.reduce(0) { count, line in
            count + line.filter { $0.key != "time" && ($0.value is NSNumber || $0.value is NSNull) }.count
        }
        XCTAssertEqual(output.trimmingCharacters(in: .whitespacesAndNewlines), "4 lines, \(scalars) scalars")
    }
}
