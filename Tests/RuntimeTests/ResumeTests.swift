import Checkpoint
import Foundation
import Numerics
import Runtime
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Resuming a run: which checkpoint is taken (retention, a damaged newest file), what carries
/// over (run id, version, counters, the stop rule's window), and `train --resume` end to end.
final class ResumeTests: XCTestCase {
    private var run: RunHarness!
    private var folder: URL!

    override func tearDown() {
        run?.tearDown()
        if let folder { try? FileManager.default.removeItem(at: folder) }
        super.tearDown()
    }

    private func scratch(_ name: String) throws -> CheckpointFolder {
        folder = URL(fileURLWithPath: "/tmp/sd-\(name)-\(getpid())-\(UInt16.random(in: .min ... .max))")
        try? FileManager.default.removeItem(at: folder)
        return CheckpointFolder(directory: folder)
    }

    private static func checkpoint(_ version: UInt64, window: [Double] = []) -> LearnerCheckpoint {
        LearnerCheckpoint(version: version, runID: "run-a", trajectoriesTrained: Int(version) * 8,
                          tensors: ["w": Tensor(shape: [2, 3], data: (0..<6).map { Float($0) + Float(version) })],
                          metadata: ["step": String(version)], recentUnsafeFractions: window)
    }

    // MARK: - The folder

    func testSaveKeepsExactlyTheNewestCheckpointsKept() throws {
        let checkpoints = try scratch("keep")
        for version in UInt64(1)...6 { try checkpoints.save(Self.checkpoint(version), keep: 3) }
        XCTAssertEqual(try checkpoints.versions(), [4, 5, 6])
        try checkpoints.save(Self.checkpoint(7), keep: 1)
        XCTAssertEqual(try checkpoints.versions(), [7])
        XCTAssertEqual(try checkpoints.latest()?.checkpoint, Self.checkpoint(7))
    }

