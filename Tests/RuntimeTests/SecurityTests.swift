import Foundation
import Runtime
import XCTest
import ZMQ

/// Key files, the allowlist and the ZAP decision, without sockets.
final class SecurityTests: XCTestCase {
    private var folder: String!

    override func setUpWithError() throws {
        folder = "/tmp/sd-keys-\(getpid())-\(UInt32.random(in: .min ... .max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: folder)
        super.tearDown()
    }

    private func write(_ name: String, _ text: String) throws -> String {
        let path = folder + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func errorText(_ body: () throws -> Void) -> String {
        do { try body() } catch { return "\(error)" }
        return "no error"
    }

    // MARK: - Key files

    func testKeyFilesRoundTripWithTheSecretPrivate() throws {
        let identity = try CurveIdentity.generate(role: .actor, name: "actor-3")
        let paths = try identity.write(to: folder)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: paths.secret)[.posixPermissions] as? Int, 0o600)
        XCTAssertEqual(try CurveIdentity.load(path: paths.secret), identity)
        XCTAssertEqual(try PublicKeyEntry.load(path: paths.public), identity.publicEntry)
        XCTAssertFalse(try String(contentsOfFile: paths.public, encoding: .utf8).contains(identity.keys.secretKey))
        XCTAssertTrue(errorText { try identity.write(to: folder) }.contains("exists"), "an existing key is never overwritten")
    }

    func testSecretKeyReadableByOthersIsRefusedWithTheFix() throws {
        let paths = try CurveIdentity.generate(role: .actor, name: "actor-0").write(to: folder)
        for mode in [0o644, 0o640, 0o604, 0o660] {
            chmod(paths.secret, mode_t(mode))
            let message = errorText { _ = try CurveIdentity.load(path: paths.secret) }
            XCTAssertTrue(message.contains(paths.secret) && message.contains("chmod 600 \(paths.secret)"), message)
        }
    }

    func testMalformedKeyFilesNameFileAndLine() throws {
        let keys = try ZMQCurveKeyPair.generate(), other = try ZMQCurveKeyPair.generate()
        let cases: [(String, String)] = [
            ("role actor\nname a\npublic \(keys.publicKey)\nsecret \(other.secretKey)\n", ":3: the public key does not belong"),
            ("role actor\nname a\npublic \(keys.publicKey)\nsecret short\n", ":4: not a CURVE secret key"),
            ("# c\nrole boss\nname a\npublic \(keys.publicKey)\nsecret \(keys.secretKey)\n", ":2: unknown role 'boss'"),
            ("role actor\nname a\npublic \(keys.publicKey)\n", "no 'secret' line"),
            ("role actor\nrole actor\n", ":2: 'role' is given twice"),
            ("role actor extra\n", ":1: expected 'role'"),
        ]
        for (index, (text, expected)) in cases.enumerated() {
            let path = try write("bad\(index).key", text)
            chmod(path, 0o600)
            let message = errorText { _ = try CurveIdentity.load(path: path) }
            XCTAssertTrue(message.contains(path) && message.contains(expected), "\(expected): \(message)")
        }
    }

    // MARK: - Allowlist

    func testAllowlistParsesCommentsAndRefusesBadLinesWithTheirLine() throws {
        let a = try ZMQCurveKeyPair.generate().publicKey, b = try ZMQCurveKeyPair.generate().publicKey
        let list = try Allowlist.parsing("# keys\n\n  actor actor-0 \(a)\nreward-worker reward-0 \(b)\n", source: "allow")
        XCTAssertEqual(list.entries.map(\.name), ["actor-0", "reward-0"])
        XCTAssertTrue(list.admits(name: "reward-0", role: .rewardWorker))
        XCTAssertFalse(list.admits(name: "reward-0", role: .actor))
        let cases: [(String, String)] = [
            ("actor actor-0 \(a)\nboss x \(b)\n", "allow:2: unknown role 'boss'"),
            ("# c\nactor actor-0\n", "allow:2: expected 'ROLE NAME KEY' (3 words), found 2"),
            ("actor actor-0 \(a)\nactor actor-1 \(a)\n", "allow:2: the same key as allow:1"),
            ("actor actor-0 \(a)\nactor actor-0 \(b)\n", "allow:2: name 'actor-0' is already used at allow:1"),
            ("actor a/b \(a)\n", "allow:1: name 'a/b' may hold only"),
            ("actor actor-0 \(a.dropLast())x!\n", "allow:1:"),
            ("actor actor-0 \(a.dropLast())\n", "is not a CURVE public key"),
            ("actor actor-0 \(a) # a comment\n", "allow:1: expected 'ROLE NAME KEY' (3 words), found 6"),
        ]
        for (text, expected) in cases {
            let message = errorText { _ = try Allowlist.parsing(text, source: "allow") }
            XCTAssertTrue(message.contains(expected), "\(expected): \(message)")
        }
    }

    // MARK: - ZAP decisions

    private func request(domain: String, mechanism: String = "CURVE", key: [UInt8]?, version: String = "1.0") -> [[UInt8]] {
        var frames = [Array(version.utf8), Array("7".utf8), Array(domain.utf8), Array("127.0.0.1".utf8), [], Array(mechanism.utf8)]
        if let key { frames.append(key) }
        return frames
    }

    func testZAPAdmitsAListedKeyOnlyOnItsRolesEndpoints() throws {
        let actor = try ZMQCurveKeyPair.generate(), worker = try ZMQCurveKeyPair.generate()
        let supervisor = try ZMQCurveKeyPair.generate(), stranger = try ZMQCurveKeyPair.generate()
        let list = try Allowlist([try PublicKeyEntry(role: .actor, name: "actor-0", publicKey: actor.publicKey),
                                  try PublicKeyEntry(role: .rewardWorker, name: "reward-0", publicKey: worker.publicKey),
                                  try PublicKeyEntry(role: .supervisor, name: "boss", publicKey: supervisor.publicKey)])
        func decide(_ keys: ZMQCurveKeyPair, _ endpoint: SecuredEndpoint) -> ZAPDecision {
            decideZAP(request(domain: endpoint.rawValue, key: ZMQCurveKeyPair.decodeZ85(keys.publicKey)), allowlist: list)
        }
        let expected: [(ZMQCurveKeyPair, String, [SecuredEndpoint])] = [
            (actor, "actor-0", [.control, .weights, .rewardFrontend]),
            (worker, "reward-0", [.rewardBackend]),
            (supervisor, "boss", [.control]),
        ]
        for (keys, name, allowed) in expected {
            for endpoint in SecuredEndpoint.allCases {
                let decision = decide(keys, endpoint)
                if allowed.contains(endpoint) {
                    XCTAssertEqual(decision.userID, name)
                    XCTAssertEqual(decision.replyFrames, [Array("1.0".utf8), Array("7".utf8), Array("200".utf8), Array("OK".utf8), Array(name.utf8), []])
                } else {
                    XCTAssertEqual(decision.refusal, .wrongRole, "\(name) on \(endpoint)")
                    XCTAssertEqual(decision.replyFrames[2], Array("400".utf8))
                    XCTAssertEqual(decision.replyFrames[4], [], "User-Id only with 200")
                }
            }
        }
        XCTAssertEqual(decide(stranger, .control).refusal, .unknownKey)
        XCTAssertEqual(decide(stranger, .control).replyFrames[4], [])
    }

    func testZAPAnswersEveryBadRequestWith400() throws {
        let actor = try ZMQCurveKeyPair.generate()
        let list = try Allowlist([try PublicKeyEntry(role: .actor, name: "actor-0", publicKey: actor.publicKey)])
        let key = ZMQCurveKeyPair.decodeZ85(actor.publicKey)!
        let cases: [([[UInt8]], ZAPRefusal)] = [
            (request(domain: "control", key: key, version: "2.0"), .malformed),
            (Array(request(domain: "control", key: key).prefix(4)), .malformed),
            ([], .malformed),
            (request(domain: "control", key: Array(key.prefix(31))), .malformed),
            (request(domain: "control", key: nil), .malformed),
            (request(domain: "control", key: key) + [[1]], .malformed),
            (request(domain: "elsewhere", key: key), .unknownDomain),
            (request(domain: "", key: key), .unknownDomain),
            (request(domain: "control", mechanism: "NULL", key: nil), .notCurve),
            (request(domain: "control", mechanism: "PLAIN", key: Array("user".utf8)), .notCurve),
        ]
        for (frames, refusal) in cases {
            let decision = decideZAP(frames, allowlist: list)
            XCTAssertEqual(decision.refusal, refusal, "\(frames)")
            XCTAssertEqual(decision.replyFrames.count, 6)
            XCTAssertEqual(decision.replyFrames[2], Array("400".utf8))
            XCTAssertNil(decision.userID)
        }
    }

    // MARK: - Safe default

    func testExposedEndpointsAreTheNonLoopbackTCPOnes() {
        var endpoints = RunConfig.Endpoints()
        XCTAssertEqual(endpoints.exposed, [])
        endpoints.control = "tcp://0.0.0.0:5555"
        endpoints.weights = "tcp://[::1]:5556"
        endpoints.rewardFrontend = "ipc:///tmp/x"
        endpoints.rewardBackend = "tcp://10.1.2.3:*"
        XCTAssertEqual(endpoints.exposed, ["tcp://0.0.0.0:5555", "tcp://10.1.2.3:*"])
        endpoints.control = "tcp://localhost:1"
        endpoints.rewardBackend = "inproc://b"
        XCTAssertEqual(endpoints.exposed, [])
    }
}
