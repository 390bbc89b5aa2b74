import CWebhookHTTP
import Crypto
import Foundation

/// Pulls an image over the registry HTTP API v2 (the OCI distribution API) into an OCI layout
/// folder, which `ImageLoader` then reads like any other: the index or manifest, and for each
/// platform wanted its config and layers, every blob named by its digest (checked when read).
/// Authentication as Docker does it: the registry's 401 names a scheme; Bearer gets a token from
/// the realm it names (with the user's credentials when Docker's config.json has them), Basic
/// sends them directly.
public enum RegistryPull {
    static let manifestTypes = [
        "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json",
    ]
    /// Blobs past this are refused rather than downloaded for hours.
    static let blobLimit: Int64 = 64 << 30

    public static func pull(_ reference: ImageReference, into folder: URL, platform: PlatformFilter,
                            credentials: RegistryCredentials? = nil) throws {
        let client = RegistryClient(reference: reference,
                                    credentials: credentials ?? RegistryCredentials.lookup(registry: reference.registry),
                                    scratch: folder)
        let blobs = folder.appendingPathComponent("blobs/sha256")
        // Only this user reads what is pulled (the image may hold secrets; the token service's
        // answer passes through here too).
        try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: folder.path)
        let (top, mediaType) = try client.manifest(reference.reference, into: blobs)
        if let wanted = reference.digest, wanted != top.digest { throw ImageError.digestMismatch(wanted, actual: top.digest) }
        var fetched = Set<String>([top.digest])
        // A digest from the registry names a file here: only sha256:HEX is taken.
        func checked(_ digest: String) throws -> String {
            guard digest.hasPrefix("sha256:"), BlobStore.blobPath(digest) != nil else {
                throw ImageError.malformed("a manifest from \(reference.display)", why: "\(digest.prefix(100)) is not sha256:HEX")
            }
            guard fetched.count < ImageLoader.manifestLimit + 64 * ImageLoader.layerLimit else {
                throw ImageError.tooLarge(reference.display, why: "it names more blobs than any real image")
            }
            return digest
        }
        func fetchBlob(_ digest: String) throws {
            guard fetched.insert(try checked(digest)).inserted else { return }
            try client.blob(digest, into: blobs)
        }
        func fetchManifest(_ digest: String) throws -> [String: Any] {
            if fetched.insert(try checked(digest)).inserted { _ = try client.manifest(digest, into: blobs) }
            return try readJSON(blobs, digest)
        }
        func images(of manifest: [String: Any]) throws {
            if let config = (manifest["config"] as? [String: Any])?["digest"] as? String { try fetchBlob(config) }
            for layer in manifest["layers"] as? [[String: Any]] ?? [] {
                if let digest = layer["digest"] as? String { try fetchBlob(digest) }
            }
        }
        func walk(_ index: [String: Any], depth: Int) throws {
            guard depth < ImageLoader.depthLimit else { throw ImageError.tooLarge("index", why: "indexes nest too deep") }
            for descriptor in index["manifests"] as? [[String: Any]] ?? [] {
                guard let digest = descriptor["digest"] as? String else { continue }
                let notes = descriptor["annotations"] as? [String: Any] ?? [:]
                let described = (descriptor["platform"] as? [String: Any]).map(ConfigFacts.platform)
                let attestation = notes["vnd.docker.reference.type"] as? String == "attestation-manifest"
                    && (described == nil || described == "unknown/unknown")
                if !attestation, let described, !platform.accepts(described) { continue }
                let child = try fetchManifest(digest)
                if child["manifests"] != nil { try walk(child, depth: depth + 1) } else { try images(of: child) }
            }
        }
        let document = try readJSON(blobs, top.digest)
        if document["manifests"] != nil { try walk(document, depth: 0) } else { try images(of: document) }
        let index: [String: Any] = [
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [["mediaType": mediaType, "digest": top.digest, "size": top.size,
                           "annotations": ["io.containerd.image.name": reference.display]]],
        ]
        try JSONSerialization.data(withJSONObject: index).write(to: folder.appendingPathComponent("index.json"))
        try Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8).write(to: folder.appendingPathComponent("oci-layout"))
    }

    static func readJSON(_ blobs: URL, _ digest: String) throws -> [String: Any] {
        let data = try Data(contentsOf: blobs.appendingPathComponent(String(digest.dropFirst(7))))
        return try BlobStore.object(Array(data), what: "manifest \(digest)")
    }
}

