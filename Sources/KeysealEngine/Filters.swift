import Foundation

/// Shannon entropy in bits per byte.
func shannonEntropy(_ bytes: UnsafeRawBufferPointer) -> Double {
    guard !bytes.isEmpty else { return 0 }
    var counts = [Int](repeating: 0, count: 256)
    for byte in bytes { counts[Int(byte)] += 1 }
    let total = Double(bytes.count)
    var entropy = 0.0
    for count in counts where count > 0 {
        let p = Double(count) / total
        entropy -= p * log2(p)
    }
    return entropy
}

/// Values that generic rules must not report: templates, references, obvious dummies.
enum PlaceholderFilter {
    static let markers: [String] = [
        "example", "sample", "dummy", "placeholder", "changeme", "change_me", "change-me", "replace", "your_",
        "your-", "yourpass", "<", ">", "${", "{{", "}}", "$(", "%(", "#{", "xxxx", "****", "....", "redacted",
        "todo", "fixme", "insert", "process.env", "os.environ", "getenv", "env[", "env(", "secrets.", "vault:",
        "notasecret", "not_a_secret", "fake", "mysecret", "my_secret", "password1", "passw0rd", "12345678",
        "abcdefgh", "qwerty", "secret123", "none", "null", "undefined", "<nil>", "true", "false", "test1234",
    ]

    /// Whole values that are development defaults, not secrets anyone issued.
    static let defaults: Set<String> = [
        "password", "passwd", "pass", "secret", "root", "admin", "administrator", "user", "username", "guest",
        "test", "testing", "postgres", "mysql", "redis", "rabbitmq", "mongo", "oracle", "changeit", "letmein",
        "default", "demo", "local", "dev", "development", "sa", "token", "apikey", "api_key",
    ]

    static func isPlaceholder(_ value: [UInt8], quoted: Bool) -> Bool {
        let lower = String(decoding: value, as: UTF8.self).lowercased()
        if defaults.contains(lower) { return true }
        if markers.contains(where: { lower.contains($0) }) { return true }
        if lower.hasPrefix("{") && lower.hasSuffix("}") { return true }
        if lower.hasPrefix("[") && lower.hasSuffix("]") { return true }
        if let first = value.first, value.allSatisfy({ $0 == first }) { return true }
        // `$VAR`, `%VAR%`, `@var`, `:symbol`, `&anchor`, `*alias`: references, not values.
        if let first = value.first, "$%@:&*".utf8.contains(first) { return true }
        if lower.hasSuffix("()") || lower.hasSuffix("(") { return true }
        if lower.hasPrefix("/") || lower.hasPrefix("./") || lower.hasPrefix("~/") { return true }
        if !quoted && isIdentifierPath(value) { return true }
        if isSingleCaseWord(value) { return true }
        if prefixes.contains(where: { lower.hasPrefix($0) }) { return true }
        return false
    }

    /// Values that begin like a name for a password rather than one.
    static let prefixes = ["pass", "pwd", "secret", "token", "changeme", "test", "sample", "user"]

    /// `WITHSCORES`, `ARG_TYPE_TOKEN`, `lib-name`: letters of one case and no digit are words and
    /// constants; issued secrets and chosen passwords mix cases or carry digits.
    static func isSingleCaseWord(_ value: [UInt8]) -> Bool {
        var upper = false, lower = false
        for byte in value {
            switch byte {
            case 0x41...0x5a: upper = true
            case 0x61...0x7a: lower = true
            case 0x5f, 0x2d, 0x2e: continue
            default: return false
            }
        }
        return !(upper && lower)
    }

    /// Lines that document a protocol with made-up values.
    static let lineMarkers: [[UInt8]] = ["example.com", "example.org", "example.net"].map { Array($0.utf8) }

    /// `config.db.password`, `settings_password`, `getPassword`: unquoted, these are variables.
    static func isIdentifierPath(_ value: [UInt8]) -> Bool {
        var lastWasDot = true
        for byte in value {
            let letter = (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || byte == 0x5f
            let digit = byte >= 0x30 && byte <= 0x39
            if byte == 0x2e {
                if lastWasDot { return false }
                lastWasDot = true
                continue
            }
            if lastWasDot && !letter { return false }
            if !letter && !digit { return false }
            lastWasDot = false
        }
        // A lone run of letters and digits could be a real unquoted password: only dotted paths and
        // snake_case / camelCase words of letters count as identifiers.
        let hasDot = value.contains(0x2e)
        let hasUnderscore = value.contains(0x5f)
        let digits = value.filter { $0 >= 0x30 && $0 <= 0x39 }.count
        return hasDot || (hasUnderscore && digits == 0)
    }
}

/// Names whose value is about a secret rather than the secret itself.
enum NameFilter {
    static let words: [String] = [
        "url", "uri", "path", "file", "name", "length", "len", "size", "count", "type", "field", "label",
        "policy", "expir", "endpoint", "header", "format", "prompt", "regex", "pattern", "enabled", "required",
        "min", "max", "timeout", "ttl", "version", "hint", "placeholder", "mode", "method", "store", "manager",
        "provider", "arn", "ref", "column", "param", "validator", "strength", "reset", "confirm", "changed",
        "created", "updated", "hash", "digest", "salt_rounds", "id",
    ]

    static func isNonSecretName(_ name: [UInt8]) -> Bool {
        let parts = String(decoding: name, as: UTF8.self)
            .replacingOccurrences(of: "([a-z])([A-Z])", with: "$1_$2", options: .regularExpression)
            .lowercased()
            .split(whereSeparator: { $0 == "_" || $0 == "-" || $0 == "." })
        return parts.contains { part in words.contains { part == $0 || (part.hasPrefix($0) && $0.count >= 5) } }
    }
}
