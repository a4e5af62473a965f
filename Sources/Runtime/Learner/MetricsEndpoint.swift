#if canImport(Glibc)
import Glibc
#endif
import CoreMetrics
import Foundation
import Prometheus

/// The learner's optional Prometheus endpoint (`metrics_port`): every number of the metrics
/// line is a swift-metrics gauge `shielddiff_<name>` in a swift-prometheus registry, served in
/// the text exposition format on `GET /metrics` by one thread of plain HTTP/1.0 on the socket.
final class MetricsEndpoint: @unchecked Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let lock = NSLock()
    private var gauges: [String: CoreMetrics.Gauge] = [:]
    private let listener: Int32
    /// The port it listens on.
    let port: Int

    /// Listens on `address`:`port` (IPv4) and serves for the life of the process.
    init(address: String, port: Int) throws {
        factory = PrometheusMetricsFactory(registry: registry)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RuntimeError("metrics endpoint: socket: \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, address, &addr.sin_addr) == 1 else {
            Glibc.close(fd)
            throw RuntimeError("metrics_address '\(address)' is not an IPv4 address")
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw RuntimeError("metrics endpoint: cannot listen on \(address):\(port): \(reason)")
        }
        listener = fd
        self.port = port
        let thread = Thread { [self] in serve() }
        thread.name = "metrics-http"
        thread.start()
    }

    /// Sets the gauge of every finite number (named as in metrics.jsonl, prefixed `shielddiff_`).
    func record(_ numbers: [String: Double]) {
        lock.lock()
        defer { lock.unlock() }
        for (name, value) in numbers where value.isFinite {
            let label = "shielddiff_" + name
            let gauge = gauges[label] ?? CoreMetrics.Gauge(label: label, factory: factory)
            gauges[label] = gauge
            gauge.record(value)
        }
    }

    private func serve() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            respond(client)
            Glibc.close(client)
        }
    }

    /// Reads the request head (at most 8 KiB, 2 s) and answers /metrics, 404 or 405.
    private func respond(_ client: Int32) {
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var head: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        while head.count < 8192, !head.containsHeadEnd {
            let n = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            head += chunk[0..<n]
        }
        let requestLine = String(decoding: head.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self).split(separator: " ")
        let status: String, body: [UInt8], type: String
        if requestLine.count >= 2, requestLine[0] == "GET", requestLine[1].split(separator: "?").first == "/metrics" {
            lock.lock()
            body = registry.emitToBuffer()
            lock.unlock()
            (status, type) = ("200 OK", "text/plain; version=0.0.4; charset=utf-8")
        } else if requestLine.first == "GET" {
            (status, body, type) = ("404 Not Found", Array("only /metrics is served\n".utf8), "text/plain")
        } else {
            (status, body, type) = ("405 Method Not Allowed", Array("only GET /metrics\n".utf8), "text/plain")
        }
        let response = Array("HTTP/1.0 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8) + body
        var sent = 0
        while sent < response.count {
            let n = response[sent...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }
}

private extension [UInt8] {
    var containsHeadEnd: Bool {
        count >= 4 && (0...(count - 4)).contains { self[$0] == 13 && self[$0 + 1] == 10 && self[$0 + 2] == 13 && self[$0 + 3] == 10 }
    }
}
