import Foundation
import Yams

/// A configuration that cannot be used; the message names the key, the value, the source
/// (file and line, or `--set`) and what was expected.
public struct ConfigError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The full message.
    public let description: String
    /// Creates an error with its message.
    public init(_ description: String) { self.description = description }
    public var errorDescription: String? { description }
}

extension RunConfig {
    /// The configuration in YAML `text` (keys as in `fields`, nested blocks for dotted keys)
    /// over the defaults; `source` names the text in errors (a path, or "<yaml>").
    public static func parsing(yaml text: String, source: String = "<yaml>") throws(ConfigError) -> RunConfig {
        var config = RunConfig()
        try config.merge(yaml: text, source: source)
        return config
    }

    /// The configuration of the YAML file at `path` over the defaults.
    public static func loading(path: String) throws(ConfigError) -> RunConfig {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigError("cannot read config file \(path): \(error.localizedDescription)")
        }
        return try parsing(yaml: text, source: path)
    }

    /// Sets every key of YAML `text` (checked against `fields`).
    public mutating func merge(yaml text: String, source: String) throws(ConfigError) {
        // Yams composes nested nodes recursively: refuse nesting no config needs before it can
        // exhaust the stack (found by the FuzzConfig target).
        if let problem = Self.nestingProblem(text) { throw ConfigError("\(source):\(problem)") }
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw ConfigError("\(source): not valid YAML: \(error)")
        }
        guard let root else { return }  // an empty file sets nothing
        let byKey = Dictionary(uniqueKeysWithValues: Self.fields.map { ($0.key, $0) })
        try merge(root, prefix: "", byKey: byKey, source: source)
    }

    private mutating func merge(_ node: Node, prefix: String, byKey: [String: ConfigField],
                                source: String) throws(ConfigError) {
        guard let mapping = node.mapping else {
            let place = Self.place(source, node.mark)
            throw ConfigError("\(place): expected a mapping of keys\(prefix.isEmpty ? "" : " under '\(prefix.dropLast())'")")
        }
        var seen: Set<String> = []
        for (keyNode, value) in mapping {
            let place = Self.place(source, keyNode.mark)
            guard let name = keyNode.scalar?.string else { throw ConfigError("\(place): a key must be a plain string") }
            let key = prefix + name
            guard seen.insert(name).inserted else { throw ConfigError("\(place): key '\(key)' is given twice") }
            if let field = byKey[key] {
                guard let scalar = value.scalar else {
                    throw ConfigError("\(place): key '\(key)' takes a single value (\(field.expected)), not a list or mapping")
                }
                try set(field, scalar.string, at: Self.place(source, value.mark))
            } else if byKey.keys.contains(where: { $0.hasPrefix(key + ".") }) {
                try merge(value, prefix: key + ".", byKey: byKey, source: source)
            } else {
                throw ConfigError("\(place): unknown key '\(key)'" + Self.suggestion(for: key))
            }
        }
    }

    /// Applies one `key=value` override (from `--set` or a named flag).
    public mutating func apply(override: String) throws(ConfigError) {
        guard let equals = override.firstIndex(of: "=") else {
            throw ConfigError("--set \(override): expected key=value")
        }
        let key = String(override[..<equals]).trimmingCharacters(in: .whitespaces)
        let value = String(override[override.index(after: equals)...])
        guard let field = Self.fields.first(where: { $0.key == key }) else {
            throw ConfigError("--set \(override): unknown key '\(key)'" + Self.suggestion(for: key))
        }
        try set(field, value, at: "--set")
    }

    private mutating func set(_ field: ConfigField, _ text: String, at place: String) throws(ConfigError) {
        if let problem = field.apply(&self, text) {
            throw ConfigError("\(place): bad value '\(text)' for key '\(field.key)': \(problem)")
        }
    }

    /// Checks the rules that involve several keys; the message names the keys.
    public func validated() throws(ConfigError) -> RunConfig {
        if reconnectDelayMaxMs < reconnectDelayMs {
            throw ConfigError("reconnect_delay_max_ms (\(reconnectDelayMaxMs)) must be ≥ reconnect_delay_ms (\(reconnectDelayMs))")
        }
        if restartDelayMaxMs < restartDelayMs {
            throw ConfigError("restart_delay_max_ms (\(restartDelayMaxMs)) must be ≥ restart_delay_ms (\(restartDelayMs))")
        }
        if maxBufferedTrajectories < trajectoriesPerUpdate {
            throw ConfigError("max_buffered_trajectories (\(maxBufferedTrajectories)) must be ≥ trajectories_per_update (\(trajectoriesPerUpdate))")
        }
        if hyperparameters.minCount > hyperparameters.buffer {
            throw ConfigError("hyperparameters.min_count (\(hyperparameters.minCount)) must be ≤ hyperparameters.buffer (\(hyperparameters.buffer))")
        }
        if hyperparameters.timestepFraction <= 0 {
            throw ConfigError("hyperparameters.timestep_fraction must be > 0, got \(hyperparameters.timestepFraction)")
        }
        if adversarial.embeddingShare > 0 && model != "diffusion" {
            throw ConfigError("adversarial.embedding_share needs model diffusion (the concept vector is the world's text encoder's), got model \(model)")
        }
        if adversarial.embeddingShare > 0 && adversarial.eta <= 0 {
            throw ConfigError("adversarial.embedding_share (\(adversarial.embeddingShare)) needs adversarial.eta > 0, got \(adversarial.eta)")
        }
        if !initCheckpoint.isEmpty && model != "diffusion" {
            throw ConfigError("init_checkpoint needs model diffusion, got model \(model)")
        }
        if !initCheckpoint.isEmpty && hyperparameters.loraRank > 0 {
            throw ConfigError("init_checkpoint needs hyperparameters.lora_rank 0 (LoRA adapters start at B = 0 over the shipped model), got \(hyperparameters.loraRank)")
        }
        // `tcp://host:*` asks for an ephemeral port: four of them bind four different ports.
        let fixed = [endpoints.control, endpoints.weights, endpoints.rewardFrontend, endpoints.rewardBackend]
            .filter { !$0.hasSuffix(":*") }
        if Set(fixed).count != fixed.count { throw ConfigError("endpoints.* must be four different endpoints") }
        return self
    }

    /// This configuration as YAML that `parsing(yaml:)` reads back to an equal value.
    public func renderedYAML() -> String {
        var lines: [String] = []
        var section = ""
        for field in Self.fields {
            let parts = field.key.split(separator: ".", maxSplits: 1).map(String.init)
            let value = Self.yamlQuoted(field.current(self))
            if parts.count == 2 {
                if parts[0] != section { section = parts[0]; lines.append("\(section):") }
                lines.append("  \(parts[1]): \(value)  # \(field.help)")
            } else {
                section = ""
                lines.append("\(field.key): \(value)  # \(field.help)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Every key with its default, then its meaning and allowed values, for `--help`.
    public static var keyHelp: String {
        let defaults = RunConfig()
        return fields.map { field in
            "\(field.key) = \(yamlQuoted(field.current(defaults)))\n    \(field.help); \(field.expected)"
        }.joined(separator: "\n")
    }

    private static func yamlQuoted(_ text: String) -> String {
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }

    /// "LINE: why" when `text` nests deeper than any configuration does: more than 16 open
    /// `[`/`{` (counted even inside quotes, which no key's value needs) or a line indented
    /// more than 64 columns.
    static func nestingProblem(_ text: String) -> String? {
        var depth = 0
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.prefix(while: { $0 == " " || $0 == "\t" }).count > 64 {
                return "\(index + 1): indented more than 64 columns"
            }
            for character in line {
                if character == "[" || character == "{" { depth += 1 } else if character == "]" || character == "}" { depth -= 1 }
                if depth > 16 { return "\(index + 1): more than 16 nested [ or {" }
            }
        }
        return nil
    }

    private static func place(_ source: String, _ mark: Mark?) -> String {
        guard let mark else { return source }
        return "\(source):\(mark.line)"
    }

    /// " (did you mean 'x'?)" for the known key closest to `key`, if any is close.
    private static func suggestion(for key: String) -> String {
        let scored = fields.map { ($0.key, editDistance(key, $0.key)) }.min { $0.1 < $1.1 }
        guard let (best, distance) = scored, distance <= max(2, key.count / 4) else { return "" }
        return " (did you mean '\(best)'?)"
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
