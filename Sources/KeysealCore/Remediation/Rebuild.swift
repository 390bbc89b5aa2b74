import CWebhookHTTP
import Crypto
import Foundation
import KeysealGit
import KeysealStore

/// A request to rebuild the images of one tag, because commits it contains hold secrets.
public struct RebuildRequest: Sendable, Codable, Equatable {
    public struct Reason: Sendable, Codable, Hashable {
        public let fingerprint: String
        public let rule: String
        public let provider: String
        /// The images `keyseal image` found this secret in (`IMAGE PLATFORM`), when the store has any:
        /// a rebuild should replace them, and `keyseal image NEW --verify` prove the new one clean.
        public var images: [String]? = nil
    }

    public let repository: String
    public let tag: String
    public let commit: String
    public let reasons: [Reason]
    public let requestedAt: String

    enum CodingKeys: String, CodingKey {
        case repository, tag, commit, reasons
        case requestedAt = "requested_at"
    }

    /// Identifies the set of secrets behind the request: a new secret makes a new request.
    var reasonsHash: String {
        var hasher = SHA256()
        for fingerprint in reasons.map(\.fingerprint).sorted() { hasher.update(data: Array(fingerprint.utf8)) }
        return hasher.finalize().prefix(12).map { String(format: "%02x", $0) }.joined()
    }

    /// The request body, byte for byte what is signed and sent.
    public func body() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

public enum RebuildPlanner {
    /// One request per tag that contains a commit holding an open or rotated secret. Scans first
    /// (incrementally, through the store).
    public static func plan(path: String, configFile: String?, store: StoreChoice) throws -> [RebuildRequest] {
        let repository = try Repository.open(path)
        let result = try HistoryScan.scan(ScanOptions(path: path, configFile: configFile, store: store), repository: repository)
        let affected = result.findings.filter { [.open, .rotated].contains($0.status ?? .open) }
        let commits = Set(affected.map(\.commit)).compactMap(ObjectID.init(hex:))
        let exposure = try repository.exposure(of: commits)
        var images: [String: [ImageOccurrence]] = [:]
        if case .none = store {} else { images = (try? Triage.imageOccurrences(repository: path, store: store)) ?? [:] }
        var reasons: [String: Set<RebuildRequest.Reason>] = [:]
        for finding in affected {
            guard let id = ObjectID(hex: finding.commit) else { continue }
            let holding = Array(Set((images[finding.fingerprint] ?? []).map { "\($0.image) \($0.platform)" })).sorted()
            for ref in exposure.containing[id] ?? [] where ref.hasPrefix("refs/tags/") {
                reasons[ref, default: []].insert(.init(fingerprint: finding.fingerprint, rule: finding.rule, provider: finding.provider,
                                                       images: holding.isEmpty ? nil : holding))
            }
        }
        let name = RepositoryName.of(repository)
        let now = Timestamp.iso8601UTC(Int64(Date().timeIntervalSince1970))
        return reasons.keys.sorted().map { ref in
            RebuildRequest(repository: name, tag: String(ref.dropFirst(10)), commit: exposure.tagCommits[ref]?.hex ?? "",
                           reasons: reasons[ref]!.sorted { $0.fingerprint < $1.fingerprint },  // Safe: iterating its keys.
                           requestedAt: now)
        }
    }
}

extension RebuildPlanner {
    /// One request per tag, in every repository of an organisation's store, whose commits hold an
    /// open or rotated secret: from the tags and commits scans recorded, so no clone is needed.
    public static func planOrganisation(store choice: StoreChoice) throws -> [RebuildRequest] {
        guard let store = try StoreOpener.open(choice, repository: nil, create: false) else { throw KeysealError.needsStore }
        let images = try store.imageOccurrences()
        struct Tag: Hashable { let repository, ref: String }
        var reasons: [Tag: Set<RebuildRequest.Reason>] = [:]
        var tagCommits: [Tag: String] = [:]
        for (summary, secret) in try store.repositorySecrets(statuses: [.open, .rotated]) {
            let holding = Array(Set((images[secret.fingerprint] ?? []).map { "\($0.image) \($0.platform)" })).sorted()
            // A shared store's rows come from many runners: only names a repository and a tag could
            // have reach a webhook or a command.
            guard StoredNames.isRepositoryName(summary.repository) else { continue }
            for ref in summary.refs where ref.hasPrefix("refs/tags/") && StoredNames.isTagRef(ref) {
                let tag = Tag(repository: summary.repository, ref: ref)
                tagCommits[tag] = summary.tagCommits[ref].flatMap { StoredNames.isCommitID($0) ? $0 : nil }
                reasons[tag, default: []].insert(.init(fingerprint: secret.fingerprint, rule: secret.rule, provider: secret.provider,
                                                       images: holding.isEmpty ? nil : holding))
            }
        }
        let now = Timestamp.iso8601UTC(Int64(Date().timeIntervalSince1970))
        return reasons.keys.sorted { ($0.repository, $0.ref) < ($1.repository, $1.ref) }.map { tag in
            RebuildRequest(repository: tag.repository, tag: String(tag.ref.dropFirst(10)), commit: tagCommits[tag] ?? "",
                           reasons: reasons[tag]!.sorted { $0.fingerprint < $1.fingerprint },  // Safe: iterating its keys.
                           requestedAt: now)
        }
    }
}

/// Sends rebuild requests: to a webhook (signed), to a command, or nowhere (dry run).
public struct RebuildDispatcher {
    public var webhook: URL?
    public var signingKey: Data?
    public var command: [String]?
    public var timeout: TimeInterval = 10
    public var retries = 3
    public var backoff: TimeInterval = 0.5
    public var force = false