/// A user name and password (or token) for one registry.
public struct RegistryCredentials: Sendable {
    public let user: String
    public let password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    /// From Docker's config.json (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`):
    /// `auths` (`auth` as base64 `user:password`, or `username` and `password`), else the
    /// credential helper `credHelpers` or `credsStore` names (`docker-credential-NAME get`).
    public static func lookup(registry: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> RegistryCredentials? {
        let folder = environment["DOCKER_CONFIG"] ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.docker")
        guard let data = FileManager.default.contents(atPath: folder + "/config.json"), data.count < (1 << 20),
              let config = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        let names = registry == "docker.io"
            ? ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"] : [registry, "https://\(registry)", "http://\(registry)"]
        if let auths = config["auths"] as? [String: Any] {
            for key in auths.keys {
                let host = key.replacingOccurrences(of: "https://", with: "").replacingOccurrences(of: "http://", with: "")
                guard names.contains(key) || names.contains(host) || host.hasPrefix(registry + "/"),
                      let entry = auths[key] as? [String: Any] else { continue }
                if let auth = entry["auth"] as? String, let decoded = Data(base64Encoded: auth).map({ String(decoding: $0, as: UTF8.self) }),
                   let colon = decoded.firstIndex(of: ":") {
                    return RegistryCredentials(user: String(decoded[..<colon]), password: String(decoded[decoded.index(after: colon)...]))
                }
                if let user = entry["username"] as? String, let password = entry["password"] as? String {
                    return RegistryCredentials(user: user, password: password)
                }
            }
        }
        let helper = (config["credHelpers"] as? [String: Any])?[registry] as? String ?? config["credsStore"] as? String
        if let helper, helper.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) {
            return fromHelper(helper, server: registry == "docker.io" ? "https://index.docker.io/v1/" : registry)
        }
        return nil
    }

    static func fromHelper(_ helper: String, server: String) -> RegistryCredentials? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["docker-credential-\(helper)", "get"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        input.fileHandleForWriting.write(Data(server.utf8))
        try? input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, data.count < (1 << 20),
              let answer = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let user = answer["Username"] as? String, let secret = answer["Secret"] as? String else { return nil }
        return RegistryCredentials(user: user, password: secret)
    }
}

/// The requests of one pull, with the authorization the registry asked for.
final class RegistryClient {
    let reference: ImageReference
    let credentials: RegistryCredentials?
    /// A folder only this user reads, for the token service's answer.
    let scratch: URL
    private var authorization: String?

    init(reference: ImageReference, credentials: RegistryCredentials?, scratch: URL) {
        self.reference = reference
        self.credentials = credentials
        self.scratch = scratch
    }

    /// A manifest or index, stored under its digest; returns digest, size and media type.
    func manifest(_ reference: String, into blobs: URL) throws -> ((digest: String, size: Int), String) {
        let scratch = blobs.appendingPathComponent("download-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let headers = try get("/manifests/\(reference)", accept: RegistryPull.manifestTypes, to: scratch,
                              limit: Int64(ImageLoader.documentLimit), what: "manifest \(reference)")
        let data = try Data(contentsOf: scratch)
        let digest = "sha256:" + SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        if reference.hasPrefix("sha256:"), reference != digest { throw ImageError.digestMismatch(reference, actual: digest) }
        let type = headers["content-type"].flatMap { $0.split(separator: ";").first }
            .map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        if let type, type.hasPrefix("application/vnd.docker.distribution.manifest.v1") {
            throw ImageError.registry(self.reference.display, why: "the registry sent a schema 1 manifest, which keyseal does not read")
        }
        try FileManager.default.moveItem(at: scratch, to: blobs.appendingPathComponent(String(digest.dropFirst(7))))
        return ((digest, data.count), type ?? "application/vnd.oci.image.manifest.v1+json")
    }

    func blob(_ digest: String, into blobs: URL) throws {
        guard let path = BlobStore.blobPath(digest), digest.hasPrefix("sha256:") else {
            throw ImageError.malformed("manifest", why: "\(digest.prefix(100)) is not a sha256 digest")
        }
        let target = blobs.appendingPathComponent(LayoutPath.split(path).name)
        _ = try get("/blobs/\(digest)", accept: ["*/*"], to: target, limit: RegistryPull.blobLimit, what: "blob \(digest)")
    }

    /// GETs `/v2/REPOSITORY` + `path`, authenticating once on a 401. Returns the answer's headers
    /// (lower-case names).
    func get(_ path: String, accept: [String], to file: URL, limit: Int64, what: String) throws -> [String: String] {
        let url = "\(reference.endpoint)/v2/\(reference.repository)\(path)"
        var (status, headers) = try Self.fetch(url, headers: requestHeaders(accept), to: file, limit: limit)
        if status == 401 {
            try authenticate(challenge: headers["www-authenticate"] ?? "")
            (status, headers) = try Self.fetch(url, headers: requestHeaders(accept), to: file, limit: limit)
        }
        switch status {
        case 200: return headers
        case 401:
            throw ImageError.registry(reference.display, why: credentials == nil
                ? "the registry asks for credentials (401) and none were found: docker login \(reference.registry), or add them to ~/.docker/config.json"
                : "the registry refused the credentials from Docker's config.json (401)")
        case 403: throw ImageError.registry(reference.display, why: "access denied (403) to \(what)")
        case 404: throw ImageError.registry(reference.display, why: "\(what) not found (404)")
        default: throw ImageError.registry(reference.display, why: "\(what): HTTP \(status)")
        }
    }

