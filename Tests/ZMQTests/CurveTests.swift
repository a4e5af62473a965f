import Foundation
import XCTest
import ZMQ

final class CurveTests: XCTestCase {
    override func setUpWithError() throws {
        // A failure, not a skip: the CURVE options are part of the wrapper these tests prove.
        guard ZMQLibrary.has("curve") else {
            let message = "libzmq was built without CURVE: install a libzmq built with libsodium "
                + "(Debian/Ubuntu: apt-get install libzmq3-dev; scripts/setup.sh does)"
            XCTFail(message)
            throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: message])
        }
    }

    /// A REP server with CURVE on, bound to a fresh tcp port; returns its endpoint.
    private func curveServer(_ context: ZMQContext, keys: ZMQCurveKeyPair) throws -> (ZMQSocket, String) {
        let server = try ZMQSocket(context, type: .reply)
        try server.setOption(.curveServer, true)
        try server.setOption(.curveSecretKey, keys.secretKey)
        return (server, try Transport.tcp.bindFresh(server, in: self))
    }

    /// A REQ client that trusts `serverKey`, connected to `endpoint`.
    private func curveClient(_ context: ZMQContext, serverKey: String, endpoint: String) throws -> ZMQSocket {
        let keys = try ZMQCurveKeyPair.generate()
        let client = try ZMQSocket(context, type: .request)
        try client.setOption(.curveServerKey, serverKey)
        try client.setOption(.curvePublicKey, keys.publicKey)
        try client.setOption(.curveSecretKey, keys.secretKey)
        XCTAssertEqual(try client.option(.curvePublicKey), keys.publicKey)
        try client.connect(endpoint)
        return client
    }

    func testKeyPairsAreFreshZ85Text() throws {
        let first = try ZMQCurveKeyPair.generate()
        let second = try ZMQCurveKeyPair.generate()
        XCTAssertEqual(first.publicKey.utf8.count, 40)
        XCTAssertEqual(first.secretKey.utf8.count, 40)
        XCTAssertNotEqual(first, second)
        XCTAssertNotEqual(first.publicKey, first.secretKey)
    }

    func testClientWithServerKeyExchangesMessages() throws {
        let context = try ZMQContext()
        let serverKeys = try ZMQCurveKeyPair.generate()
        let (server, endpoint) = try curveServer(context, keys: serverKeys)
        XCTAssertTrue(try server.option(.curveServer))
        let client = try curveClient(context, serverKey: serverKeys.publicKey, endpoint: endpoint)

        try client.send(bytes("sealed request"), timeout: arrival)
        XCTAssertEqual(try server.receive(timeout: arrival), bytes("sealed request"))
        try server.send(bytes("sealed reply"), timeout: arrival)
        XCTAssertEqual(try client.receive(timeout: arrival), bytes("sealed reply"))
    }

    func testClientWithWrongServerKeyDoesNotGetThrough() throws {
        let context = try ZMQContext()
        let (server, endpoint) = try curveServer(context, keys: try ZMQCurveKeyPair.generate())
        let impostorKey = try ZMQCurveKeyPair.generate().publicKey
        let client = try curveClient(context, serverKey: impostorKey, endpoint: endpoint)

        try client.send(bytes("should not arrive"), timeout: .zero)
        let rejected = zmqError { () throws(ZMQError) in try server.receive(timeout: .milliseconds(500)) }
        XCTAssertTrue(rejected?.isTimeout ?? false, "handshake with a wrong key succeeded: \(String(describing: rejected))")
    }
}
