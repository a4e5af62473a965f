import Checkpoint
import Foundation
import Numerics
import XCTest

final class AtomicWriteTests: XCTestCase {
    func testOverwriteReplacesContentsAndLeavesNoTemporaryFiles() throws {
        let directory = try temporaryDirectory(for: self)
        let url = directory.appendingPathComponent("model.safetensors")
        try SafeTensorsFile(tensors: ["w": Tensor(repeating: 1, shape: [1000])]).write(to: url)
        let new = SafeTensorsFile(tensors: ["w": Tensor(repeating: 2, shape: [3])], metadata: ["step": "2"])
        try new.write(to: url)
        XCTAssertEqual(try SafeTensorsFile(contentsOf: url), new)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["model.safetensors"])
    }

    /// A reader racing the writer must always find one whole file or the other. Writing in
    /// place (truncate, then write) fails this: readers see short or mixed files.
    func testConcurrentReaderNeverSeesAPartialFile() throws {
        let url = try temporaryDirectory(for: self).appendingPathComponent("model.safetensors")
        let versions = [
            SafeTensorsFile(tensors: ["w": Tensor(repeating: 1, shape: [300_000])], metadata: ["v": "1"]),
            SafeTensorsFile(tensors: ["w": Tensor(repeating: 2, shape: [200_000]), "b": Tensor(zeros: [7])], metadata: ["v": "2"]),
        ]
        try versions[0].write(to: url)

        let writerDone = Flag()
        let writeError = Box<CheckpointError>()
        Thread.detachNewThread {
            for i in 0..<40 {
                do throws(CheckpointError) { try versions[i % 2].write(to: url) } catch { writeError.value = error; break }
            }
            writerDone.set()
        }
        var reads = 0
        var seen = Set<String>()
        while !writerDone.isSet {
            let file = try SafeTensorsFile(contentsOf: url)
            XCTAssertTrue(versions.contains(file), "reader saw a file that is neither version")
            seen.insert(file.metadata["v"] ?? "?")
            reads += 1
        }
        XCTAssertNil(writeError.value)
        print("concurrent reads: \(reads), versions seen: \(seen.sorted())")
        XCTAssertGreaterThan(reads, 0)
    }

    func testFailedRenameLeavesTargetAndNoTemporaryFile() throws {
        let directory = try temporaryDirectory(for: self)
        // A non-empty directory where the file should go: rename(2) refuses to replace it.
        let target = directory.appendingPathComponent("model.safetensors")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
        try Data("keep".utf8).write(to: target.appendingPathComponent("inner"))
        let error = checkpointError { () throws(CheckpointError) in
            try SafeTensorsFile(tensors: ["w": Tensor(zeros: [4])]).write(to: target)
        }
        XCTAssertEqual(error?.kind, .io(errno: EISDIR), "\(String(describing: error))")
        XCTAssertTrue(error?.description.contains("rename") ?? false, "\(String(describing: error))")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["model.safetensors"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: target.path), ["inner"])
    }

    func testMissingDirectoryAndFileAreIOErrors() throws {
        let directory = try temporaryDirectory(for: self)
        let nowhere = directory.appendingPathComponent("no/such/dir/model.safetensors")
        assertThrows(.io(errno: ENOENT), mentioning: [nowhere.path]) { () throws(CheckpointError) in
            try SafeTensorsFile().write(to: nowhere)
        }
        assertThrows(.io(errno: ENOENT), mentioning: [nowhere.path, "cannot open"]) { () throws(CheckpointError) in
            try SafeTensorsFile(contentsOf: nowhere)
        }
    }
}

/// A one-way flag shared between threads.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

/// A value shared between threads.
final class Box<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T?
    var value: T? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