    /// Bounds of `--timeout` and `--backoff` (seconds) and of `--retries`: beyond them the time
    /// arithmetic overflows (an infinite timeout crashed), and no webhook needs more.
    public static let maxSeconds: TimeInterval = 3600
    public static let maxRetries = 100

    public init() {}

    public struct Outcome: Sendable {
        public var sent: [String] = []
        public var skipped: [String] = []
        public var failed: [String] = []
    }

    /// Sends each request to each target; a request that already succeeded for a tag and the same
    /// secrets is skipped unless `force`. Successes are recorded in the store.
    public func dispatch(_ requests: [RebuildRequest], store choice: StoreChoice, repository: String,
                         log: (String) -> Void) throws -> Outcome {
        var outcome = Outcome()
        let store: FindingStore? = (choice == .none) ? nil : try Triage.openStore(repository: repository, store: choice, create: true)
        // Each request is recorded under its own repository (an org-wide rebuild spans many).
        // `shown` is what is printed; `key` identifies the target in the store. Neither holds a
        // webhook's user, password or query (see WebhookTarget).
        var targets: [(shown: String, key: String, legacyKey: String?, send: (RebuildRequest) -> Result<String, RebuildFailure>)] = []
        if let webhook {
            let target = WebhookTarget(webhook)
            targets.append(("webhook \(target.shown)", "webhook \(target.key)", "webhook \(webhook.absoluteString)", { post($0, to: webhook) }))
        }
        if let command { targets.append(("exec \(command.first ?? "")", "exec \(command.first ?? "")", nil, { run(command, for: $0) })) }
        for request in requests {
            for (target, key, legacyKey, send) in targets {
                if !force, let store,
                   try store.rebuildRequested(tag: request.tag, reasonsHash: request.reasonsHash, target: key, legacyTarget: legacyKey,
                                              repository: request.repository) {
                    outcome.skipped.append(request.tag)
                    log("\(request.tag): already requested for the same secrets (\(target)); --force to send again")
                    continue
                }
                switch send(request) {
                case .success(let detail):
                    outcome.sent.append(request.tag)
                    log("\(request.tag): \(detail)")
                    try store.map { store in
                        try store.recordRebuild(tag: request.tag, commit: request.commit, reasonsHash: request.reasonsHash, target: key,
                                              repository: request.repository)
                    }
                case .failure(let failure):
                    outcome.failed.append(request.tag)
                    log("\(request.tag): FAILED: \(failure.message)")
                }
            }
        }
        return outcome
    }

    public struct RebuildFailure: Error {
        let message: String
    }

