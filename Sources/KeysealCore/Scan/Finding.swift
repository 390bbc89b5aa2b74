import _CryptoExtras
import Crypto
import Foundation
import Synchronization
import KeysealEngine
import KeysealGit
import KeysealStore

/// One occurrence of a secret: a rule's match in a blob, at one path, attributed to the earliest commit
/// that introduced that blob there.
public struct Finding: Sendable, Codable, Hashable {
    public let rule: String
    public let provider: String
    public let description: String
    /// 64 hex digits naming the secret, however many places it stands in (see `SecretText`).
    public let fingerprint: String
    /// At most the first 4 characters of the secret, then `…`; only `…` for a guessable secret.
    public let preview: String
    /// The clear secret: only when `--show-secrets` was given.
    public internal(set) var secret: String?
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
    /// Triage status from the store or baseline (nil when neither was consulted).
    public var status: SecretStatus?
    /// From the provider's built-in checksum: "high" when it verifies, "low" when it fails (still
    /// reported: it may be a test value); absent when the format has none.
    public var confidence: String?
    /// Found in a binary's printable text: the byte offset in the file (line and column are 0).
    public var byteOffset: Int?
    /// With `byteOffset`: the bytes the secret (or its encoded span) takes there; nil in records an
    /// earlier keyseal wrote.
    public var byteLength: Int?
    /// Found inside an encoded span (`base64`, `percent`, `json-escape`, `gzip`, chained with `+`):
    /// line and column are the encoded span's.
    public var encoding: String?
    /// The identity used with the secret, from the same block (`DB_USER (admi…)` beside a password,
    /// `CLIENT_ID (3f2a…)` beside a client secret): rotate the pair together.
    public var identity: String?
    /// Where the secret ends in a text file: the line of its last character and the column after it
    /// (SARIF's `endLine`, `endColumn`). Nil in a binary, for a secret decoded from an encoded span,
    /// and for records an earlier keyseal wrote.
    public var endLine: Int?
    public var endColumn: Int?
    /// Whether HEAD's tree holds this very blob at this path (nil when not checked: a hook's
    /// findings). False: the secret is only in history, and the file now at that path (if any) is
    /// another version, whose lines are not the ones reported.
    public var inHead: Bool?
    /// The note given with the triage decision (`keyseal triage … --note`, or the baseline's), when
    /// there is one: the justification reports carry with a rotated, false positive or accepted secret.
    public var triageNote: String?
    /// Found in a container image (`keyseal image`): which image, platform, layer or config entry.
    /// Then `commit` is empty and `path` is the file's path in the layer (or the config entry).
    public var image: ImagePlace?

    public init(rule: String, provider: String, description: String, fingerprint: String, preview: String, secret: String?,
                commit: String, author: String, email: String, date: String, path: String, line: Int, column: Int,
                blob: String, pairedWith: String?, status: SecretStatus? = nil, confidence: String? = nil,
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
        self.byteLength = detail?.byteLength
        self.encoding = detail?.encoding
        self.identity = detail?.identity
        self.endLine = detail?.endLine
        self.endColumn = detail?.endColumn
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
        MatchDetail(innerPath: nil, byteOffset: byteOffset, encoding: encoding, identity: identity, byteLength: byteLength,
                    endLine: endLine, endColumn: endColumn)
    }

    /// The confidence a checksum verdict gives.
    public static func confidence(checksumValid: Bool?) -> String? { checksumValid.map { $0 ? "high" : "low" } }

    public func with(status: SecretStatus) -> Finding {
        var copy = self
        copy.status = status
        return copy
    }

    func with(secret: String?) -> Finding {
        var copy = self
        copy.secret = secret
        return copy
    }

    /// False positives and accepted secrets no longer fail a scan or a hook.
    public var blocks: Bool { status?.blocks ?? true }

    enum CodingKeys: String, CodingKey {
        case rule, provider, description, fingerprint, preview, secret, commit, author, email, date, path, line, column,
             blob, status, confidence, encoding, identity
        case pairedWith = "paired_with"
        case inHead = "in_head"
        case endLine = "end_line"
        case endColumn = "end_column"
        case triageNote = "triage_note"
        case byteOffset = "byte_offset"
        case byteLength = "byte_length"
        case image
    }
}

