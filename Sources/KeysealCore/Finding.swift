import Crypto
import Foundation
import KeysealEngine
import KeysealStore

/// One occurrence of a secret: a rule's match in a blob, at one path, attributed to the earliest commit
/// that introduced that blob there.
public struct Finding: Sendable, Codable, Hashable {
    public let rule: String
    public let provider: String
    public let description: String
    /// SHA-256 (hex) over the rule id and the secret: one secret, however many places it stands in.
    public let fingerprint: String
    /// At most the first 4 characters of the secret, then `…`.
    public let preview: String
    /// The clear secret: only when `--show-secrets` was given.
    public let secret: String?
    public let commit: String
    public let author: String
    public let email: String
    /// Author date, ISO 8601 with the author's offset.
    public let date: String
    public let path: String
    public let line: Int
    public let column: Int
    public let blob: String
    /// The fingerprint of the other half of a paired secret (an AWS key id for its secret key).
    public let pairedWith: String?
    /// Triage status from the store or baseline: open, rotated, false-positive, accepted.
    public var status: String?
    /// From the provider's built-in checksum: "high" when it verifies, "low" when it fails (still
    /// reported: it may be a test value); absent when the format has none.
    public var confidence: String?
    /// Found in a binary's printable text: the byte offset in the file (line and column are 0).
    public var byteOffset: Int?
    /// Found inside an encoded span (`base64`, `percent`, `json-escape`, `gzip`, chained with `+`):
    /// line and column are the encoded span's.
    public var encoding: String?
    /// The identity used with the secret, from the same block (`DB_USER (admi…)` beside a password,
    /// `CLIENT_ID (3f2a…)` beside a client secret): rotate the pair together.
    public var identity: String?

    public init(rule: String, provider: String, description: String, fingerprint: String, preview: String, secret: String?,
                commit: String, author: String, email: String, date: String, path: String, line: Int, column: Int,
                blob: String, pairedWith: String?, status: String? = nil, confidence: String? = nil,
                detail: MatchDetail? = nil) {
        self.rule = rule
        self.provider = provider
        self.description = description
        self.fingerprint = fingerprint
        self.preview = preview
        self.secret = secret
        self.commit = commit
        self.author = author
        self.email = email
        self.date = date
        self.path = path + (detail?.innerPath.map { "!" + $0 } ?? "")
        self.byteOffset = detail?.byteOffset
        self.encoding = detail?.encoding
        self.identity = detail?.identity
        self.line = line
        self.column = column
        self.blob = blob
        self.pairedWith = pairedWith
        self.status = status
        self.confidence = confidence
    }

    /// `path:line:column`, `path@offset N` in a binary, with the encoding the secret was hidden in.
    public var place: String {
        let at = byteOffset.map { "\(path)@offset \($0)" } ?? "\(path):\(line):\(column)"
        return at + (encoding.map { " (\($0)-encoded)" } ?? "")
    }

    /// What an occurrence row keeps beyond path, line and column (the path already names any
    /// archive member).
    var occurrenceDetail: MatchDetail? {
        MatchDetail(innerPath: nil, byteOffset: byteOffset, encoding: encoding, identity: identity)
    }

    /// The confidence a checksum verdict gives.
    public static func confidence(checksumValid: Bool?) -> String? { checksumValid.map { $0 ? "high" : "low" } }

    public func with(status: String) -> Finding {
        var copy = self
        copy.status = status
        return copy
    }

    /// False positives and accepted secrets no longer fail a scan or a hook.
    public var blocks: Bool { status.flatMap(SecretStatus.init(rawValue:))?.blocks ?? true }

    enum CodingKeys: String, CodingKey {
        case rule, provider, description, fingerprint, preview, secret, commit, author, email, date, path, line, column,
             blob, status, confidence, encoding, identity
        case pairedWith = "paired_with"
        case byteOffset = "byte_offset"
    }
}

public enum SecretText {
    /// SHA-256 over `rule id`, a zero byte, and the secret's bytes.
    public static func fingerprint(rule: String, secret: [UInt8]) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(rule.utf8) + [0])
        hasher.update(data: secret)
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// One fingerprint per match, in order.
    static func fingerprints(_ matches: [EngineMatch], rules: [Rule]) -> [String] {
        matches.map { fingerprint(rule: rules[$0.rule].id, secret: canonical($0.secret, rule: rules[$0.rule])) }
    }

    /// Keeps at most 4 characters, and never more than a quarter of the secret.
    public static func preview(_ secret: [UInt8]) -> String {
        let text = String(decoding: secret, as: UTF8.self)
        let keep = min(4, text.count / 4)
        return String(text.prefix(keep)) + "…"
    }

    /// PEM bodies are compared without line breaks or `\n` escapes, so a key pasted into JSON and the
    /// same key in a `.pem` file are one secret.
    static func canonical(_ secret: [UInt8], rule: Rule) -> [UInt8] {
        guard case .block = rule.span else { return secret }
        var out: [UInt8] = []
        out.reserveCapacity(secret.count)
        var i = 0
        while i < secret.count {
            let byte = secret[i]
            if byte == 0x5c, i + 1 < secret.count, secret[i + 1] == 0x6e || secret[i + 1] == 0x72 {
                i += 2
                continue
            }
            if byte != 0x20 && byte != 0x0a && byte != 0x0d && byte != 0x09 { out.append(byte) }
            i += 1
        }
        return out
    }
}