    /// `X-Keyseal-Signature: sha256=<hex HMAC-SHA256 of the body>` when a signing key is set.
    public static func signature(of body: Data, key: Data) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: key))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// POSTs with retries: connection errors and 5xx are retried with exponential backoff; a 4xx is final.
    func post(_ request: RebuildRequest, to url: URL) -> Result<String, RebuildFailure> {
        guard let body = try? request.body() else { return .failure(.init(message: "cannot encode the request")) }
        // The CLI validates these; clamped here too, since a non-finite duration traps in the time arithmetic.
        let timeout = timeout.isFinite ? min(max(timeout, 0.001), Self.maxSeconds) : Self.maxSeconds
        let backoff = backoff.isFinite ? min(max(backoff, 0), Self.maxSeconds) : 0
        let retries = min(max(retries, 0), Self.maxRetries)
        var attempt = 0
        while true {
            var headers = ["Content-Type": "application/json", "User-Agent": "keyseal/\(KeysealVersion.current)"]
            if let signingKey { headers["X-Keyseal-Signature"] = Self.signature(of: body, key: signingKey) }
            let (status, error) = HTTPClient.post(url: url, headers: headers, body: body, timeout: timeout)
            let retryable: Bool
            let message: String
            if let status {
                if (200..<300).contains(status) { return .success("sent (HTTP \(status)) after \(attempt + 1) attempt(s)") }
                retryable = status >= 500
                // Redirects are never followed: the signed request would go to wherever the answer
                // points. A 3xx is a failure, and is not retried.
                message = (300..<400).contains(status) ? "HTTP \(status): redirect refused (keyseal does not follow redirects; give the final URL)" : "HTTP \(status)"
            } else {
                retryable = true
                message = error ?? "no response"
            }
            if !retryable || attempt >= retries {
                return .failure(.init(message: "\(message) after \(attempt + 1) attempt(s)"))
            }
            Thread.sleep(forTimeInterval: min(backoff * pow(2, Double(attempt)), Self.maxSeconds))
            attempt += 1
        }
    }

    /// Runs the command once for the tag: each word of the template is one argument, `{tag}`,
    /// `{commit}` and `{repository}` are substituted inside words, and no shell sees the result.
    /// The values are also in the environment (`KEYSEAL_TAG`, `KEYSEAL_COMMIT`,
    /// `KEYSEAL_REPOSITORY`). A word that the substitution makes start with `-` (a tag named
    /// `--upload-pack=…`) is refused, and the command not run: the command would take it as an
    /// option. Words after a `--` word are let through (operands), and through the environment
    /// the same value is only data.
    func run(_ template: [String], for request: RebuildRequest) -> Result<String, RebuildFailure> {
        let arguments = template.map {
            $0.replacingOccurrences(of: "{tag}", with: request.tag).replacingOccurrences(of: "{commit}", with: request.commit)
                .replacingOccurrences(of: "{repository}", with: request.repository)
        }
        // Words after a literal `--` are operands for any getopt-style command: those may start with `-`.
        let optionWords = zip(template, arguments).prefix { word, _ in word != "--" }
        for (word, argument) in optionWords where argument.hasPrefix("-") && !word.hasPrefix("-") {
            let what = word.hasPrefix("{repository}") ? ("repository name", "REPOSITORY") : ("tag", "TAG")
            return .failure(.init(message: "not run: the \(what.0) starts with '-', so it would reach the command as an option; "
                                  + "read $KEYSEAL_\(what.1) from the environment instead, or put -- before the arguments"))
        }
        guard let first = arguments.first else { return .failure(.init(message: "empty --exec command")) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["--"] + [first] + arguments.dropFirst()
        var environment = ProcessInfo.processInfo.environment
        environment["KEYSEAL_TAG"] = request.tag
        environment["KEYSEAL_COMMIT"] = request.commit
        environment["KEYSEAL_REPOSITORY"] = request.repository
        process.environment = environment
        do {
            try process.run()
        } catch {
            return .failure(.init(message: "cannot run \(first): \(error.localizedDescription)"))
        }
        process.waitUntilExit()
        return process.terminationStatus == 0
            ? .success("ran \(first)") : .failure(.init(message: "\(first) exited \(process.terminationStatus)"))
    }

    /// Splits an `--exec` template into words, honouring single and double quotes (no other shell syntax).
    public static func words(_ template: String) throws -> [String] {
        var words: [String] = []
        var current = ""
        var quote: Character? = nil
        var inWord = false
        for character in template {
            if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
            } else if character == "'" || character == "\"" {
                quote = character
                inWord = true
            } else if character == " " || character == "\t" {
                if inWord { words.append(current); current = ""; inWord = false }
            } else {
                current.append(character)
                inWord = true
            }
        }
        if quote != nil { throw KeysealError.usage("--exec: unbalanced quote in '\(template)'") }
        if inWord { words.append(current) }
        guard !words.isEmpty else { throw KeysealError.usage("--exec: the command is empty") }
        return words
    }
}

