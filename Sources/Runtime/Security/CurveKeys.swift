import Foundation
import ZMQ

#if canImport(Glibc)
import Glibc
#endif

/// The role a CURVE key is made for; the learner's allowlist grants endpoints by it.
public enum KeyRole: String, CaseIterable, Sendable {
    case learner, actor, rewardWorker = "reward-worker", supervisor

    static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// A key file that cannot be used; the message names the file (and line) and what is wrong.
public struct KeyFileError: Error, CustomStringConvertible, LocalizedError, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
    public var errorDescription: String? { description }
}

/// One public key with the role and name it was made for: a `NAME.pub` file, or one line of
/// an allowlist (`ROLE NAME Z85KEY`).
public struct PublicKeyEntry: Equatable, Sendable {
    public let role: KeyRole
    public let name: String
    /// 40 characters of Z85.
    public let publicKey: String

    /// An entry; the name must be a valid instance id and the key 40 characters of Z85.
    public init(role: KeyRole, name: String, publicKey: String) throws(KeyFileError) {
        if let problem = keyNameProblem(name) { throw KeyFileError("name '\(name)' \(problem)") }
        guard ZMQCurveKeyPair.decodeZ85(publicKey) != nil else {
            throw KeyFileError("'\(publicKey.prefix(60))' is not a CURVE public key (40 characters of Z85)")
        }
        self.role = role
        self.name = name
        self.publicKey = publicKey
    }

    /// The line `ROLE NAME Z85KEY`.
    public var line: String { "\(role.rawValue) \(name) \(publicKey)" }

    /// Parses one `ROLE NAME Z85KEY` line; `place` ("file:line") starts the error message.
    static func parse(_ line: Substring, at place: String) throws(KeyFileError) -> PublicKeyEntry {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard words.count == 3 else {
            throw KeyFileError("\(place): expected 'ROLE NAME KEY' (3 words), found \(words.count)")
        }
        guard let role = KeyRole(rawValue: String(words[0])) else {
            throw KeyFileError("\(place): unknown role '\(words[0])' (known: \(KeyRole.names))")
        }
        do { return try PublicKeyEntry(role: role, name: String(words[1]), publicKey: String(words[2])) } catch {
            throw KeyFileError("\(place): \(error.description)")
        }
    }

    /// Reads the single entry of a `.pub` file (comments and blank lines allowed).
    public static func load(path: String) throws(KeyFileError) -> PublicKeyEntry {
        let entries = try contentLines(path).map { (number, line) throws(KeyFileError) in
            try parse(line, at: "\(path):\(number)")
        }
        guard entries.count == 1 else {
            throw KeyFileError("\(path): expected one 'ROLE NAME KEY' line, found \(entries.count)")
        }
        return entries[0]
    }
}

/// A process's own CURVE key pair with its role and name: a `NAME.key` file, mode 0600.
public struct CurveIdentity: Equatable, Sendable {
    public let role: KeyRole
    public let name: String
    public let keys: ZMQCurveKeyPair

    /// Its public half as an allowlist entry.
    public var publicEntry: PublicKeyEntry { try! PublicKeyEntry(role: role, name: name, publicKey: keys.publicKey) }

    init(role: KeyRole, name: String, keys: ZMQCurveKeyPair) {
        self.role = role
        self.name = name
        self.keys = keys
    }

    /// A fresh key pair (`zmq_curve_keypair`).
    public static func generate(role: KeyRole, name: String) throws -> CurveIdentity {
        if let problem = keyNameProblem(name) { throw KeyFileError("name '\(name)' \(problem)") }
        return CurveIdentity(role: role, name: name, keys: try ZMQCurveKeyPair.generate())
    }

