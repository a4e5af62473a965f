import Foundation
import XCTest
import ZMQ

/// The transports every round-trip test runs over.
enum Transport: CaseIterable {
    case inproc, ipc, tcp

    /// Binds `socket` to a fresh endpoint of this transport and returns the endpoint to connect to.
    /// inproc names and ipc paths are unique per call; tcp binds an ephemeral loopback port.
    func bindFresh(_ socket: ZMQSocket, in test: XCTestCase) throws -> String {
        switch self {
        case .inproc:
            let endpoint = "inproc://\(test.name.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString)"
            try socket.bind(endpoint)
            return endpoint
        case .ipc:
            let endpoint = "ipc://\(try temporaryDirectory(for: test))/\(UUID().uuidString.prefix(8)).sock"
            try socket.bind(endpoint)
            return endpoint
        case .tcp:
            try socket.bind("tcp://127.0.0.1:*")
            return try socket.lastEndpoint
        }
    }
}

/// A fresh short directory under /tmp (ipc paths are limited to ~107 bytes), removed after the test.
func temporaryDirectory(for test: XCTestCase) throws -> String {
    let path = "/tmp/zmqt-\(UUID().uuidString.prefix(12))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// The `ZMQError` thrown by `body`, or nil when it did not throw.
func zmqError<T>(_ body: () throws(ZMQError) -> T) -> ZMQError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// Bytes of a UTF-8 string, for readable test payloads.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Generous bound for messages that should arrive promptly on loopback.
let arrival: Duration = .seconds(2)
