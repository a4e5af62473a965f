import Foundation

/// One tensor's entry in a safetensors header, validated against the data buffer.
struct TensorEntry {
    let name: String
    let dtype: DType
    let shape: [Int]
    /// Elements: the product of `shape`.
    let count: Int
    /// Byte range in the data buffer (which starts right after the header).
    let begin: Int
    let end: Int
}

/// A parsed safetensors header whose entries tile the data buffer exactly.
///
/// The checks follow the reference implementation (huggingface/safetensors `tensor.rs`,
/// `Metadata::validate`): sorted by offset, each tensor begins where the previous one ends,
/// holds exactly count × dtype size bytes, and the last one ends at the end of the buffer.
/// Stricter than the reference: a key repeated in one JSON object is an error, not last-wins.
struct SafeTensorsHeader {
    static let metadataKey = "__metadata__"

    /// In data order.
    let entries: [TensorEntry]
    let metadata: [String: String]

    init(json: UnsafeRawBufferPointer, dataLength: Int, source: String) throws(CheckpointError) {
        func fail(_ kind: CheckpointError.Kind, _ message: String) -> CheckpointError {
            CheckpointError(kind, source: source, message)
        }
        guard String(validating: json, as: UTF8.self) != nil else {
            throw fail(.invalidHeader, "header is not valid UTF-8")
        }
        let raw: RawHeader
        do {
            raw = try JSONDecoder().decode(RawHeader.self, from: Data(json))
        } catch let error as DecodingError {
            throw Self.describe(error, source: source)
        } catch {
            throw fail(.invalidHeader, "header could not be decoded: \(error)")
        }
        if let key = firstDuplicateKey(in: json) {
            throw fail(.duplicateKey, "header names \(quoted(key)) twice in one object")
        }

        var entries: [TensorEntry] = []
        entries.reserveCapacity(raw.tensors.count)
        for (name, e) in raw.tensors {
            guard let dtype = DType(rawValue: e.dtype) else {
                throw fail(.unknownDType, "tensor \(quoted(name)) has unknown dtype \(quoted(e.dtype))")
            }
            guard e.dataOffsets.count == 2 else {
                throw fail(.invalidField, "tensor \(quoted(name)): data_offsets must be [begin, end], got \(e.dataOffsets.count) numbers")
            }
            let shape = e.shape.map(\.value)
            var count = 1
            for d in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow else { throw fail(.invalidField, "tensor \(quoted(name)): shape \(shape) is too large") }
                count = product
            }
            entries.append(TensorEntry(name: name, dtype: dtype, shape: shape, count: count,
                                       begin: e.dataOffsets[0].value, end: e.dataOffsets[1].value))
        }
        entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }

        var position = 0
        for e in entries {
            let name = quoted(e.name)
            if e.end < e.begin {
                throw fail(.invalidOffsets, "tensor \(name) ends (byte \(e.end)) before it begins (byte \(e.begin))")
            }
            if e.begin > position {
                throw fail(.invalidOffsets, "tensor \(name) begins at byte \(e.begin) but the data before it ends at byte \(position): a gap")
            }
            if e.begin < position {
                throw fail(.invalidOffsets, "tensor \(name) begins at byte \(e.begin), inside data that ends at byte \(position): an overlap")
            }
            let (needed, overflow) = e.count.multipliedReportingOverflow(by: e.dtype.size)
            if overflow || e.end - e.begin != needed {
                throw fail(.sizeMismatch, "tensor \(name) holds \(e.end - e.begin) bytes (data_offsets [\(e.begin), \(e.end)]) but dtype \(e.dtype.rawValue) with shape \(e.shape) needs \(overflow ? "more than Int.max" : String(needed))")
            }
            position = e.end
        }
        guard position == dataLength else {
            throw fail(.incompleteBuffer, "tensors cover \(position) bytes of data but \(dataLength) bytes follow the header")
        }
        self.entries = entries
        self.metadata = raw.metadata
    }

    /// A decoding failure as a message naming the header field, e.g. `'w'.shape[1]`.
    private static func describe(_ error: DecodingError, source: String) -> CheckpointError {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.enumerated().map { i, key in
                if let index = key.intValue { return "[\(index)]" }
                return i == 0 ? quoted(key.stringValue) : "." + key.stringValue
            }.joined()
        }
        switch error {
        case .keyNotFound(let key, let context):
            let owner = context.codingPath.isEmpty ? "header" : "entry \(path(context.codingPath))"
            return CheckpointError(.missingField, source: source, "\(owner) has no field \(quoted(key.stringValue))")
        case .typeMismatch(_, let context) where context.codingPath.isEmpty:
            return CheckpointError(.invalidHeader, source: source, "header is not a JSON object")
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return CheckpointError(.invalidField, source: source, "header field \(path(context.codingPath)): \(context.debugDescription)")
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return CheckpointError(.invalidHeader, source: source, "header is not valid JSON: \(context.underlyingError.map { "\($0)" } ?? context.debugDescription)")
        case .dataCorrupted(let context):
            return CheckpointError(.invalidField, source: source, "header field \(path(context.codingPath)): \(context.debugDescription)")
        @unknown default:
            return CheckpointError(.invalidHeader, source: source, "header could not be decoded: \(error)")
        }
    }
}

