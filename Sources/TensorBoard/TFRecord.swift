import Wire

/// TFRecord framing, the container of TensorBoard event files (tensorflow
/// `core/lib/io/record_writer.cc`): each record is
/// `u64 length, u32 masked CRC-32C(length bytes), data, u32 masked CRC-32C(data)`, little-endian.
public enum TFRecord {
    /// The record bytes framing `data`.
    public static func frame(_ data: [UInt8]) -> [UInt8] {
        let length = littleEndianBytes(UInt64(data.count))
        var record = length
        record.reserveCapacity(data.count + 16)
        record += littleEndianBytes(maskedCRC(length))
        record += data
        record += littleEndianBytes(maskedCRC(data))
        return record
    }

    /// TensorFlow's masked CRC-32C: rotated right by 15 bits plus 0xa282ead8, so that a CRC
    /// stored inside the data it covers does not checksum to a constant.
    public static func maskedCRC(_ bytes: [UInt8]) -> UInt32 {
        let crc = CRC32C.checksum(of: bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    static func littleEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}