    func testNewestSkipsTruncatedAndDamagedFilesAndSaysWhy() throws {
        let checkpoints = try scratch("damaged")
        for version in UInt64(1)...4 { try checkpoints.save(Self.checkpoint(version, window: [0.25, 0.5]), keep: 4) }
        let url = { (v: UInt64) in self.folder.appendingPathComponent(CheckpointFolder.fileName(version: v)) }
        // v4 cut short (a torn copy), v3 with one flipped bit in its last tensor value (still parses).
        let whole = try Data(contentsOf: url(4))
        try whole.prefix(whole.count - 7).write(to: url(4))
        var damaged = try Data(contentsOf: url(3))
        damaged[damaged.count - 1] ^= 0x01
        try damaged.write(to: url(3))
        // A writer killed mid-write leaves a temporary file; it is never a candidate.
        try Data([1, 2, 3]).write(to: folder.appendingPathComponent(".checkpoint-v000000000005.safetensors.1.2.tmp"))

        let (found, skipped) = try checkpoints.newest { _ in }
        XCTAssertEqual(found?.checkpoint, Self.checkpoint(2, window: [0.25, 0.5]), "the newest complete file, window included")
        XCTAssertEqual(skipped.map(\.url.lastPathComponent), [url(4).lastPathComponent, url(3).lastPathComponent])
        XCTAssertTrue(skipped[1].reason.contains("damaged"), skipped[1].reason)
        XCTAssertEqual(checkpoints.removeAbandonedTemporaries(), 1)
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: folder.path).contains { $0.hasSuffix(".tmp") })

        // A file the model refuses (`accept` throws) is passed over the same way.
        let refusing = try checkpoints.newest { if $0.version == 2 { throw RuntimeError("shape differs") } }
        XCTAssertEqual(refusing.found?.checkpoint.version, 1)
        XCTAssertEqual(refusing.skipped.last?.reason, "shape differs")
    }

    // MARK: - Processes

    /// Learner, two actors and a worker; the config path.
    private func startRun(_ name: String, extra: String) throws -> String {
        run = try RunHarness(name)
        let config = try run.writeConfig(extra)
        try run.startRole("learner", "learner", config: config)
        try run.startRole("actor-0", "actor", config: config, ["--instance", "actor-0"])
        try run.startRole("actor-1", "actor", config: config, ["--instance", "actor-1"])
        try run.startRole("reward-0", "reward-worker", config: config, ["--instance", "reward-0"])
        return config
    }

    func testCorruptNewestCheckpointResumesFromTheOneBeforeWithRunIDAndCounters() throws {
        let config = try startRun("corrupt", extra: "updates: 0\ncheckpoints_kept: 2\ncheckpoint_seconds: 0\n")
        let checkpoints = run.directory.appendingPathComponent("run/checkpoints")
        run.waitUntil("checkpoint v5 written") { run.log("learner").contains("checkpoint checkpoint-v000000000005") }
        run.signal("learner", SIGKILL)
        XCTAssertNotNil(run.waitForExit(run.processes["learner"]!))
        let before = run.metrics()
        let runID = try XCTUnwrap(before.last?["run_id"] as? String)
        XCTAssertTrue(before.allSatisfy { $0["run_id"] as? String == runID })

        // checkpoints_kept: 2 → the two newest of the every-2 checkpoints (a third while the
        // SIGKILL fell between a new file's rename and the deletion of the oldest).
        let all = try CheckpointFolder(directory: checkpoints).versions()
        XCTAssertTrue((2...3).contains(all.count), "\(all)")
        let versions = Array(all.suffix(2))
        XCTAssertEqual(versions[1] - versions[0], 2, "\(all)")
        let newest = checkpoints.appendingPathComponent(CheckpointFolder.fileName(version: versions[1]))
        let previousURL = checkpoints.appendingPathComponent(CheckpointFolder.fileName(version: versions[0]))
        let previous = (url: previousURL,
                        checkpoint: try LearnerCheckpoint(file: SafeTensorsFile(contentsOf: previousURL), source: previousURL.path))
        let whole = try Data(contentsOf: newest)
        try whole.prefix(whole.count / 2).write(to: newest)

        try run.startRole("learner", "learner", config: config, ["--resume"])
        run.waitUntil("the learner resumes from the checkpoint before the damaged one") { run.log("learner").contains("resumed from") }
        let log = run.log("learner")
        XCTAssertTrue(log.contains("--resume: skipped \(newest.lastPathComponent), it does not load"), log)
        XCTAssertTrue(log.contains("resumed from \(previous.url.path): version \(versions[0]), run \(runID) " +
                                   "(the newest that loads; 1 newer skipped)"), log)
        let resumedAt = Int(versions[0])
        run.waitUntil("two updates after the resume") { run.log("learner").contains("update \(resumedAt + 1) → v\(resumedAt + 2)") }
        // The first line of the new life continues the checkpoint's history: same run, next
        // version, trained count = the checkpoint's + one batch.
        let after = run.metrics().dropFirst(before.count)
        let first = try XCTUnwrap(after.first)
        XCTAssertEqual(first["run_id"] as? String, runID)
        XCTAssertEqual(first["version"] as? Int, resumedAt + 1)
        XCTAssertEqual(first["trajectories_trained_total"] as? Int, previous.checkpoint.trajectoriesTrained + 8)
        XCTAssertEqual(previous.checkpoint.trajectoriesTrained, 8 * (resumedAt - 1))
        // The damaged file is replaced by a good one when the run passes that version again.
        run.waitUntil("a checkpoint past the damaged version") {
            (try? CheckpointFolder(directory: checkpoints).latest()?.checkpoint.version).flatMap { $0 } ?? 0 > versions[1]
        }
    }

    func testResumeFailsWithEveryReasonWhenNoCheckpointLoads() throws {
        run = try RunHarness("noneloads")
        let config = try run.writeConfig()
        let checkpoints = CheckpointFolder(directory: run.directory.appendingPathComponent("run/checkpoints"))
        try checkpoints.save(Self.checkpoint(3), keep: 3)  // another model's tensors: the learner refuses it
        let learner = try run.startRole("learner", "learner", config: config, ["--resume"])
        XCTAssertNotEqual(run.waitForExit(learner), 0)
        XCTAssertTrue(run.log("learner").contains("--resume: no checkpoint in \(checkpoints.directory.path) loads; " +
                                                  "checkpoint-v000000000003.safetensors: "), run.log("learner"))
    }

    /// `train --resume` continues a finished run: the same run id, the versions and the
    /// trained count go on from the final checkpoint, `updates` counts the whole run, and
    /// retention keeps the newest `checkpoints_kept` files of both parts.
    func testTrainResumeContinuesTheRunEndToEnd() throws {
        run = try RunHarness("trainresume")
        let config = try run.writeConfig("updates: 3\ncheckpoints_kept: 2\ncheckpoint_seconds: 0\nactors: 1\n")
        XCTAssertEqual(run.waitForExit(try run.start("train", ["train", "--config", config]), timeout: .seconds(60)), 0, run.allLogs())
        let first = run.metrics()
        XCTAssertEqual(first.compactMap { $0["version"] as? Int }, [2, 3, 4])
        let runID = try XCTUnwrap(first.last?["run_id"] as? String)
        let checkpoints = CheckpointFolder(directory: run.directory.appendingPathComponent("run/checkpoints"))
        XCTAssertEqual(try checkpoints.versions(), [3, 4])

        let resumed = try run.start("train", ["train", "--config", config, "--resume", "--set", "updates=6"])
        XCTAssertEqual(run.waitForExit(resumed, timeout: .seconds(60)), 0, run.allLogs())
        let log = run.log("train")
        XCTAssertTrue(log.contains("resumed from \(checkpoints.directory.path)/checkpoint-v000000000004.safetensors: version 4, run \(runID)"),
                      log)
        let all = run.metrics()
        XCTAssertEqual(all.compactMap { $0["version"] as? Int }, [2, 3, 4, 5, 6, 7])
        XCTAssertEqual(all.compactMap { $0["trajectories_trained_total"] as? Int }, [8, 16, 24, 32, 40, 48])
        XCTAssertTrue(all.allSatisfy { $0["run_id"] as? String == runID }, "\(all.map { $0["run_id"] ?? "-" })")
        XCTAssertEqual(try checkpoints.versions(), [5, 7])
        let final = try XCTUnwrap(try checkpoints.latest()).checkpoint
        XCTAssertEqual(final.runID, runID)
        XCTAssertEqual(final.trajectoriesTrained, 48)
    }
}

extension ResumeTests {
    /// With `checkpoint_every: 0` only `checkpoint_seconds` writes checkpoints while the run
    /// goes on: a learner killed mid-run resumes from one of them, not from version 1.
    func testCheckpointSecondsAloneKeepsAKilledLearnersProgress() throws {
        let config = try startRun("seconds", extra: "updates: 0\ncheckpoint_every: 0\ncheckpoint_seconds: 0.2\n")
        run.waitUntil("two checkpoints on the time budget") {
            run.log("learner").components(separatedBy: "] checkpoint checkpoint-v").count >= 3
        }
        run.signal("learner", SIGKILL)
        XCTAssertNotNil(run.waitForExit(run.processes["learner"]!))
        let newest = try XCTUnwrap(try CheckpointFolder(directory: run.directory.appendingPathComponent("run/checkpoints")).latest())
        XCTAssertGreaterThan(newest.checkpoint.version, 2)
        try run.startRole("learner", "learner", config: config, ["--resume"])
        run.waitUntil("the learner resumes from the time-budget checkpoint") {
            run.log("learner").contains("version \(newest.checkpoint.version), run")
        }
    }
}
