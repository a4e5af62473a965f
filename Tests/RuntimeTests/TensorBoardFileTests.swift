import CommandSupport
import Foundation
import XCTest

/// A real run's TensorBoard event file, read by the Python `tensorboard` package's own
/// loaders: every number of every metrics.jsonl line is a scalar at its update's step, and
/// every `tensorboard_image_every` updates there is a sample grid.
final class TensorBoardFileTests: XCTestCase {
    private var run: RunHarness!

    override func tearDown() {
        run?.tearDown()
        super.tearDown()
    }

    /// Reads the event files of a folder with TensorBoard and compares them with metrics.jsonl;
    /// prints "<lines> lines, <scalars> scalars" when every value matches.
    static let check = #"""
        import json, math, os, struct, sys, zlib
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
        image_steps = [int(s) for s in sys.argv[2].split(",")]
        events = list(event_file_loader.EventFileLoader(os.path.join(run_dir, files[0])).Load())
        assert events[0].file_version == "brain.Event:2", events[0]
        assert len(events) == 1 + len(lines) + len(image_steps), f"{len(events)} events for {len(lines)} metrics lines"

        acc = event_accumulator.EventAccumulator(run_dir, size_guidance={event_accumulator.SCALARS: 0,
                                                                          event_accumulator.IMAGES: 0})
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

        # The sample grids: PNGs of the stated size whose pixels decode (stored deflate, RGB).
        assert acc.Tags()["images"] == ["samples"], acc.Tags()["images"]
        grids = acc.Images("samples")
        assert [g.step for g in grids] == image_steps, [g.step for g in grids]
        for g in grids:
            png = g.encoded_image_string
            assert png[:8] == b"\x89PNG\r\n\x1a\n", png[:8]
            width, height, depth, colour = struct.unpack(">IIBB", png[16:26])
            assert (width, height, depth, colour) == (g.width, g.height, 8, 2), (width, height, g.width, g.height)
            idat, at = b"", 8
            while at < len(png):
                (length,), kind = struct.unpack(">I", png[at:at + 4]), png[at + 4:at + 8]
                if kind == b"IDAT":
                    idat += png[at + 8:at + 8 + length]
                at += 12 + length
            assert len(zlib.decompress(idat)) == height * (1 + 3 * width)
        print(f"{len(lines)} lines, {compared} scalars, {len(grids)} grids {grids[0].width}x{grids[0].height}")
        """#

    func testEveryMetricIsATensorBoardScalar() throws {
        run = try RunHarness("tensorboard")
        let config = try run.writeConfig("updates: 4\ntensorboard_image_every: 2\n")
        try run.startRole("learner", "learner", config: config)
        try run.startRole("actor-0", "actor", config: config, ["--instance", "actor-0"])
        try run.startRole("reward-0", "reward-worker", config: config, ["--instance", "reward-0"])
        XCTAssertEqual(run.waitForExit(run.processes["learner"]!, timeout: .seconds(30)), 0, run.allLogs())
        let lines = run.metrics()
        XCTAssertEqual(lines.count, 4, run.allLogs())

        let output = try Python.run(Self.check, [run.directory.appendingPathComponent("run").path, "2,4"])
        let scalars = lines.reduce(0) { count, line in
            count + line.filter { $0.key != "time" && ($0.value is NSNumber || $0.value is NSNull) }.count
        }
        // Two grids of the batch's 8 final images, 4 columns of 32-pixel cells with 2-pixel gutters.
        XCTAssertEqual(output.trimmingCharacters(in: .whitespacesAndNewlines), "4 lines, \(scalars) scalars, 2 grids 138x70")
    }
}
