import Foundation
import XCTest

/// A real registry (Debian's `docker-registry`, the CNCF distribution server) on loopback with a
/// fixed config and a temporary storage folder; optionally behind htpasswd basic auth, or behind
/// the Bearer token flow with a small token service (Python, signing with openssl) the test runs.
final class RegistryServer {
    enum Auth { case none, basic, token }
    static let user = "ci"
    let password = "pw-" + UUID().uuidString.prefix(8)
    let folder: URL
    private(set) var port = 0
    private(set) var tokenPort = 0
    private var processes: [Process] = []

    static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/docker-registry") }

    init(auth: Auth) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-registry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("storage"), withIntermediateDirectories: true)
        var authSection = ""
        switch auth {
        case .none: break
        case .basic:
            let htpasswd = try TestRepository.run("/usr/bin/env", ["htpasswd", "-Bbn", Self.user, password], in: folder)
            try htpasswd.write(to: folder.appendingPathComponent("htpasswd"), atomically: true, encoding: .utf8)
            authSection = "auth:\n  htpasswd:\n    realm: keyseal-test\n    path: \(folder.path)/htpasswd\n"
        case .token:
            _ = try TestRepository.run("/usr/bin/env", ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem",
                                                      "-out", "cert.pem", "-days", "1", "-subj", "/CN=keyseal-test-token"], in: folder)
            tokenPort = try start(["python3", folder.appendingPathComponent("token.py").path], prepare: { port in
                try Self.tokenService(port: port, user: Self.user, password: self.password)
                    .write(to: self.folder.appendingPathComponent("token.py"), atomically: true, encoding: .utf8)
            }, probe: { "http://127.0.0.1:\($0)/health" })
            authSection = """
                auth:
                  token:
                    realm: http://127.0.0.1:\(tokenPort)/token
                    service: keyseal-test-registry
                    issuer: keyseal-test
                    rootcertbundle: \(folder.path)/cert.pem

                """
        }
        port = try start(["docker-registry", "serve", folder.appendingPathComponent("config.yml").path], prepare: { port in
            let config = """
                version: 0.1
                log:
                  level: error
                storage:
                  filesystem:
                    rootdirectory: \(self.folder.path)/storage
                http:
                  addr: 127.0.0.1:\(port)
                \(authSection)
                """
            try config.write(to: self.folder.appendingPathComponent("config.yml"), atomically: true, encoding: .utf8)
        }, probe: { "http://127.0.0.1:\($0)/v2/" })
    }

    deinit { stop() }

    func stop() {
        for process in processes where process.isRunning { process.terminate() }
        processes.removeAll()
        try? FileManager.default.removeItem(at: folder)
    }

    /// Starts a server on a free port (tried a few times), ready when `probe` answers at all.
    private func start(_ command: [String], prepare: (Int) throws -> Void, probe: (Int) -> String) throws -> Int {
        for _ in 0..<5 {
            let port = Int.random(in: 20_000...60_000)
            try prepare(port)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = command
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            for _ in 0..<100 {
                if !process.isRunning { break }
                let answer = try TestRepository.capture("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", probe(port)],
                                                        in: folder)
                if answer.stdout != "000" {
                    processes.append(process)
                    return port
                }
                usleep(100_000)
            }
            if process.isRunning { process.terminate() }
        }
        throw TestFailure("\(command[0]) did not start")
    }

    var host: String { "127.0.0.1:\(port)" }

    /// An `Authorization` header value for pushing (basic, or a token from the token service).
    func pushAuthorization(_ auth: Auth, repository: String) throws -> String? {
        switch auth {
        case .none: return nil
        case .basic: return "Basic " + Data("\(Self.user):\(password)".utf8).base64EncodedString()
        case .token:
            let out = try TestRepository.run("/usr/bin/curl", ["-s", "-u", "\(Self.user):\(password)",
                "http://127.0.0.1:\(tokenPort)/token?service=keyseal-test-registry&scope=repository:\(repository):pull,push"], in: folder)
            let token = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])?["token"] as? String, out)
            return "Bearer \(token)"
        }
    }

    /// Uploads an OCI layout's blobs (monolithic uploads), then its manifests by digest, then the
    /// top one under `tag`: the registry API as any client uses it.
    func push(layout: URL, repository: String, tag: String, authorization: String?) throws {
        let auth = authorization.map { ["-H", "Authorization: \($0)"] } ?? []
        let blobs = layout.appendingPathComponent("blobs/sha256")
        var manifests: [(digest: String, type: String, path: String)] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: blobs.path) {
            let path = blobs.appendingPathComponent(name).path
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], object["schemaVersion"] != nil,
               let type = object["mediaType"] as? String {
                manifests.append(("sha256:" + name, type, path))
                continue
            }
            let started = try TestRepository.run("/usr/bin/curl", ["-s", "-D", "-", "-o", "/dev/null", "-X", "POST"] + auth
                                                 + ["http://\(host)/v2/\(repository)/blobs/uploads/"], in: folder)
            let location = try XCTUnwrap(started.split(whereSeparator: \.isNewline).first { $0.lowercased().hasPrefix("location:") }, started)
                .dropFirst("location:".count).trimmingCharacters(in: .whitespacesAndNewlines)
            let url = (location.hasPrefix("http") ? location : "http://\(host)\(location)") + (location.contains("?") ? "&" : "?") + "digest=sha256:\(name)"
            let code = try TestRepository.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H",
                                                                "Content-Type: application/octet-stream", "--data-binary", "@\(path)"] + auth + [url], in: folder)
            XCTAssertEqual(code, "201", "blob upload")
        }
        // Children before the index that names them.
        manifests.sort { !$0.type.contains("index") && $1.type.contains("index") }
        let top = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(contentsOf: layout.appendingPathComponent("index.json")))
                                 as? [String: Any])?["manifests"] as? [[String: Any]])[0]["digest"] as? String
        for manifest in manifests {
            for reference in [manifest.digest] + (manifest.digest == top ? [tag] : []) {
                let code = try TestRepository.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H",
                                                                    "Content-Type: \(manifest.type)", "--data-binary", "@\(manifest.path)"] + auth
                                                  + ["http://\(host)/v2/\(repository)/manifests/\(reference)"], in: folder)
                XCTAssertEqual(code, "201", "manifest \(reference)")
            }
        }
    }

    /// The token service: checks the basic credentials (or none, for an anonymous pull it refuses)
    /// and answers a JWT signed RS256 by key.pem, with cert.pem in its x5c header, for the scope asked.
    static func tokenService(port: Int, user: String, password: String) -> String {
        """
        import base64, http.server, json, subprocess, time, urllib.parse, uuid, os
        folder = os.path.dirname(os.path.abspath(__file__))
        def b64(data): return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
        der = subprocess.run(["openssl", "x509", "-in", os.path.join(folder, "cert.pem"), "-outform", "DER"], capture_output=True, check=True).stdout
        expected = "Basic " + base64.b64encode(b"\(user):\(password)").decode()
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args): pass
            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                if url.path == "/health":
                    self.send_response(200); self.end_headers(); return
                if self.headers.get("Authorization") != expected:
                    self.send_response(401); self.end_headers(); return
                query = urllib.parse.parse_qs(url.query)
                access = []
                for scope in query.get("scope", []):
                    kind, name, actions = scope.split(":")
                    access.append({"type": kind, "name": name, "actions": actions.split(",")})
                now = int(time.time())
                header = {"alg": "RS256", "typ": "JWT", "x5c": [base64.b64encode(der).decode()]}
                claims = {"iss": "keyseal-test", "sub": "\(user)", "aud": query.get("service", [""])[0], "exp": now + 600,
                          "nbf": now - 60, "iat": now, "jti": str(uuid.uuid4()), "access": access}
                signing = (b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())).encode()
                signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", os.path.join(folder, "key.pem")],
                                           input=signing, capture_output=True, check=True).stdout
                body = json.dumps({"token": signing.decode() + "." + b64(signature)}).encode()
                self.send_response(200); self.send_header("Content-Type", "application/json"); self.end_headers(); self.wfile.write(body)
        http.server.HTTPServer(("127.0.0.1", \(port)), Handler).serve_forever()
        """
    }
}
