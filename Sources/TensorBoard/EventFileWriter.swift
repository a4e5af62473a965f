import Foundation

/// Appends TensorBoard events to a new file `events.out.tfevents.<10-digit time>.<host>.<pid>`
/// in a folder (TensorBoard's own naming, so `tensorboard --logdir` finds it); the first
/// event is the `brain.Event:2` file version. Each event is written through at once, so a
/// run that dies loses nothing it logged.
public final class EventFileWriter {
    /// The event file.
    public let url: URL
    private let handle: FileHandle

    /// Creates the event file in `directory` (and the folder) with the time `now`.
    public init(directory: URL, now: Date = Date()) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let seconds = String(format: "%010d", Int(now.timeIntervalSince1970))
        let host = ProcessInfo.processInfo.hostName
        url = directory.appendingPathComponent("events.out.tfevents.\(seconds).\(host).\(getpid())")
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw EventFileError("cannot create the TensorBoard event file \(url.path)")
        }
        handle = try FileHandle(forWritingTo: url)
        try write(Event(wallTime: now.timeIntervalSince1970, step: 0, content: .fileVersion("brain.Event:2")))
    }

    /// Appends `event` as one record.
    public func write(_ event: Event) throws {
        try handle.write(contentsOf: TFRecord.frame(event.encoded()))
    }

    /// Appends one event with every value of `scalars` (sorted by tag) at `step`.
    public func write(scalars: [String: Double], step: Int64, wallTime: Double) throws {
        let sorted = scalars.keys.sorted().map { (tag: $0, value: Float(scalars[$0]!)) }
        try write(Event(wallTime: wallTime, step: step, content: .scalars(sorted)))
    }

    deinit { try? handle.close() }
}

/// An event file that cannot be created or written.
public struct EventFileError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
