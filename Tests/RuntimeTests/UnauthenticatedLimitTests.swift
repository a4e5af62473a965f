import Foundation
import Runtime
import Wire
import XCTest
import ZMQ

/// `limits.max_unauthenticated_connections` on a real learner process over tcp loopback: raw
/// TCP connections that never handshake hold the slots, every connection beyond them is closed
/// by the learner at once (not after the handshake timeout), and a real peer joins as soon as
/// the idle connections go.
final class UnauthenticatedLimitTests: XCTestCase {
    private var run: RunHarness!

    override func tearDown() {
        run?.tearDown()
        super.tearDown()
    }

    /// A TCP connection to `endpoint` (tcp://127.0.0.1:PORT) that sends nothing.
    private func idleConnection(_ endpoint: String) throws -> Int32 {
        guard let port = UInt16(endpoint.split(separator: ":").last ?? "") else { throw RuntimeError("no port in \(endpoint)") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard fd >= 0, status == 0 else { throw RuntimeError("connect to \(endpoint): errno \(errno)") }
        return fd
    }

    /// The connections of `fds` the learner closes (EOF or reset): polled until `expected` are
    /// closed (or `timeout`), then one more second, so a surplus close is seen too. Bytes the
    /// learner sent first (its ZMTP greeting) are read and skipped.
    private func closedByLearner(_ fds: [Int32], expected: Int, timeout: Duration) -> Set<Int32> {
        var closed: Set<Int32> = []
        var deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 256)
        var extended = false
        while ContinuousClock.now < deadline {
            if closed.count >= expected, !extended { (deadline, extended) = (.now + .seconds(1), true) }
            var items = fds.filter { !closed.contains($0) }.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard !items.isEmpty, poll(&items, nfds_t(items.count), 50) > 0 else { continue }
            for item in items where item.revents != 0 {
                if recv(item.fd, &buffer, buffer.count, 0) <= 0 { closed.insert(item.fd) }
            }
        }
        return closed
    }

    func testConnectionsBeyondTheLimitAreDroppedAtOnceAndARealPeerJoinsWhenSlotsFree() throws {
        run = try RunHarness("unauth", transport: .tcp)
        // A long handshake timeout: whatever closes the extra connections within seconds is the limit.
        let path = try run.writeConfig("updates: 0\nliveness: 100\nlimits:\n  max_unauthenticated_connections: 4\n  handshake_timeout_ms: 120000\n")
        try run.startRole("learner", "learner", config: path)
        run.resolveEndpoints()
        let control = run.endpoints["control"]!

        let idle = try (0..<10).map { _ in try idleConnection(control) }
        defer { for fd in idle { close(fd) } }
        let closed = closedByLearner(idle, expected: 6, timeout: .seconds(20))
        XCTAssertEqual(closed.count, 6, "10 idle connections with room for 4: the 6 beyond must be closed")
        run.waitUntil("the learner logs the limit") { self.run.log("learner").contains("limits.max_unauthenticated_connections") }

        // While the 4 slots are held, a real peer's connections are dropped too: no WELCOME.
        let config = try RunConfig.loading(path: path)
        let context = try ZMQContext()
        let peer = try RawPeer(context, .dealer, connect: control)
        defer { try? peer.socket.close() }
        try peer.send(.hello(Hello(role: .actor, instanceID: "actor-0", pid: 1, policyVersion: 0, configDigest: config.configDigest)))
        XCTAssertNil(try? peer.socket.receive(timeout: .seconds(1)), "a peer was served while every handshake slot was held")

        // The idle connections go; the peer's next reconnect gets a slot. Its HELLO may have
        // gone with a dropped connection, so it says HELLO again until answered, as actors do.
        for fd in idle where !closed.contains(fd) { shutdown(fd, Int32(SHUT_RDWR)) }
        let deadline = ContinuousClock.now + .seconds(20)
        var welcomed = false
        while !welcomed, ContinuousClock.now < deadline {
            try peer.send(.hello(Hello(role: .actor, instanceID: "actor-0", pid: 1, policyVersion: 0, configDigest: config.configDigest)))
            let retry = ContinuousClock.now + .seconds(2)
            while !welcomed, ContinuousClock.now < retry {
                guard let frame = try? peer.socket.receive(timeout: .milliseconds(100)),
                      case .welcome = try Envelope(decoding: frame).payload else { continue }
                welcomed = true
            }
        }
        XCTAssertTrue(welcomed, "the peer was not welcomed after the idle connections closed")
    }
}