    /// Writes `DIR/NAME.key` (created with mode 0600, never overwritten) and `DIR/NAME.pub`;
    /// returns both paths.
    @discardableResult
    public func write(to directory: String) throws(KeyFileError) -> (secret: String, public: String) {
        let secretPath = directory + "/\(name).key", publicPath = directory + "/\(name).pub"
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw KeyFileError("cannot create key folder \(directory): \(error.localizedDescription)")
        }
        let secretText = """
            # ShieldDiff CURVE secret key of \(role.rawValue) \(name). Keep it private (mode 0600).
            role \(role.rawValue)
            name \(name)
            public \(keys.publicKey)
            secret \(keys.secretKey)

            """
        let publicText = "# ShieldDiff CURVE public key; add it to the learner's allowlist (shielddiff keys allow)\n"
            + publicEntry.line + "\n"
        try Self.create(secretPath, secretText, mode: 0o600)
        try Self.create(publicPath, publicText, mode: 0o644)
        return (secretPath, publicPath)
    }

    /// Creates `path` with `mode` from the start (so a secret is never readable by others,
    /// even for a moment); refuses to replace an existing file.
    private static func create(_ path: String, _ text: String, mode: mode_t) throws(KeyFileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else {
            let reason = errno == EEXIST ? "it exists (remove it first to make a new key)" : String(cString: strerror(errno))
            throw KeyFileError("cannot create \(path): \(reason)")
        }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard fchmod(fd, mode) == 0, bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw KeyFileError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Reads a `NAME.key` file. Like ssh, refuses one that group or others may read or write.
    public static func load(path: String) throws(KeyFileError) -> CurveIdentity {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw KeyFileError("cannot read secret key file \(path): \(String(cString: strerror(errno)))")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw KeyFileError("secret key file \(path) is accessible by others (mode \(String(mode, radix: 8))); "
                               + "fix it with: chmod 600 \(path)")
        }
        var fields: [String: (value: String, line: Int)] = [:]
        for (number, line) in try contentLines(path) {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count == 2, ["role", "name", "public", "secret"].contains(words[0]) else {
                throw KeyFileError("\(path):\(number): expected 'role', 'name', 'public' or 'secret' followed by one value")
            }
            guard fields[String(words[0])] == nil else { throw KeyFileError("\(path):\(number): '\(words[0])' is given twice") }
            fields[String(words[0])] = (String(words[1]), number)
        }
        for key in ["role", "name", "public", "secret"] where fields[key] == nil {
            throw KeyFileError("\(path): no '\(key)' line (not a key file made by shielddiff keys generate?)")
        }
        let (roleText, roleLine) = fields["role"]!
        guard let role = KeyRole(rawValue: roleText) else {
            throw KeyFileError("\(path):\(roleLine): unknown role '\(roleText)' (known: \(KeyRole.names))")
        }
        let (name, nameLine) = fields["name"]!
        if let problem = keyNameProblem(name) { throw KeyFileError("\(path):\(nameLine): name '\(name)' \(problem)") }
        let (secret, secretLine) = fields["secret"]!
        guard let derived = ZMQCurveKeyPair.publicKey(forSecret: secret) else {
            throw KeyFileError("\(path):\(secretLine): not a CURVE secret key (40 characters of Z85)")
        }
        let (publicKey, publicLine) = fields["public"]!
        guard publicKey == derived else {
            throw KeyFileError("\(path):\(publicLine): the public key does not belong to the secret key")
        }
        return CurveIdentity(role: role, name: name, keys: ZMQCurveKeyPair(publicKey: publicKey, secretKey: secret))
    }
}

/// Why `name` cannot name a key (it becomes the peer's instance id), or nil.
func keyNameProblem(_ name: String) -> String? {
    if name.isEmpty || name.utf8.count > 128 { return "must be 1...128 characters" }
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    if !name.allSatisfy({ allowed.contains($0) }) { return "may hold only letters, digits, '.', '_' and '-'" }
    return nil
}

/// The numbered lines of a text file that are neither blank nor `#` comments, trimmed.
func contentLines(_ path: String) throws(KeyFileError) -> [(Int, Substring)] {
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
        throw KeyFileError("cannot read \(path): \(error.localizedDescription)")
    }
    guard let text = String(data: data, encoding: .utf8) else { throw KeyFileError("\(path): not UTF-8 text") }
    return try contentLines(text, source: path)
}

/// The numbered content lines of `text` (`source` names it in errors).
func contentLines(_ text: String, source: String) throws(KeyFileError) -> [(Int, Substring)] {
    var lines: [(Int, Substring)] = []
    for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let line = raw.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed()
        let trimmed = Substring(String(line))
        if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
        if trimmed.contains("\0") { throw KeyFileError("\(source):\(index + 1): contains a NUL byte") }
        lines.append((index + 1, trimmed))
    }
    return lines
}
