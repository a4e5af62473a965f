import CShieldProto
import Foundation
import TensorBoard
import XCTest

/// The TFRecord framing and the events inside it, read back by a reader written here from
/// the format's definition and by protobuf-c's unpacker (the Python `tensorboard` package
/// reads the learner's real files in RuntimeTests/TensorBoardFileTests).
final class EventFileTests: XCTestCase {
    /// Masked CRC-32C values computed by TensorBoard's own `record_writer.masked_crc32c`.
    func testMaskedCRCMatchesTensorBoard() {
        XCTAssertEqual(TFRecord.maskedCRC([]), 0xA282_EAD8)
        XCTAssertEqual(TFRecord.maskedCRC(Array("123456789".utf8)), 0xC78A_B0E5)
        XCTAssertEqual(TFRecord.maskedCRC([24, 0, 0, 0, 0, 0, 0, 0]), 0x224B_7FA3)
        XCTAssertEqual(TFRecord.maskedCRC((0...255).map { UInt8($0) }), 0xD31A_2360)
    }

    func testFrameLayout() {
        let data: [UInt8] = Array("123456789".utf8)
        let record = TFRecord.frame(data)
        XCTAssertEqual(record.count, 8 + 4 + data.count + 4)
        XCTAssertEqual(Array(record[0..<8]), [9, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(Self.u32(record, at: 8), TFRecord.maskedCRC([9, 0, 0, 0, 0, 0, 0, 0]))
        XCTAssertEqual(Array(record[12..<21]), data)
        XCTAssertEqual(Self.u32(record, at: 21), 0xC78A_B0E5)
    }

    func testWrittenFileRoundTrips() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tb-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        let start = Date(timeIntervalSince1970: 1_700_000_000.25)
        let writer = try EventFileWriter(directory: folder, now: start)
        XCTAssertTrue(writer.url.lastPathComponent.hasPrefix("events.out.tfevents.1700000000."), writer.url.path)
        XCTAssertTrue(writer.url.lastPathComponent.hasSuffix(".\(getpid())"), writer.url.path)
        try writer.write(scalars: ["loss": 0.125, "approx_kl": -3e-7, "nan": .nan], step: 7, wallTime: 1_700_000_001.5)
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0, 1, 2, 255]
        try writer.write(Event(wallTime: 1_700_000_002, step: 8, content: .image(tag: "grid", width: 34, height: 18, png: png)))

        let records = try Self.records(in: [UInt8](Data(contentsOf: writer.url)))
        XCTAssertEqual(records.count, 3)

        try Self.unpack(records[0]) { event in
            XCTAssertEqual(event.wall_time, 1_700_000_000.25)
            XCTAssertEqual(event.what_case, TENSORBOARD__EVENT__WHAT_FILE_VERSION)
            XCTAssertEqual(String(cString: event.file_version), "brain.Event:2")
        }
        try Self.unpack(records[1]) { event in
            XCTAssertEqual(event.step, 7)
            XCTAssertEqual(event.wall_time, 1_700_000_001.5)
            XCTAssertEqual(event.what_case, TENSORBOARD__EVENT__WHAT_SUMMARY)
            let summary = event.summary.pointee
            let values = (0..<summary.n_value).map { summary.value[$0]!.pointee }
            XCTAssertEqual(values.map { String(cString: $0.tag) }, ["approx_kl", "loss", "nan"], "sorted by tag")
            XCTAssertEqual(values.map(\.value_case), Array(repeating: TENSORBOARD__SUMMARY__VALUE__VALUE_SIMPLE_VALUE, count: 3))
            XCTAssertEqual(values[0].simple_value, Float(-3e-7))
            XCTAssertEqual(values[1].simple_value, 0.125)
            XCTAssertTrue(values[2].simple_value.isNaN)
        }
        try Self.unpack(records[2]) { event in
            XCTAssertEqual(event.step, 8)
            let value = event.summary.pointee.value[0]!.pointee
            XCTAssertEqual(String(cString: value.tag), "grid")
            XCTAssertEqual(value.value_case, TENSORBOARD__SUMMARY__VALUE__VALUE_IMAGE)
            let image = value.image.pointee
            XCTAssertEqual([image.width, image.height, image.colorspace], [34, 18, 3])
            XCTAssertEqual(Array(UnsafeBufferPointer(start: image.encoded_image_string.data, count: image.encoded_image_string.len)), png)
        }
    }

    func testReaderCatchesACorruptedByte() throws {
        var record = TFRecord.frame(Array("some event".utf8))
        record[14] ^= 0x01
        XCTAssertThrowsError(try Self.records(in: record)) { error in
            XCTAssertEqual("\(error)", "record 0: data CRC mismatch")
        }
    }

    // MARK: - An independent reader

    struct Corrupt: Error, CustomStringConvertible { let description: String }

    static func u32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }

    /// The records of a TFRecord file, checking both CRCs of each.
    static func records(in bytes: [UInt8]) throws -> [[UInt8]] {
        var records: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 12 else { throw Corrupt(description: "record \(records.count): truncated header") }
            let header = Array(bytes[offset..<(offset + 8)])
            let length = Int((0..<8).reduce(UInt64(0)) { $0 | UInt64(header[$1]) << (8 * $1) })
            guard u32(bytes, at: offset + 8) == TFRecord.maskedCRC(header) else {
                throw Corrupt(description: "record \(records.count): length CRC mismatch")
            }
            let start = offset + 12
            guard bytes.count - start >= length + 4 else { throw Corrupt(description: "record \(records.count): truncated data") }
            let data = Array(bytes[start..<(start + length)])
            guard u32(bytes, at: start + length) == TFRecord.maskedCRC(data) else {
                throw Corrupt(description: "record \(records.count): data CRC mismatch")
            }
            records.append(data)
            offset = start + length + 4
        }
        return records
    }

    /// Runs `body` on the protobuf-c unpacking of an Event record.
    static func unpack(_ record: [UInt8], _ body: (Tensorboard__Event) throws -> Void) throws {
        guard let event = record.withUnsafeBufferPointer({ tensorboard__event__unpack(nil, $0.count, $0.baseAddress) }) else {
            throw Corrupt(description: "record does not unpack as a tensorboard.Event")
        }
        defer { tensorboard__event__free_unpacked(event, nil) }
        try body(event.pointee)
    }
}
