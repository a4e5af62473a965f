/// A scalar type a config value can hold, parsed from the text of a YAML scalar or a `--set`.
public protocol ConfigValue {
    /// The value `text` spells, or nil when it spells none.
    static func parse(_ text: String) -> Self?
    /// The name used in error messages, e.g. "an integer".
    static var typeName: String { get }
    /// A number as a comparable Double, for range checks (nil for non-numbers).
    var numericValue: Double? { get }
}

extension Int: ConfigValue {
    public static func parse(_ text: String) -> Int? { Int(text.replacingOccurrences(of: "_", with: "")) }
    public static var typeName: String { "an integer" }
    public var numericValue: Double? { Double(self) }
}

extension UInt64: ConfigValue {
    public static func parse(_ text: String) -> UInt64? { UInt64(text.replacingOccurrences(of: "_", with: "")) }
    public static var typeName: String { "a non-negative integer" }
    public var numericValue: Double? { Double(self) }
}

extension Double: ConfigValue {
    public static func parse(_ text: String) -> Double? {
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }
    public static var typeName: String { "a finite number" }
    public var numericValue: Double? { self }
}

extension String: ConfigValue {
    public static func parse(_ text: String) -> String? { text }
    public static var typeName: String { "a string" }
    public var numericValue: Double? { nil }
}

/// One configurable key: its dotted snake_case name, its help line, and how to set and read it.
public struct ConfigField {
    /// The key as written in YAML (dotted for nested blocks) and in `--set key=value`.
    public let key: String
    /// One line explaining the key (shown by `--help` and in errors).
    public let help: String
    /// What values are allowed, e.g. "an integer ≥ 1".
    public let expected: String
    /// Sets the key from text; the error message says what was expected.
    let apply: (inout RunConfig, String) -> String?
    /// The key's current value as text.
    public let current: (RunConfig) -> String

    /// An integer field limited to `range`.
    static func int(_ key: String, _ path: WritableKeyPath<RunConfig, Int>, _ help: String,
                    _ range: ClosedRange<Double> = -Double.infinity...Double.infinity) -> ConfigField {
        field(key, path, help, range: range, allowed: nil, check: nil)
    }

    /// A number field limited to `range`.
    static func number(_ key: String, _ path: WritableKeyPath<RunConfig, Double>, _ help: String,
                       _ range: ClosedRange<Double> = -Double.infinity...Double.infinity) -> ConfigField {
        field(key, path, help, range: range, allowed: nil, check: nil)
    }

    /// A non-negative 64-bit integer field.
    static func uint64(_ key: String, _ path: WritableKeyPath<RunConfig, UInt64>, _ help: String) -> ConfigField {
        field(key, path, help, range: nil, allowed: nil, check: nil)
    }

    /// A string field, limited to `allowed` values when given, checked by `check` when given.
    static func string(_ key: String, _ path: WritableKeyPath<RunConfig, String>, _ help: String,
                       allowed: [String]? = nil, check: ((String) -> String?)? = nil) -> ConfigField {
        field(key, path, help, range: nil, allowed: allowed, check: check)
    }

    private static func field<T: ConfigValue & CustomStringConvertible>(
        _ key: String, _ path: WritableKeyPath<RunConfig, T>, _ help: String,
        range: ClosedRange<Double>?, allowed: [String]?, check: ((T) -> String?)?
    ) -> ConfigField {
        var expected = T.typeName
        if let range, range.lowerBound.isFinite {
            if range.upperBound == .infinity { expected += " ≥ \(format(range.lowerBound))" }
            else { expected += " in \(format(range.lowerBound))...\(format(range.upperBound))" }
        }
        if let allowed { expected = "one of " + allowed.joined(separator: ", ") }
        let shownExpected = expected
        return ConfigField(
            key: key, help: help, expected: expected,
            apply: { config, text in
                guard let value = T.parse(text) else { return "expected \(shownExpected)" }
                if let range, let number = value.numericValue, !range.contains(number) {
                    return "expected \(shownExpected)"
                }
                if let allowed, !allowed.contains(value.description) { return "expected \(shownExpected)" }
                if let problem = check?(value) { return problem }
                config[keyPath: path] = value
                return nil
            },
            current: { $0[keyPath: path].description })
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}

/// An endpoint must name a ZeroMQ transport this runtime uses.
func endpointProblem(_ text: String) -> String? {
    let transports = ["tcp://", "ipc://", "inproc://"]
    guard transports.contains(where: { text.hasPrefix($0) }), text.count > 6 else {
        return "expected an endpoint starting with tcp://, ipc:// or inproc://"
    }
    return nil
}
