import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 for tests: answers each request with the next scripted
/// status (the last one repeats) and records what it received. Loopback only; it stops when released.
final class LoopbackHTTPServer: @unchecked Sendable {
    struct Received {
        let method: String
        let headers: [String: String]
        let body: Data
    }

    let port: UInt16
    private let socketFD: Int32
    private let lock = NSLock()
    private var statuses: [Int]
    private var received: [Received] = []
    private var stopped = false
    /// Sent as `Location` with 3xx answers (to test that redirects are not followed).
    private let location: String?

    init(statuses: [Int], location: String? = nil) throws {
        self.statuses = statuses
        self.location = location
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw TestFailure("bind/listen failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        socketFD = fd
        Thread.detachNewThread { [self] in serve() }
    }

    deinit { stop() }

    var url: String { "http://127.0.0.1:\(port)/hook" }
    var requests: [Received] { lock.lock(); defer { lock.unlock() }; return received }

    func stop() {
        lock.lock()
        let wasStopped = stopped
        stopped = true
        lock.unlock()
        if !wasStopped {
            shutdown(socketFD, Int32(SHUT_RDWR))
            close(socketFD)
        }
    }

    private func serve() {
        while true {
            let client = accept(socketFD, nil, nil)
            if client < 0 { return }
            handle(client)
            close(client)
        }
    }

    private func handle(_ client: Int32) {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var headerEnd: Range<Data.Index>?
        while headerEnd == nil {
            let n = read(client, &buffer, buffer.count)
            if n <= 0 { return }
            data.append(contentsOf: buffer[0..<n])
            headerEnd = data.range(of: Data("\r\n\r\n".utf8))
        }
        let head = String(decoding: data[..<headerEnd!.lowerBound], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst()
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        var body = Data(data[headerEnd!.upperBound...])
        while body.count < length {
            let n = read(client, &buffer, buffer.count)
            if n <= 0 { break }
            body.append(contentsOf: buffer[0..<n])
        }
        lock.lock()
        received.append(Received(method: String(requestLine.split(separator: " ").first ?? ""), headers: headers, body: body))
        let status = statuses.count > 1 ? statuses.removeFirst() : (statuses.first ?? 200)
        lock.unlock()
        let redirect = (300..<400).contains(status) ? location.map { "Location: \($0)\r\n" } ?? "" : ""
        let response = "HTTP/1.1 \(status) Status\r\n\(redirect)Content-Length: 2\r\nConnection: close\r\n\r\nok"
        _ = response.withCString { write(client, $0, strlen($0)) }
    }
}