/// A secret's fingerprint, with the one earlier versions gave it where the two differ.
public struct SecretPrint: Sendable, Hashable {
    public let fingerprint: String
    /// The legacy fingerprint (SHA-256 over rule id, a zero byte and the secret), kept only in memory
    /// to carry triage decisions over; nil when it is the fingerprint itself.
    public let legacy: String?
}

/// Fingerprints and previews. Two kinds of secret:
/// - **Guessable** secrets: every generic rule's (passwords, generic secrets, credentials in URIs and
///   connection strings), rules marked `guessable` (Basic credentials, keystore passwords…), and any
///   secret whose estimated strength (length × Shannon entropy per byte) is under 64 bits. Their
///   preview shows no character, and their fingerprint is PBKDF2-HMAC-SHA256 with a salt fixed per
///   rule, slow on purpose, so a report does not hand out a hash a wordlist cracks in a second.
/// - Everything else (provider tokens, keys: long and random): SHA-256 over rule id, a zero byte and
///   the secret, as before; the bulk of findings, and out of a wordlist's reach.
/// Either way the same secret has the same fingerprint in every repository and on every machine:
/// the salt depends on the rule only, never on the repository.
public enum SecretText {
    /// Secrets estimated below this many bits are guessable.
    public static let guessableBits = 64.0
    /// PBKDF2 rounds for guessable secrets: about 1.4 ms a derivation on one core of the test
    /// machine; each distinct secret is derived once per run (and not again by an incremental scan).
    /// Part of the fingerprint: changing it changes every guessable secret's fingerprint.
    public static let kdfRounds = 10_000
    /// Names the fingerprint scheme. The store keys its records by it (with the rules), so a change
    /// to the scheme rescans instead of mixing fingerprints of two schemes.
    public static let scheme = "fp2-pbkdf2-sha256-\(kdfRounds)-\(Int(guessableBits))"
    /// What a report shows of a guessable secret: nothing.
    public static let hidden = "…"

    /// Whether a secret is within a wordlist's or brute force's reach. `secret`: canonical bytes.
    public static func isGuessable(_ secret: [UInt8], rule: Rule) -> Bool {
        rule.generic || rule.guessable || estimatedBits(secret) < guessableBits
    }

    /// Length times Shannon entropy (bits per byte): under 64 for any secret of 16 bytes or fewer
    /// unless every byte differs, and for longer ones built from a few repeated characters.
    static func estimatedBits(_ secret: [UInt8]) -> Double {
        secret.withUnsafeBytes { shannonEntropy($0) } * Double(secret.count)
    }

    /// The fingerprint of every secret before the slow scheme: SHA-256 over `rule id`, a zero byte,
    /// and the secret's bytes. Still the fingerprint of secrets that are not guessable.
    public static func legacyFingerprint(rule: String, secret: [UInt8]) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(rule.utf8) + [0])
        hasher.update(data: secret)
        return hex(hasher.finalize())
    }

    /// The fingerprint of a secret found by `rule` (raw bytes, as matched), with its legacy one.
    public static func identify(rule: Rule, secret: [UInt8]) throws -> SecretPrint {
        let bytes = canonical(secret, rule: rule)
        let legacy = legacyFingerprint(rule: rule.id, secret: bytes)
        guard !bytes.isEmpty, isGuessable(bytes, rule: rule) else { return SecretPrint(fingerprint: legacy, legacy: nil) }
        if let known = derived.withLock({ $0[legacy] }) { return SecretPrint(fingerprint: known, legacy: legacy) }
        let key: SymmetricKey
        do {
            key = try KDF.Insecure.PBKDF2.deriveKey(from: bytes, salt: Array(("keyseal-fp-v2:" + rule.id).utf8),
                                                    using: .sha256, outputByteCount: 32, unsafeUncheckedRounds: kdfRounds)
        } catch {
            throw KeysealError.fingerprint(rule: rule.id, reason: "\(error)")
        }
        let fingerprint = key.withUnsafeBytes { hex($0) }
        derived.withLock { $0[legacy] = fingerprint }
        derivations.add(1, ordering: .relaxed)
        return SecretPrint(fingerprint: fingerprint, legacy: legacy)
    }

    /// Slow fingerprints already derived in this process, by legacy fingerprint (which names rule and
    /// secret without holding the secret).
    private static let derived = Mutex<[String: String]>([:])
    /// How many slow derivations this process made (traced with KEYSEAL_TRACE, counted by tests).
    public static let derivations = Atomic<Int>(0)

    /// One fingerprint per match, in order.
    static func identify(_ matches: [EngineMatch], rules: [Rule]) throws -> [SecretPrint] {
        try matches.map { try identify(rule: rules[$0.rule], secret: $0.secret) }
    }

    /// What a report shows of a secret found by `rule`: nothing when it is guessable, else `preview`.
    public static func preview(_ secret: [UInt8], rule: Rule) -> String {
        isGuessable(canonical(secret, rule: rule), rule: rule) ? hidden : preview(secret)
    }

    /// Keeps at most 4 characters, and never more than a quarter of the secret (for secrets that are
    /// not guessable: callers go through `preview(_:rule:)`).
    static func preview(_ secret: [UInt8]) -> String {
        let text = String(decoding: secret, as: UTF8.self)
        let keep = min(4, text.count / 4)
        return String(text.prefix(keep)) + "…"
    }

    private static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out = ""
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(Character(Unicode.Scalar(hexDigits[Int(byte >> 4)])))
            out.append(Character(Unicode.Scalar(hexDigits[Int(byte & 15)])))
        }
        return out
    }
    private static let hexDigits = Array("0123456789abcdef".utf8)

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