/// A string in double quotes with JSON escapes, for messages and for the header itself.
func quoted(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// The header as JSON hands it over, before dtype and offset checks.
private struct RawHeader: Decodable {
    var tensors: [(name: String, entry: RawEntry)] = []
    var metadata: [String: String] = [:]

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: NameKey.self)
        for key in container.allKeys {
            if key.stringValue == SafeTensorsHeader.metadataKey {
                metadata = try container.decodeIfPresent([String: String].self, forKey: key) ?? [:]
            } else {
                tensors.append((key.stringValue, try container.decode(RawEntry.self, forKey: key)))
            }
        }
    }
}

private struct NameKey: CodingKey {
    let stringValue: String
    init(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

private struct RawEntry: Decodable {
    let dtype: String
    let shape: [NonNegativeInt]
    let dataOffsets: [NonNegativeInt]

    enum CodingKeys: String, CodingKey {
        case dtype, shape
        case dataOffsets = "data_offsets"
    }
}

/// A JSON integer in 0...Int.max; anything else fails with a message saying what was found
/// (JSONDecoder alone reports 1.5 or 2^64 as "not valid JSON").
private struct NonNegativeInt: Decodable {
    let value: Int

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let found: String
        if let v = try? container.decode(Int.self) {
            guard v < 0 else { value = v; return }
            found = String(v)
        } else if let v = try? container.decode(Double.self) {
            found = String(v)
        } else {
            found = "a value that is not a number"
        }
        throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected a non-negative integer, found \(found)")
    }
}

/// The first key that occurs twice in one object of `json` (which must be valid JSON), if any.
///
/// JSONDecoder keeps one value of a repeated key silently; this scan finds the repeat.
/// Keys are compared as Swift strings, like the dictionaries they end up in.
func firstDuplicateKey(in json: UnsafeRawBufferPointer) -> String? {
    var objects: [Set<String>?] = []  // innermost last; nil for an array
    var i = 0
    while i < json.count {
        switch json[i] {
        case UInt8(ascii: "{"): objects.append([])
        case UInt8(ascii: "["): objects.append(nil)
        case UInt8(ascii: "}"), UInt8(ascii: "]"): objects.removeLast()
        case UInt8(ascii: "\""):
            let start = i
            var escaped = false
            i += 1
            while json[i] != UInt8(ascii: "\"") {
                if json[i] == UInt8(ascii: "\\") { escaped = true; i += 1 }
                i += 1
            }
            var next = i + 1
            while next < json.count, [0x20, 0x09, 0x0A, 0x0D].contains(json[next]) { next += 1 }
            guard next < json.count, json[next] == UInt8(ascii: ":"), case .some(.some) = objects.last else { break }
            let literal = UnsafeRawBufferPointer(rebasing: json[start...i])
            let key = escaped
                ? (try? JSONDecoder().decode(String.self, from: Data(literal))) ?? ""
                : String(decoding: literal.dropFirst().dropLast(), as: UTF8.self)
            if objects[objects.count - 1]!.insert(key).inserted == false { return key }
        default: break
        }
        i += 1
    }
    return nil
}
