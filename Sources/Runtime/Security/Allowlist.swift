import ZMQ

/// The learner's allowlist: which public keys may join, each with its role and name. One line
/// per key, `ROLE NAME Z85KEY`; `#` comments and blank lines allowed. Keys and names are
/// unique (the name becomes the peer's identity).
public struct Allowlist: Equatable, Sendable {
    /// The entries in file order.
    public let entries: [PublicKeyEntry]
    /// Entry by the key's 32 raw bytes, as ZAP hands them over.
    let byKey: [[UInt8]: PublicKeyEntry]
    /// Entry by name.
    let byName: [String: PublicKeyEntry]

    /// A table of `entries`; duplicate keys or names are an error naming both places.
    public init(_ entries: [PublicKeyEntry], places: [String]? = nil) throws(KeyFileError) {
        var byKey: [[UInt8]: PublicKeyEntry] = [:], byName: [String: PublicKeyEntry] = [:]
        var keyPlace: [[UInt8]: String] = [:], namePlace: [String: String] = [:]
        for (index, entry) in entries.enumerated() {
            let place = places?[index] ?? "entry \(index + 1)"
            let raw = ZMQCurveKeyPair.decodeZ85(entry.publicKey)!
            if let first = keyPlace[raw] { throw KeyFileError("\(place): the same key as \(first)") }
            if let first = namePlace[entry.name] { throw KeyFileError("\(place): name '\(entry.name)' is already used at \(first)") }
            byKey[raw] = entry
            byName[entry.name] = entry
            keyPlace[raw] = place
            namePlace[entry.name] = place
        }
        self.entries = entries
        self.byKey = byKey
        self.byName = byName
    }

    /// Parses allowlist `text`; `source` (a path) names it in errors, with the line.
    public static func parsing(_ text: String, source: String) throws(KeyFileError) -> Allowlist {
        var entries: [PublicKeyEntry] = [], places: [String] = []
        for (number, line) in try contentLines(text, source: source) {
            let place = "\(source):\(number)"
            entries.append(try PublicKeyEntry.parse(line, at: place))
            places.append(place)
        }
        return try Allowlist(entries, places: places)
    }

    /// Reads the allowlist file at `path`.
    public static func load(path: String) throws(KeyFileError) -> Allowlist {
        var entries: [PublicKeyEntry] = [], places: [String] = []
        for (number, line) in try contentLines(path) {
            let place = "\(path):\(number)"
            entries.append(try PublicKeyEntry.parse(line, at: place))
            places.append(place)
        }
        return try Allowlist(entries, places: places)
    }

    /// The file text: a comment, then one line per entry.
    public var rendered: String {
        "# ShieldDiff learner allowlist: ROLE NAME Z85KEY, one key per line\n"
            + entries.map { $0.line + "\n" }.joined()
    }

    /// True when `name` is listed with `role`.
    public func admits(name: String, role: KeyRole) -> Bool { byName[name]?.role == role }
}