extension Finding {
    /// One occurrence from an engine match; the clear secret is kept only when asked.
    init(rule: Rule, match: EngineMatch, fingerprint: String, pairedWith: String?, commit: String,
         author: Signature?, path: String, blob: String, showSecret: Bool) {
        self.init(rule: rule.id, provider: rule.provider, description: rule.description, fingerprint: fingerprint,
                  preview: SecretText.preview(match.secret, rule: rule),
                  secret: showSecret ? String(decoding: match.secret, as: UTF8.self) : nil,
                  commit: commit, author: author?.name ?? "", email: author?.email ?? "",
                  date: author.map(Timestamp.iso8601) ?? "", path: path, line: match.line, column: match.column,
                  blob: blob, pairedWith: pairedWith, confidence: Finding.confidence(checksumValid: match.checksumValid),
                  detail: match.detail)
    }

    /// One occurrence of a secret the store recorded (a blob an earlier scan read): what is said of
    /// the secret comes from its record, which keeps no clear value.
    init(recorded secret: SecretRecord, commit: String, author: String, email: String, date: String, path: String,
         line: Int, column: Int, blob: String, pairedWith: String?, detail: MatchDetail?) {
        self.init(rule: secret.rule, provider: secret.provider, description: secret.description, fingerprint: secret.fingerprint,
                  preview: secret.preview, secret: nil, commit: commit, author: author, email: email, date: date, path: path,
                  line: line, column: column, blob: blob, pairedWith: pairedWith, confidence: secret.confidence, detail: detail)
    }
}

extension EngineMatch {
    /// Archive member, byte offset and encoding, as the store keeps them.
    var detail: MatchDetail? {
        let end = textEnd
        return MatchDetail(innerPath: innerPath, byteOffset: byteOffset, encoding: encoding, identity: identity, byteLength: byteLength,
                           endLine: end?.line, endColumn: end?.column)
    }

    /// The line of the secret's last character and the column after it, counted as `column` is (in
    /// Unicode code points); nil when the secret's bytes are not the file's at `line`:`column` (a
    /// binary's offset, a span decoded from base64 or the like).
    var textEnd: (line: Int, column: Int)? {
        guard byteOffset == nil, encoding == nil, line >= 1, column >= 1, !secret.isEmpty else { return nil }
        var line = self.line, column = self.column
        for scalar in String(decoding: secret, as: UTF8.self).unicodeScalars {
            if scalar == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }
    /// Found in an archive member, a compressed file or a binary: its lines are not the blob's, so a
    /// hook reports it whenever the blob is part of the change.
    var outsideBlobLines: Bool { innerPath != nil || byteOffset != nil || encoding?.hasPrefix("gzip") == true }

    /// The last line the secret spans (PEM bodies run over many).
    var endLine: Int { line + secret.reduce(0) { $0 + ($1 == 0x0a ? 1 : 0) } }
}
