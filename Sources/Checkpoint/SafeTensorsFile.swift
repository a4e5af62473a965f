import Foundation
import Numerics

/// The contents of a safetensors file: named Float32 tensors and string metadata.
///
/// Reading accepts F32, F64, F16 and BF16 tensors (converting to Float32) and rejects any
/// file whose header and data do not agree exactly; writing produces F32 tensors in name
/// order after a space-padded header, as the reference `safetensors` writer does.
public struct SafeTensorsFile: Equatable, Sendable {
    /// The largest header accepted, as in the reference implementation.
    public static let maxHeaderLength = 100_000_000

    public var tensors: [String: Tensor]
    public var metadata: [String: String]

    public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Parses a whole file held in memory; `source` names it in errors.
    public init(bytes: [UInt8], source: String = "<memory>") throws(CheckpointError) {
        // withUnsafeBytes rethrows untyped errors, so the typed one travels in a Result.
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(CheckpointError) in try Self.decode(raw, source: source) }
        }
        self = try result.get()
    }

    /// Reads and parses the file at `url`.
    public init(contentsOf url: URL) throws(CheckpointError) {
        try self.init(bytes: readFile(url), source: url.path)
    }

    /// Replaces the file at `url` with this content atomically: a reader or a crash sees the
    /// old file or the new one, never a mix (see `writeAtomically`).
    public func write(to url: URL) throws(CheckpointError) {
        try writeAtomically(encoded(source: url.path), to: url)
    }

    /// The file's bytes: u64 header length, JSON header padded with spaces to a multiple of
    /// 8 bytes, then each tensor's little-endian Float32 data in name order.
    public func encoded() throws(CheckpointError) -> [UInt8] {
        try encoded(source: "<memory>")
    }

    private func encoded(source: String) throws(CheckpointError) -> [UInt8] {
        guard tensors[SafeTensorsHeader.metadataKey] == nil else {
            throw CheckpointError(.invalidName, source: source,
                                  "\(quoted(SafeTensorsHeader.metadataKey)) is reserved for metadata and cannot name a tensor")
        }
        let names = tensors.keys.sorted()
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { quoted($0) + ":" + quoted(metadata[$0]!) }
            fields.append(quoted(SafeTensorsHeader.metadataKey) + ":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        for name in names {
            let tensor = tensors[name]!
            let end = offset + 4 * tensor.count
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            fields.append(quoted(name) + #":{"dtype":"F32","shape":[\#(shape)],"data_offsets":[\#(offset),\#(end)]}"#)
            offset = end
        }
        var header = Array(("{" + fields.joined(separator: ",") + "}").utf8)
        // Padding keeps the data 8-byte aligned for readers that map the file.
        header += repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8)
        guard header.count <= Self.maxHeaderLength else {
            throw CheckpointError(.headerTooLarge, source: source,
                                  "header of \(header.count) bytes exceeds the \(Self.maxHeaderLength)-byte limit readers enforce")
        }

        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes += $0 }
        bytes += header
        for name in names {
            tensors[name]!.data.withUnsafeBytes { bytes += $0 }
        }
        return bytes
    }

    private static func decode(_ raw: UnsafeRawBufferPointer, source: String) throws(CheckpointError) -> SafeTensorsFile {
        guard raw.count >= 8 else {
            throw CheckpointError(.truncated, source: source,
                                  "file is \(raw.count) bytes, too short for the 8-byte header length (truncated?)")
        }
        let length = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
        guard length <= UInt64(maxHeaderLength) else {
            throw CheckpointError(.headerTooLarge, source: source,
                                  "header length \(length) exceeds the \(maxHeaderLength)-byte limit")
        }
        let headerEnd = 8 + Int(length)
        guard headerEnd <= raw.count else {
            throw CheckpointError(.headerBeyondFile, source: source,
                                  "header length \(length) runs past the end of the file: only \(raw.count - 8) bytes follow it (truncated?)")
        }
        let header = try SafeTensorsHeader(json: UnsafeRawBufferPointer(rebasing: raw[8..<headerEnd]),
                                           dataLength: raw.count - headerEnd, source: source)
        let data = raw.baseAddress! + headerEnd
        var tensors: [String: Tensor] = [:]
        tensors.reserveCapacity(header.entries.count)
        for e in header.entries {
            guard e.dtype.convertsToFloat else {
                throw CheckpointError(.unsupportedDType, source: source,
                                      "tensor \(quoted(e.name)) has dtype \(e.dtype.rawValue); only F32, F64, F16 and BF16 load as Float32")
            }
            tensors[e.name] = Tensor(shape: e.shape, data: e.dtype.floats(from: data + e.begin, count: e.count))
        }
        return SafeTensorsFile(tensors: tensors, metadata: header.metadata)
    }
}
