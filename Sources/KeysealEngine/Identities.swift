/// The identity a secret is used with, from the same block of assignments: the username beside a
/// password, the client id beside a client secret. The identity is not secret, but only its name and
/// a short preview are kept, as for secrets.
enum Identities {
    enum Kind: Hashable {
        case password, clientSecret

        /// Lower-case name parts that make an assignment this kind's identity.
        var partnerNames: [String] {
            switch self {
            case .password: return ["username", "user_name", "user", "login", "usr", "uid", "account", "email"]
            case .clientSecret: return ["client_id", "clientid", "client-id", "app_id", "appid", "application_id",
                                        "key_id", "keyid", "access_key_id", "consumer_key", "api_key_id", "client_key"]
            }
        }
    }

    /// The kind of secret from the name it is assigned to (the text between line start and secret).
    static func kind(ofName name: [UInt8]) -> Kind? {
        let lower = String(decoding: name, as: UTF8.self).lowercased()
        if lower.contains("pass") || lower.contains("pwd") { return .password }
        if lower.contains("secret") { return .clientSecret }
        return nil
    }

    /// The name a secret is assigned to is looked for this far back on its line (a name is short;
    /// on a long line, reading back to its start for every secret was quadratic).
    static let nameReach = 256
    /// A neighbouring line is read this far for its assignment.
    static let lineReach = 1024

    /// Identities already worked out for one line of a buffer: what the neighbouring lines give
    /// depends only on the line and the kind, so many secrets on one line read them once.
    struct Cache {
        var lineStart = -1
        var results: [Kind: String?] = [:]
    }

    /// Lines up to 6 away, not across a blank line: `NAME = value` where NAME names the identity.
    /// `lineStart` is the start of the secret's line.
    static func identity(for match: EngineMatch, in bytes: UnsafeBufferPointer<UInt8>, lineStart: Int,
                         cache: inout Cache) -> String? {
        let nameStart = max(lineStart, match.secretStart - nameReach)
        guard let kind = kind(ofName: Array(bytes[nameStart..<match.secretStart])) else { return nil }
        if cache.lineStart != lineStart { cache = Cache(lineStart: lineStart, results: [:]) }
        if let known = cache.results[kind] { return known }
        /// The first identity assignment walking one way from the secret's line, stopping at a blank line.
        func nearest(_ next: (Int) -> Int?) -> (distance: Int, text: String)? {
            var position = lineStart
            for distance in 1...6 {
                guard let start = next(position) else { return nil }
                let end = min(Matcher.lineEnd(bytes, from: start), start + lineReach)
                let line = UnsafeBufferPointer(rebasing: bytes[start..<end])
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }) { return nil }
                if let found = assignment(line, kind: kind) { return (distance, found) }
                position = start
            }
            return nil
        }
        let below = nearest { let next = Matcher.lineEnd(bytes, from: $0) + 1; return next < bytes.count ? next : nil }
        let above = nearest { $0 > 0 ? Matcher.lineStart(bytes, before: $0 - 1) : nil }
        // The nearer of the two; above wins a tie.
        let best = [above, below].compactMap({ $0 }).min(by: { $0.distance < $1.distance })?.text
        cache.results[kind] = .some(best)
        return best
    }

    /// `NAME=value`, `name: value`, `"name": "value"`: the name and a 4-character preview when the
    /// name is an identity of `kind` (and not itself a secret's name).
    static func assignment(_ line: String, kind: Kind) -> String? {
        Array(line.utf8).withUnsafeBufferPointer { assignment($0, kind: kind) }
    }

    /// The same on a line's bytes: only the name and the value's first characters become text (a
    /// file of thousands of secrets looks at a dozen neighbouring lines for each).
    static func assignment(_ line: UnsafeBufferPointer<UInt8>, kind: Kind) -> String? {
        var text = line[...].drop { $0 == 0x20 || $0 == 0x09 }
        if text.starts(with: Array("export ".utf8)) { text = text.dropFirst(7) }
        text = text.drop { $0 == 0x22 || $0 == 0x27 }
        // Letters and digits (any non-ASCII byte counts as part of a letter), `_`, `-`, `.`.
        let nameBytes = text.prefix { $0 >= 0x80 || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39)
            || $0 == 0x5f || $0 == 0x2d || $0 == 0x2e }
        guard !nameBytes.isEmpty else { return nil }
        var rest = text.dropFirst(nameBytes.count).drop { $0 == 0x22 || $0 == 0x27 || $0 == 0x20 || $0 == 0x09 }
        guard let op = rest.first, op == 0x3d || op == 0x3a else { return nil }
        rest = rest.dropFirst().drop { $0 == 0x3d || $0 == 0x3e || $0 == 0x20 || $0 == 0x09 || $0 == 0x22 || $0 == 0x27 }
        let valueBytes = rest.prefix { $0 != 0x22 && $0 != 0x27 && $0 != 0x2c && $0 != 0x0d && $0 != 0x20 && $0 != 0x3b }
        guard !valueBytes.isEmpty else { return nil }
        // A secret's own name is no identity: checked on the bytes before any text is made.
        let lowerName = nameBytes.map { $0 >= 0x41 && $0 <= 0x5a ? $0 | 0x20 : $0 }
        let secretWords: [[UInt8]] = [Array("pass".utf8), Array("secret".utf8), Array("token".utf8)]
        if lowerName.withUnsafeBufferPointer({ bytes in secretWords.contains { Matcher.contains(bytes, 0..<bytes.count, $0) } }) {
            return nil
        }
        let name = String(decoding: nameBytes, as: UTF8.self)
        let value = String(decoding: valueBytes.prefix(16), as: UTF8.self)
        let lower = name.lowercased()
        guard !value.isEmpty,
              kind.partnerNames.contains(where: { lower == $0 || lower.hasSuffix("_" + $0) || lower.hasSuffix("." + $0)
                  || lower.hasSuffix("-" + $0) || lower.hasSuffix($0) && $0.count > 5 })
        else { return nil }
        return "\(name) (\(value.prefix(4))…)"
    }
}