/// What keyseal prints and records about a webhook: `scheme://host[:port]/path`, never the user,
/// password, query or fragment, which may hold credentials.
struct WebhookTarget {
    let shown: String
    /// The target's key in the store: the shown form and a digest of the full URL, so two URLs
    /// that differ only in their query or credentials are two targets, and the store holds no
    /// credential in clear.
    let key: String

    init(_ url: URL) {
        let components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        var host = components?.percentEncodedHost ?? ""
        if host.contains(":") && !host.hasPrefix("[") { host = "[\(host)]" }  // IPv6
        shown = "\(components?.scheme ?? "")://\(host)\(components?.port.map { ":\($0)" } ?? "")\(components?.percentEncodedPath ?? "")"
        var hasher = SHA256()
        hasher.update(data: Array("keyseal-webhook\u{0}\(url.absoluteString)".utf8))
        key = shown + " #" + hasher.finalize().prefix(8).map { String(format: "%02x", $0) }.joined()
    }
}

/// A blocking HTTP POST through libcurl, loaded at run time (CWebhookHTTP): the release binary
/// then needs only the C library, where FoundationNetworking would link libcurl and its two dozen
/// dependencies into every run, for a command most runs never use.
enum HTTPClient {
    static func post(url: URL, headers: [String: String], body: Data, timeout: TimeInterval) -> (Int?, String?) {
        let lines = headers.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        var status = 0
        var error = [CChar](repeating: 0, count: 256)
        let result = withCStrings(lines) { pointers in
            body.withUnsafeBytes { bytes in
                keyseal_http_post(url.absoluteString, pointers, pointers.count, bytes.baseAddress, bytes.count,
                                  Int(min(timeout, 3600) * 1000), &status, &error, error.count)
            }
        }
        guard result == 0 else {
            let message = error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }  // Safe: 256 elements.
            return (nil, message)
        }
        return (status, nil)
    }

    /// C strings for the header lines, valid during `body`.
    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        return body(copies.map { UnsafePointer($0) })
    }
}

/// Checks on names read from a shared store before they go into a rebuild request (a webhook's
/// body, a command's arguments and environment).
enum StoredNames {
    /// `host/path` as RepositoryName writes it, or a `--repository` name: printable, no spaces, no
    /// leading `-`, no `.` or `..` component.
    static func isRepositoryName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 1024, !name.hasPrefix("-"),
              name.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F && !(0x80...0x9F).contains($0.value) }) else { return false }
        return !name.split(separator: "/", omittingEmptySubsequences: false).contains { $0 == "." || $0 == ".." }
    }

    /// A tag's ref as git allows it (git check-ref-format's rules).
    static func isTagRef(_ ref: String) -> Bool {
        guard ref.hasPrefix("refs/tags/"), ref.count > 10, ref.utf8.count <= 1024, !ref.hasSuffix("/"), !ref.hasSuffix("."),
              !ref.contains(".."), !ref.contains("@{"), !ref.contains("//"), ref != "@" else { return false }
        let forbidden: Set<UInt8> = [0x20, 0x7E, 0x5E, 0x3A, 0x3F, 0x2A, 0x5B, 0x5C, 0x7F]
        guard ref.utf8.allSatisfy({ $0 >= 0x20 && !forbidden.contains($0) }) else { return false }
        return !ref.split(separator: "/").contains { $0.hasPrefix(".") || $0.hasSuffix(".lock") || $0.hasPrefix("-") }
    }

    /// A commit id: 40 (SHA-1) or 64 (SHA-256) hex digits.
    static func isCommitID(_ id: String) -> Bool {
        (id.utf8.count == 40 || id.utf8.count == 64) && id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}
