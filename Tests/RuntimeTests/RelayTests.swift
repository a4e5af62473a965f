import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `shielddiff relay` as a real process between a real learner and real actors: the actors
/// take WEIGHTS from it over ipc, the run goes on while it is dead, and a restarted relay
/// serves again.
final class RelayTests: XCTestCase {
    private var run: RunHarness!

    override func tearDown() {
        run?.tearDown()
        super.tearDown()
    }

    func testActorsTakeWeightsFromTheRelayAndTheRunSurvivesItsDeath() throws {
        run = try RunHarness("relay", transport: .tcp)
        let learnerConfig = try run.writeConfig("updates: 0\n")
        try run.startRole("learner", "learner", config: learnerConfig)
        run.resolveEndpoints()
        let relayEndpoint = "ipc://\(run.directory.path)/node/weights.sock"
        let config = try run.writeConfig("updates: 0\n", file: "peers.yaml")
        let relayed = ["--set", "endpoints.weights_relay=\(relayEndpoint)"]
        try run.startRole("relay", "relay", config: config, relayed + ["--instance", "relay-0"])
        for name in ["actor-0", "actor-1"] {
            try run.startRole(name, "actor", config: config, relayed + ["--instance", name])
        }
        try run.startRole("reward-0", "reward-worker", config: config, ["--instance", "reward-0"])

        run.waitUntil("both actors install broadcast WEIGHTS from the relay") {
            ["actor-0", "actor-1"].allSatisfy { run.log($0).contains("first broadcast WEIGHTS") } && run.latestVersion() >= 6
        }
        for name in ["actor-0", "actor-1"] {
            XCTAssertTrue(run.log(name).contains("from relay \(relayEndpoint)"), run.log(name))
        }
        XCTAssertTrue(run.log("relay").contains("relayed v"), run.log("relay"))

        // With the relay dead, actors still get each new version on control.
        run.signal("relay", SIGKILL)
        _ = run.waitForExit(run.processes["relay"]!)
        let atDeath = run.latestVersion()
        run.waitUntil("5 more updates with the relay dead") { run.latestVersion() >= atDeath + 5 }

        // A restarted relay binds its endpoint again (the dead one's socket file is left) and serves.
        try run.startRole("relay", "relay", config: config, relayed + ["--instance", "relay-0"])
        run.waitUntil("the restarted relay relays") { run.log("relay").contains("relayed v") }
        run.signal("relay", SIGTERM)
        XCTAssertEqual(run.waitForExit(run.processes["relay"]!), 0, run.log("relay"))
        let summary = try XCTUnwrap(run.log("relay").split(separator: "\n").last { $0.contains("relay stopped:") })
        let count = try XCTUnwrap(Int(summary.split(separator: ":").last!.split(separator: " ").first!), String(summary))
        XCTAssertGreaterThan(count, 0, String(summary))
        run.signal("learner", SIGTERM)
        XCTAssertEqual(run.waitForExit(run.processes["learner"]!), 0, run.allLogs())
    }

    func testARelayRefusesAnEndpointOtherThanIPC() throws {
        run = try RunHarness("relaybad")
        let config = try run.writeConfig()
        let relay = try run.startRole("relay", "relay", config: config, ["--set", "endpoints.weights_relay=tcp://0.0.0.0:5999"])
        XCTAssertNotEqual(run.waitForExit(relay), 0)
        XCTAssertTrue(run.log("relay").contains("endpoints.weights_relay") && run.log("relay").contains("ipc://"), run.log("relay"))
        let missing = try run.startRole("relay-none", "relay", config: config)
        XCTAssertNotEqual(run.waitForExit(missing), 0)
        XCTAssertTrue(run.log("relay-none").contains("a relay needs endpoints.weights_relay"), run.log("relay-none"))
    }
}
