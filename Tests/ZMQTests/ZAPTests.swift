import XCTest
import ZMQ

/// The libzmq pieces a ZAP handler needs: the ZAP domain option, the `User-Id` the handler
/// gives a connection (read from each message), monitor events of a refused handshake, and
/// Z85 keys.
final class ZAPTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(ZMQLibrary.has("curve"), "libzmq built without CURVE")
    }

    /// A ROUTER CURVE server in `domain` and a DEALER client with fresh keys, both monitored;
    /// the test answers ZAP itself on `zap`.
    private func pair(_ context: ZMQContext, domain: String) throws -> (server: ZMQSocket, client: ZMQSocket, clientKey: String, monitor: ZMQMonitor) {
        let serverKeys = try ZMQCurveKeyPair.generate(), clientKeys = try ZMQCurveKeyPair.generate()
        let server = try ZMQSocket(context, type: .router)
        try server.setOption(.zapDomain, domain)
        XCTAssertEqual(try server.option(.zapDomain), domain)
        try server.setOption(.curveServer, true)
        try server.setOption(.curveSecretKey, serverKeys.secretKey)
        try server.setOption(.handshakeInterval, .seconds(5))
        XCTAssertEqual(try server.option(.handshakeInterval), .seconds(5))
        let endpoint = try Transport.tcp.bindFresh(server, in: self)
        let client = try ZMQSocket(context, type: .dealer)
        try client.setOption(.curveServerKey, serverKeys.publicKey)
        try client.setOption(.curvePublicKey, clientKeys.publicKey)
        try client.setOption(.curveSecretKey, clientKeys.secretKey)
        let monitor = try ZMQMonitor(client)
        try client.connect(endpoint)
        return (server, client, clientKeys.publicKey, monitor)
    }

    /// Receives one ZAP request on `zap` and answers it with `status` and `userID`.
    private func answer(_ zap: ZMQSocket, status: String, userID: String) throws -> [[UInt8]] {
        let request = try zap.receiveMultipart(timeout: arrival)
        try zap.sendMultipart([bytes("1.0"), request[1], bytes(status), bytes("text"), bytes(userID), []], timeout: arrival)
        return request
    }

    func testAdmittedConnectionCarriesTheHandlersUserID() throws {
        let context = try ZMQContext()
        let zap = try ZMQSocket(context, type: .reply)
        try zap.bind("inproc://zeromq.zap.01")
        let (server, client, clientKey, monitor) = try pair(context, domain: "control")
        try client.send(bytes("hello"), timeout: arrival)
        let request = try answer(zap, status: "200", userID: "actor-7")
        XCTAssertEqual(request[2], bytes("control"))
        XCTAssertEqual(request[5], bytes("CURVE"))
        XCTAssertEqual(request[6], ZMQCurveKeyPair.decodeZ85(clientKey))
        XCTAssertEqual(ZMQCurveKeyPair.encodeZ85(request[6]), clientKey)
        let (frames, userID) = try server.receiveMultipart(timeout: arrival, property: "User-Id")
        XCTAssertEqual(frames.last, bytes("hello"))
        XCTAssertEqual(userID, "actor-7", "read from the peer's frame, not the ROUTER's identity frame")
        XCTAssertEqual(try monitor.waitFor([.handshakeSucceeded, .handshakeFailedAuth], timeout: arrival)?.event, .handshakeSucceeded)
    }

    func testRefusedHandshakeIsReportedWithTheStatusAndDeliversNothing() throws {
        let context = try ZMQContext()
        let zap = try ZMQSocket(context, type: .reply)
        try zap.bind("inproc://zeromq.zap.01")
        let (server, client, _, monitor) = try pair(context, domain: "weights")
        try client.send(bytes("let me in"), timeout: arrival)
        _ = try answer(zap, status: "400", userID: "")
        let event = try monitor.waitFor([.handshakeSucceeded, .handshakeFailedAuth], timeout: arrival)
        XCTAssertEqual(event?.event, .handshakeFailedAuth)
        XCTAssertEqual(event?.value, 400)
        XCTAssertTrue(zmqError { () throws(ZMQError) in try server.receive(timeout: .zero) }?.isTimeout ?? false)
    }

    func testZ85RejectsWhatIsNotAKey() throws {
        let keys = try ZMQCurveKeyPair.generate()
        XCTAssertEqual(ZMQCurveKeyPair.decodeZ85(keys.publicKey)?.count, 32)
        XCTAssertEqual(ZMQCurveKeyPair.publicKey(forSecret: keys.secretKey), keys.publicKey)
        for bad in ["", String(keys.publicKey.dropLast()), keys.publicKey + "x", String(keys.publicKey.dropLast()) + " ",
                    String(keys.publicKey.dropLast()) + "é"] {
            XCTAssertNil(ZMQCurveKeyPair.decodeZ85(bad), bad)
            XCTAssertNil(ZMQCurveKeyPair.publicKey(forSecret: bad), bad)
        }
    }
}