    private func requestHeaders(_ accept: [String]) -> [String] {
        ["Accept: " + accept.joined(separator: ", "), "User-Agent: keyseal"] + (authorization.map { ["Authorization: \($0)"] } ?? [])
    }

    /// Answers a 401's challenge: Basic with the credentials, or Bearer with a token from the realm.
    private func authenticate(challenge: String) throws {
        let scheme = challenge.split(separator: " ").first.map { $0.lowercased() } ?? ""
        let basic = credentials.map { "Basic " + Data("\($0.user):\($0.password)".utf8).base64EncodedString() }
        if scheme == "basic" {
            guard let basic else { return }
            authorization = basic
            return
        }
        guard scheme == "bearer" else {
            throw ImageError.registry(reference.display, why: "the registry asks for an authentication keyseal does not speak")
        }
        let fields = Self.challengeFields(challenge)
        // The credentials go to the realm: over https, unless the registry itself is on this machine.
        let local = reference.endpoint.hasPrefix("http://")
        guard let realm = fields["realm"], var components = URLComponents(string: realm),
              components.scheme == "https" || (local && components.scheme == "http") else {
            throw ImageError.registry(reference.display, why: "the registry's Bearer challenge names no usable realm (an https URL)")
        }
        var query = components.queryItems ?? []
        if let service = fields["service"] { query.append(URLQueryItem(name: "service", value: service)) }
        query.append(URLQueryItem(name: "scope", value: fields["scope"] ?? "repository:\(reference.repository):pull"))
        components.queryItems = query
        guard let tokenURL = components.url?.absoluteString else {
            throw ImageError.registry(reference.display, why: "the registry's token realm is not a URL")
        }
        let scratch = self.scratch.appendingPathComponent("token-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let (status, _) = try Self.fetch(tokenURL, headers: ["User-Agent: keyseal"] + (basic.map { ["Authorization: \($0)"] } ?? []),
                                         to: scratch, limit: 1 << 20)
        guard status == 200, let answer = try? JSONSerialization.jsonObject(with: Data(contentsOf: scratch)) as? [String: Any],
              let token = (answer["token"] as? String) ?? (answer["access_token"] as? String), !token.isEmpty else {
            throw ImageError.registry(reference.display, why: status == 401 || status == 403
                ? "the registry's token service refused \(credentials == nil ? "an anonymous pull" : "the credentials from Docker's config.json") (\(status))"
                : "the registry's token service gave no token (HTTP \(status))")
        }
        authorization = "Bearer \(token)"
    }

    /// `Bearer realm="…",service="…",scope="…"` as a dictionary.
    static func challengeFields(_ challenge: String) -> [String: String] {
        var fields: [String: String] = [:]
        guard let space = challenge.firstIndex(of: " ") else { return fields }
        var rest = challenge[challenge.index(after: space)...]
        while !rest.isEmpty, fields.count < 16 {
            rest = rest.drop { $0 == " " || $0 == "," }
            guard let equals = rest.firstIndex(of: "=") else { break }
            let key = rest[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                let end = rest.firstIndex(of: "\"") ?? rest.endIndex
                value = String(rest[..<end])
                rest = end < rest.endIndex ? rest[rest.index(after: end)...] : rest[end...]
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                value = String(rest[..<end])
                rest = rest[end...]
            }
            fields[key] = value
        }
        return fields
    }

    /// One GET through libcurl; the answer's status and headers (lower-case names, last value wins).
    static func fetch(_ url: String, headers: [String], to file: URL, limit: Int64) throws -> (Int, [String: String]) {
        var status = 0
        var error = [CChar](repeating: 0, count: 256)
        var received = [CChar](repeating: 0, count: 16 << 10)
        let copies = headers.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        let pointers = copies.map { UnsafePointer($0) }
        let result = keyseal_http_get(url, pointers, pointers.count, file.path, limit, 15_000, 60, &status,
                                      &received, received.count, &error, error.count)
        guard result == 0 else {
            let message = error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }  // Safe: 256 elements.
            throw ImageError.registry(String(url.prefix(200)), why: message)
        }
        let text = received.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }  // Safe: non-empty, NUL-terminated.
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (status, fields)
    }
}
