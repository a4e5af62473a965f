import Checkpoint
import Foundation
import Runtime
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Checkpoints survive the learner being killed while it writes them, and a full disk.
final class CrashConsistencyTests: XCTestCase {
    private var run: RunHarness!
    private var mounted: String?

    override func tearDown() {
        run?.tearDown()
        unsetenv("SHIELDDIFF_TEST_WRITE_PAUSE_MS")
        if let mounted { _ = Self.command("/bin/umount", ["-l", mounted]) }
        super.tearDown()
    }

    /// The checkpoint files' versions in `folder`, and every temporary file.
    private static func contents(_ folder: URL) -> (versions: [UInt64], temporaries: [String]) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return ((try? CheckpointFolder(directory: folder).versions()) ?? [], names.filter { $0.hasSuffix(".tmp") })
    }

    /// 100 times: the learner (checkpointing after every update, each write paused in five
    /// places so it takes ~100 ms) is SIGKILLed at a random moment after a write began, then
    /// restarted with --resume. Every file with a checkpoint's name must load completely, the
    /// restart must resume from the newest of them (never from a partial file, never failing),
    /// and never from one older than a checkpoint a previous life reported written.
    func testKilledWhileWritingCheckpointsAlwaysResumesFromTheNewestCompleteOne() throws {
        run = try RunHarness("killwrite")
        let config = try run.writeConfig("""
        updates: 0
        actors: 1
        reward_workers: 0
        checkpoint_every: 1
        checkpoints_kept: 2

        """)
        try run.startRole("actor-0", "actor", config: config, ["--instance", "actor-0"])
        setenv("SHIELDDIFF_TEST_WRITE_PAUSE_MS", "20", 1)
        let folder = run.directory.appendingPathComponent("run/checkpoints")
        var reportedWritten: UInt64 = 0
        var killedMidWrite = 0
        var rng = SystemRandomNumberGenerator()
        let trials = 100
        for trial in 0..<trials {
            let present = Self.contents(folder).versions
            for version in present {
                let url = folder.appendingPathComponent(CheckpointFolder.fileName(version: version))
                XCTAssertNoThrow(try LearnerCheckpoint(file: SafeTensorsFile(contentsOf: url), source: url.path),
                                 "trial \(trial): \(url.lastPathComponent) has a checkpoint's name but does not load")
            }
            XCTAssertGreaterThanOrEqual(present.last ?? 0, reportedWritten, "trial \(trial): a reported checkpoint is gone")

            let learner = try run.startRole("learner", "learner", config: config, trial == 0 ? [] : ["--resume"])
            run.waitUntil("trial \(trial): the learner starts") {
                run.log("learner").contains("run run-") || !learner.isRunning
            }
            XCTAssertTrue(learner.isRunning, "trial \(trial): the learner failed to start:\n\(run.log("learner"))")
            if let newest = present.last {
                let expected = "resumed from \(folder.path)/\(CheckpointFolder.fileName(version: newest)): version \(newest),"
                XCTAssertTrue(run.log("learner").contains(expected), "trial \(trial): expected \(expected)\n\(run.log("learner"))")
            }
            // Kill at a random moment of a write in progress (its temporary file exists).
            let deadline = ContinuousClock.now + .seconds(20)
            while Self.contents(folder).temporaries.isEmpty && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.005) }
            guard !Self.contents(folder).temporaries.isEmpty else {
                XCTFail("trial \(trial): no checkpoint write began within 20 s (no temporary file)\n\(run.log("learner"))")
                return
            }
            Thread.sleep(forTimeInterval: Double.random(in: 0...0.12, using: &rng))
            kill(learner.processIdentifier, SIGKILL)
            learner.waitUntilExit()
            if !Self.contents(folder).temporaries.isEmpty { killedMidWrite += 1 }
            let log = run.log("learner")
            for line in log.split(separator: "\n") where line.contains("checkpoint checkpoint-v") {
                if let v = ProcessTests.number(after: "checkpoint checkpoint-v", in: String(line)) { reportedWritten = max(reportedWritten, UInt64(v)) }
            }
        }
        print("kill trials: \(trials), killed with a write's temporary file present: \(killedMidWrite), newest reported: v\(reportedWritten)")
        XCTAssertGreaterThanOrEqual(killedMidWrite, trials / 4, "too few kills landed inside a write to prove anything")

        // The last life resumes, removes the abandoned temporary file and trains on.
        unsetenv("SHIELDDIFF_TEST_WRITE_PAUSE_MS")
        let newest = try XCTUnwrap(Self.contents(folder).versions.last)
        try run.startRole("learner", "learner", config: config, ["--resume"])
        run.waitUntil("the last life resumes and updates") {
            run.log("learner").contains("version \(newest),") && run.log("learner").contains("update \(newest) → v\(newest + 1)")
        }
        run.waitUntil("no temporary file left") { Self.contents(folder).temporaries.isEmpty }
    }

    /// The checkpoint folder on a 1 MiB tmpfs that the test fills: the learner reports each
    /// failed write, keeps the previous checkpoint, keeps training, and writes again once
    /// there is room.
    func testFullDiskKeepsThePreviousCheckpointAndTrainingGoesOn() throws {
        run = try RunHarness("fulldisk")
        let disk = run.directory.appendingPathComponent("disk")
        try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
        let (status, output) = Self.command("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", disk.path])
        guard status == 0 else {
            XCTFail("this test mounts a small tmpfs and needs root (CAP_SYS_ADMIN): mount said: \(output)")
            return
        }
        mounted = disk.path
        let folder = disk.appendingPathComponent("checkpoints")
        let config = try run.writeConfig("""
        updates: 0
        actors: 1
        reward_workers: 0
        checkpoint_every: 1
        checkpoints_kept: 2
        checkpoint_dir: \(folder.path)

        """)
        try run.startRole("learner", "learner", config: config)
        try run.startRole("actor-0", "actor", config: config, ["--instance", "actor-0"])
        run.waitUntil("a checkpoint on the small disk") { run.log("learner").contains("checkpoint checkpoint-v") }

        // Fill the disk to the last byte.
        let filler = disk.appendingPathComponent("filler")
        let fd = open(filler.path, O_WRONLY | O_CREAT, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        let block = [UInt8](repeating: 7, count: 4096)
        while block.withUnsafeBytes({ write(fd, $0.baseAddress!, $0.count) }) > 0 {}
        XCTAssertEqual(errno, ENOSPC)
        var one: UInt8 = 7
        while write(fd, &one, 1) > 0 {}
        close(fd)
        // (A write that began before the disk filled, or one that fits in what retention
        // frees, may still succeed; what must hold is below.)
        let full = run.latestVersion()
        let kept = Self.contents(folder).versions

        let failed = "checkpoint FAILED, the previous one is kept, retrying at the next interval"
        run.waitUntil("two failed checkpoint writes, and updates go on") {
            run.log("learner").components(separatedBy: failed).count >= 3 && run.latestVersion() >= full + 3
        }
        XCTAssertTrue(run.log("learner").contains("No space left on device (errno 28)"), run.log("learner"))
        // Nothing was lost: the files present before are there and load; no temporary left.
        let during = Self.contents(folder)
        XCTAssertEqual(during.temporaries, [])
        XCTAssertFalse(during.versions.isEmpty, "\(kept) → \(during.versions)")
        for version in during.versions {
            let url = folder.appendingPathComponent(CheckpointFolder.fileName(version: version))
            XCTAssertNoThrow(try LearnerCheckpoint(file: SafeTensorsFile(contentsOf: url), source: url.path))
        }
        XCTAssertNotNil(try CheckpointFolder(directory: folder).latest())

        // Room again: the next interval writes.
        try FileManager.default.removeItem(at: filler)
        let after = run.latestVersion()
        run.waitUntil("a checkpoint written once there is room") {
            ((try? CheckpointFolder(directory: folder).latest()?.checkpoint.version) ?? nil).map { $0 > UInt64(after) } ?? false
        }
        XCTAssertTrue(run.processes["learner"]!.isRunning)
    }

    /// Runs a system command; its status and combined output.
    static func command(_ path: String, _ arguments: [String]) -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return (-1, "\(error)") }
        process.waitUntilExit()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, output)
    }
}
