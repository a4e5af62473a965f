/// A runtime failure that is not a config, wire or socket error; the message says what and why.
public struct RuntimeError: Error, CustomStringConvertible {
    /// The message.
    public let description: String
    /// An error with its message.
    public init(_ description: String) { self.description = description }
}
