import CommandSupport
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The learner's `/metrics` endpoint scraped during a real run (learner and actor processes,
/// test policy) and parsed by Python's `prometheus_client`, the reference parser of the text
/// exposition format: every finite number of an update's metrics line is a gauge of that value.
final class PrometheusEndpointTests: XCTestCase {
    private var run: RunHarness!

    override func tearDown() {
        run?.tearDown()
        super.tearDown()
    }

    /// Scrapes `url` and prints {name: value} of every sample, or the HTTP status of an error.
    static let script = #"""
        import json, sys, urllib.request, urllib.error
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError as e:
            sys.exit(f"Python package {e.name!r} is missing: scripts/setup.sh installs prometheus_client")
        try:
            response = urllib.request.urlopen(sys.argv[1], timeout=10)
        except urllib.error.HTTPError as e:
            print(json.dumps({"status": e.code})); sys.exit(0)
        text = response.read().decode()
        samples = {}
        for family in text_string_to_metric_families(text):
            assert family.type == "gauge", (family.name, family.type)
            for s in family.samples:
                samples[s.name] = s.value
        print(json.dumps({"status": response.status, "type": response.headers["Content-Type"], "samples": samples}))
        """#

    struct Scrape: Decodable {
        let status: Int
        let type: String?
        let samples: [String: Double]?
    }

    /// A free loopback port: bound by the system, then released for the learner.
    private func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &addr) { p in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                guard bind(fd, $0, length) == 0, getsockname(fd, $0, &length) == 0 else { throw POSIXError(.EADDRINUSE) }
            }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    func testMetricsAreScrapedDuringARun() throws {
        run = try RunHarness("prom")
        let port = try freePort()
        let config = try run.writeConfig("updates: 0\nactors: 1\nreward_workers: 0\nmetrics_port: \(port)\n")
        try run.startRole("learner", "learner", config: config)
        try run.startRole("actor-0", "actor", config: config, ["--instance", "actor-0"])
        run.waitUntil("three updates") { run.latestVersion() >= 4 }
        let url = "http://127.0.0.1:\(port)/metrics"

        func scrape(_ url: String) throws -> Scrape {
            try JSONDecoder().decode(Scrape.self, from: Data(try Python.run(Self.script, [url]).utf8))
        }
        let first = try scrape(url)
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(first.type, "text/plain; version=0.0.4; charset=utf-8")
        let samples = try XCTUnwrap(first.samples)
        let update = try XCTUnwrap(samples["shielddiff_update"], "\(samples.keys.sorted())")
        let line = try XCTUnwrap(run.metrics().first { ($0["update"] as? Double ?? Double($0["update"] as? Int ?? -1)) == update })
        var compared = 0
        for (key, value) in line {
            // `time` is the line's timestamp, not one of its numbers.
            guard key != "time", let number = (value as? NSNumber)?.doubleValue, !(value is String), number.isFinite else { continue }
            let scraped = try XCTUnwrap(samples["shielddiff_\(key)"], "no gauge for \(key)")
            XCTAssertEqual(scraped, number, accuracy: abs(number) * 1e-9, key)
            compared += 1
        }
        XCTAssertGreaterThan(compared, 20)

        // During the run: a later scrape sees later updates.
        run.waitUntil("two more updates") { run.latestVersion() >= Int(update) + 3 }
        let second = try XCTUnwrap(try scrape(url).samples)
        XCTAssertGreaterThanOrEqual(second["shielddiff_update"] ?? 0, update + 2)
        XCTAssertEqual(try scrape("http://127.0.0.1:\(port)/other").status, 404)

        run.signal("learner", SIGTERM)
        XCTAssertEqual(run.waitForExit(run.processes["learner"]!), 0, run.allLogs())
    }
}
