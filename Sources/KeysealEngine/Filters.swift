import Crypto
import Foundation

/// Shannon entropy in bits per byte.
public func shannonEntropy(_ bytes: UnsafeRawBufferPointer) -> Double {
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
        "abcdef", "123456", "\\(",
        // A value that names itself (`superSecretPa$$word`, `my-etcd-token-1`, `s3cr3t-t0k3n`) or
        // asks to be replaced (`your_api_key_here`) is a stand-in; generated credentials never spell words.
        "secret", "s3cr3t", "password", "ssword", "ssw0rd", "p@ss", "token", "t0k3n", "apikey", "api_key", "api-key",
        "_here", "-here", "1234", "abcd",
        // Keyboard runs typed as filler, like `qwerty` above (a join token in a guide, `…asdf…`).
        "asdf",
        // Truncated in documentation (`eyJ2Ijoi...`), code (`a || b`, `x && y`), an AWS SigV4 scope.
        "...", "||", "&&", "aws4_request", "npm:",
    ]

    /// Whole values that are development defaults, not secrets anyone issued.
    static let defaults: Set<String> = [
        "password", "passwd", "pass", "secret", "root", "admin", "administrator", "user", "username", "guest",
        "test", "testing", "postgres", "mysql", "redis", "rabbitmq", "mongo", "oracle", "changeit", "letmein",
        "default", "demo", "local", "dev", "development", "sa", "token", "apikey", "api_key",
    ]

    /// The markers as bytes, for a byte search: every candidate value of a generic rule passes here,
    /// and a String search per marker was most of the cost of a file holding thousands of them.
    static let markerBytes: [[UInt8]] = markers.map { Array($0.utf8) }
    static let prefixBytes: [[UInt8]] = prefixes.map { Array($0.utf8) }
    static let schemeSeparator = Array("://".utf8)
    static let longestDefault = defaults.map(\.utf8.count).max() ?? 0

    static func isPlaceholder(_ value: [UInt8], quoted: Bool) -> Bool {
        // ASCII letters lower-cased; the markers are ASCII, so other bytes compare as they are.
        let lower = value.map { $0 >= 0x41 && $0 <= 0x5a ? $0 | 0x20 : $0 }
        if lower.count <= longestDefault && defaults.contains(String(decoding: lower, as: UTF8.self)) { return true }
        if lower.withUnsafeBufferPointer({ bytes in
            markerBytes.contains { Matcher.contains(bytes, 0..<bytes.count, $0) }
        }) { return true }
        if lower.first == 0x7b && lower.last == 0x7d { return true }  // {…}
        if lower.first == 0x5b && lower.last == 0x5d { return true }  // […]
        if let first = value.first, value.allSatisfy({ $0 == first }) { return true }
        // `$VAR`, `%VAR%`, `@var`, `:symbol`, `&anchor`, `*alias`: references, not values.
        if let first = value.first, "$%@:&*".utf8.contains(first) { return true }
        if lower.last == 0x28 || (lower.count >= 2 && lower[lower.count - 2] == 0x28 && lower.last == 0x29) { return true }  // `(`, `()`
        if !quoted && lower.first == 0x2e { return true }  // `.caseName`: a Swift enum case, a member
        if lower.first == 0x2f || lower.starts(with: [0x2e, 0x2f]) || lower.starts(with: [0x7e, 0x2f]) { return true }  // `/`, `./`, `~/`
        if !quoted && (isIdentifierPath(value) || isCamelCaseIdentifier(value)) { return true }
        // `credentials: RegistryCredentials?`: an optional type in Swift, Kotlin, TypeScript or C#.
        if !quoted, value.count > 1, value.last == 0x3f, isCamelCaseIdentifier(Array(value.dropLast())) { return true }
        if isSingleCaseWord(value) || isConstantName(value) { return true }
        if isPathOfNames(value) || isEmptyPEMEnvelope(value) { return true }
        if isSecretName(lower) { return true }
        // `token_endpoint: https://…`: an address (credentials inside one are the URL rules' part).
        if lower.withUnsafeBufferPointer({ Matcher.contains($0, 0..<$0.count, schemeSeparator) }) { return true }
        if prefixBytes.contains(where: { lower.starts(with: $0) }) { return true }
        if isWords(value) || isNotACredential(value, lower) { return true }
        if let decoded = decodedText(value), decoded.count >= 4, isPlaceholder(decoded, quoted: true) { return true }
        return false
    }

    /// `GetSessionToken`, `StreamingDistributionList.NextMarker`, `Partner-Token`, `GID:user_list`,
    /// `KeyVaultDoesNotExist`: letters without a digit, in words (lower case, upper case, or camel
    /// humps with acronyms), joined by `.`, `-`, `_`, `:`, `/`, `\` or spaces, are names, quoted or
    /// not. A random token of letters alone mixes cases in short runs (`VpYdyabu`), which this rejects.
    static func isWords(_ value: [UInt8]) -> Bool {
        var letters = 0
        var part: [UInt8] = []
        for byte in value + [0x20] {
            if (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) {
                part.append(byte)
                continue
            }
            guard ".-_:/\\ ".utf8.contains(byte) else { return false }
            if !part.isEmpty && !isWordPart(part) { return false }
            letters += part.count
            part.removeAll(keepingCapacity: true)
        }
        return letters >= 4
    }

    /// One run of letters: all one case, or camel case (`nextPageToken`, `GetOpenIdToken`,
    /// `IDTokenResponse`): few capitals, words of three letters or more on average, each with a
    /// vowel but for one (`Db`, `Cfg`).
    static func isWordPart(_ part: [UInt8]) -> Bool {
        func isUpper(_ b: UInt8) -> Bool { b >= 0x41 && b <= 0x5a }
        let upper = part.filter(isUpper).count
        if upper == 0 || upper == part.count { return true }
        guard upper * 5 <= part.count * 2 else { return false }
        var words = 0, odd = 0, i = 0
        while i < part.count {
            // One word: capitals, then lower-case letters. Of a run of capitals followed by lower
            // case, the last capital starts the next word (`IDToken` is `ID`, `Token`).
            var caps = 0
            while i + caps < part.count, isUpper(part[i + caps]) { caps += 1 }
            if caps > 1, i + caps < part.count { caps -= 1 }
            var lowers = 0
            if caps <= 1 {
                while i + caps + lowers < part.count, !isUpper(part[i + caps + lowers]) { lowers += 1 }
            }
            let vowel = part[(i + caps)..<(i + caps + lowers)].contains { "aeiouy".utf8.contains($0) }
            if caps <= 1 && (lowers < 2 || !vowel) { odd += 1 }
            words += 1
            i += caps + lowers
        }
        return odd <= 1 && part.count >= words * 3
    }

    /// Values of a shape no credential has: numbers (timestamps, account ids, ports), dates, hex
    /// constants (`-0x3f879678`), URNs and ARNs (URLs are dropped before, by their `://`) (`urn:k8s:secret:name:key`, `arn:aws:iam::…`), code (`+authKey`, `+cfg.Dir`, `==h`),
    /// versions (`^9.0.1`).
    static func isNotACredential(_ value: [UInt8], _ lower: [UInt8]) -> Bool {
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        if value.allSatisfy(isDigit) { return true }
        if lower.starts(with: Array("urn:".utf8)) || lower.starts(with: Array("arn:".utf8)) { return true }
        if value.first == 0x3d || value.last == 0x3a { return true }  // `=…` is code, `…:` a label
        if value.first == 0x2b {  // `+name`: concatenation in code
            let rest = Array(value.dropFirst())
            if !rest.isEmpty && (isIdentifierPath(rest) || isCamelCaseIdentifier(rest) || isWords(rest)) { return true }
        }
        // `N.DOMImplementation=N.dom=N.DocumentType=…`: chained assignments in minified code.
        if isAssignmentChain(value) { return true }
        // `0x…` constants of up to 64 bits.
        var hex = lower[...]
        if hex.first == 0x2d { hex = hex.dropFirst() }
        if hex.starts(with: [0x30, 0x78]) && hex.count <= 18
            && hex.dropFirst(2).allSatisfy({ isDigit($0) || ($0 >= 0x61 && $0 <= 0x66) }) { return true }
        // Dates and times: `2016-09-24…`.
        if value.count >= 10 && value[0..<4].allSatisfy(isDigit) && value[4] == 0x2d && value[5..<7].allSatisfy(isDigit)
            && value[7] == 0x2d && value[8..<10].allSatisfy(isDigit) { return true }
        // Versions: `^1.2.3`, `~4.0`, `v2.10.1`, `1.2.3-beta`.
        var version = lower[...]
        while let c = version.first, c == 0x5e || c == 0x7e || c == 0x3e || c == 0x3d || c == 0x76 { version = version.dropFirst() }
        let dotted = version.prefix { isDigit($0) || $0 == 0x2e }
        if dotted.count == version.count || (dotted.count >= 3 && version.count > dotted.count && version[version.startIndex + dotted.count] == 0x2d) {
            if dotted.filter({ $0 == 0x2e }).count >= 1 && dotted.first.map(isDigit) == true { return true }
        }
        return false
    }

    /// Three or more identifiers joined by `=`, one of them a member (`a.b`): code, where base64 has
    /// `=` only as padding at its end and no `.`.
    static func isAssignmentChain(_ value: [UInt8]) -> Bool {
        let pieces = value.split(separator: 0x3d, omittingEmptySubsequences: false)
        guard pieces.count >= 3, pieces.contains(where: { $0.contains(0x2e) }) else { return false }
        return pieces.allSatisfy { piece in
            piece.split(separator: 0x2e, omittingEmptySubsequences: false).allSatisfy { name in
                guard let first = name.first, !(first >= 0x30 && first <= 0x39) else { return false }
                return name.allSatisfy { ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7a || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5f || $0 == 0x24 }
            }
        }
    }

    /// The text a base64 value decodes to, when it is printable text (`cGFzc3dvcmQ=` is `password`):
    /// documentation and fixtures encode their placeholders, while an issued secret decodes to bytes.
    static func decodedText(_ value: [UInt8]) -> [UInt8]? {
        guard value.count >= 8, value.count % 4 == 0 || !value.contains(0x3d),
              let raw = Base64Bytes.decode(value), !raw.isEmpty,
              raw.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) else { return nil }
        return raw
    }

    /// Values that begin like a name for a password rather than one.
    /// Words that make a name a secret's name. A value of letters and `_`/`-`/`.` alone that holds
    /// one (`"ClientSecret"` in `["SourceType": "ClientSecret", …]`, `api_token` in a list of field
    /// names) is a name, not a secret.
    static let secretNameWords: [[UInt8]] = ["password", "passwd", "secret", "token", "apikey", "api_key", "credential", "private_key", "access_key"].map { Array($0.utf8) }

    static func isSecretName(_ lower: [UInt8]) -> Bool {
        guard lower.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x5f || $0 == 0x2d || $0 == 0x2e }) else { return false }
        return lower.withUnsafeBufferPointer { bytes in secretNameWords.contains { Matcher.contains(bytes, 0..<bytes.count, $0) } }
    }

    static let prefixes = ["pass", "pwd", "secret", "token", "changeme", "test", "sample", "user"]

    /// `WITHSCORES`, `ARG_TYPE_TOKEN`, `lib-name`: letters of one case and no digit are words and
    /// constants; issued secrets and chosen passwords mix cases or carry digits.
    static func isSingleCaseWord(_ value: [UInt8]) -> Bool {
        var upper = false, lower = false
        for byte in value {
            switch byte {
            case 0x41...0x5a: upper = true
            case 0x61...0x7a: lower = true
            case 0x5f, 0x2d, 0x2e, 0x2f: continue
            default: return false
            }
        }
        return !(upper && lower)
    }

    /// `RFC2136_TSIG_ALGORITHM`, `YANDEX360_ORG_ID`, `F5XC_API_TOKEN`: upper-case snake case is a
    /// constant's or an environment variable's name, digits or not (`isSingleCaseWord` takes those
    /// without). Each part starts with a letter and changes between letters and digits at most twice
    /// (`RFC2136`, `F5XC`), and half the parts or more are letters alone; the random tail of a token
    /// (`GA1V87G1SW`) changes more often.
    static func isConstantName(_ value: [UInt8]) -> Bool {
        var parts = 0, wordParts = 0
        var part = 0, changes = 0, digits = 0, previousDigit = false
        for byte in value + [0x5f] {
            let digit = byte >= 0x30 && byte <= 0x39
            if byte == 0x5f {
                guard part > 0 else { return false }
                parts += 1
                if digits == 0 && part >= 2 { wordParts += 1 }
                part = 0; changes = 0; digits = 0
                continue
            }
            guard digit || (byte >= 0x41 && byte <= 0x5a) else { return false }
            if part == 0 && digit { return false }
            if part > 0 && digit != previousDigit { changes += 1 }
            guard changes <= 2 else { return false }
            if digit { digits += 1 }
            previousDigit = digit
            part += 1
        }
        return parts >= 2 && wordParts * 2 >= parts
    }

    /// `traefik/http/middlewares/Middleware02/basicAuth/users/0`, `aws/credentials/ec2rolecreds`,
    /// `grpclb/grpc_lb_v1`: names joined by `/` are a key in a KV store, a package or a file, not a
    /// secret. Every segment is a number or a name: parts (split at `_`, `-`, `.`) that start with a
    /// letter, hold fewer digits than letters (a number at the end aside) and whose runs of letters are
    /// words (`isWordPart`). Base64, whose alphabet has `/`, mixes cases in short runs; hex has about
    /// as many digits as letters. (A lower-case token of letters and digits split by `/` would pass.)
    static func isPathOfNames(_ value: [UInt8]) -> Bool {
        guard value.contains(0x2f) else { return false }
        var named = 0, letters = 0
        for segment in value.split(separator: 0x2f, omittingEmptySubsequences: false) {
            if segment.isEmpty { return false }
            if segment.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { continue }
            for piece in segment.split(omittingEmptySubsequences: false, whereSeparator: { $0 == 0x5f || $0 == 0x2d || $0 == 0x2e }) {
                if piece.isEmpty { continue }
                var pieceLetters = 0, pieceDigits = 0
                var run: [UInt8] = []
                for byte in piece + [0x30] {
                    if (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) {
                        run.append(byte)
                        pieceLetters += 1
                    } else if byte >= 0x30 && byte <= 0x39 {
                        if !run.isEmpty && !isWordPart(run) { return false }
                        run.removeAll(keepingCapacity: true)
                        pieceDigits += 1
                    } else {
                        return false
                    }
                }
                pieceDigits -= 1  // the sentinel
                guard let first = piece.first, !(first >= 0x30 && first <= 0x39) || pieceLetters == 0 else { return false }
                // A number at the end (`v1`, `Middleware02`) is a version or an index.
                let trailing = piece.reversed().prefix { $0 >= 0x30 && $0 <= 0x39 }.count
                if pieceLetters > 0 && pieceDigits > trailing && pieceDigits >= pieceLetters { return false }
                letters += pieceLetters
            }
            named += 1
        }
        return named >= 2 && letters >= 8
    }

    /// `LS0tLS1CRUdJTi…`: base64 of PEM armour lines with nothing between them
    /// (`-----BEGIN PRIVATE KEY-----` and its END line, or a header cut short in documentation), what
    /// fixtures and manifests hold where a key would be. A real key's base64 carries its body.
    static func isEmptyPEMEnvelope(_ value: [UInt8]) -> Bool {
        guard value.count >= 20, value.starts(with: Array("LS0tLS".utf8)), let raw = Base64Bytes.decode(value) else { return false }
        var armour = 0
        for line in raw.split(whereSeparator: { $0 == 0x0a || $0 == 0x0d }) {
            let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            guard text.hasPrefix("-----BEGIN ") || text.hasPrefix("-----END ") else { return false }
            armour += 1
        }
        return armour > 0
    }

    /// Lines that document a protocol with made-up values.
    static let lineMarkers: [[UInt8]] = ["example.com", "example.org", "example.net"].map { Array($0.utf8) }

    /// `showSecrets`, `UnsafeBufferPointer`, `ecTestKey256`: unquoted letters in camel humps (each hump a capital and
    /// two or more lower-case letters) are a name in code, not a value.
    static func isCamelCaseIdentifier(_ value: [UInt8]) -> Bool {
        // A number after it (`ecTestKey256`, `KeyInfoV1`, `Handler2`) leaves a name a name.
        var value = value[...]
        var digits = 0
        while let last = value.last, last >= 0x30 && last <= 0x39 { value.removeLast(); digits += 1 }
        if digits > 0, let last = value.last, last >= 0x41 && last <= 0x5a { value.removeLast() }
        guard value.count >= 6, value.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) }) else { return false }
        var humps = 0, run = 0
        for (i, byte) in value.enumerated() {
            if byte <= 0x5a {
                if i > value.startIndex && run < 2 { return false }
                humps += 1
                run = 0
            } else {
                run += 1
            }
        }
        return humps >= 1 && run >= 2 && (value[value.startIndex] >= 0x61 || humps >= 2)
    }

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
        "created", "updated", "hash", "digest", "salt_rounds", "id", "public", "publishable", "cache", "sort",
        "primary", "foreign", "partition", "idempotency", "object", "lookup", "shortcut", "hotkey", "i18n",
        "translation", "locale", "identifier",
    ]

    static let wordBytes: [[UInt8]] = words.map { Array($0.utf8) }

    /// Last words that make a provider's name an identifier or a setting, not its secret
    /// (`ACME_ACCOUNT_ID`, `acmeHost`, `ACME_KEY_FILE`), for rules given by a name and a value shape:
    /// there only the last word counts (`ACME_ACCOUNT_KEY` is a secret).
    static let lastWords: Set<[UInt8]> = Set((words + [
        "host", "hostname", "user", "username", "login", "email", "mail", "region", "account", "domain", "project",
        "org", "organization", "tenant", "zone", "bucket", "index", "env", "environment", "dir", "directory", "sid",
        "uuid", "guid", "number", "no", "code", "public", "publishable", "pub", "site", "port", "addr", "address",
        "ids", "urls", "names", "owner", "team", "group", "workspace", "channel", "queue", "topic", "model",
    ]).map { Array($0.utf8) })

    /// Whether the name's last word (split as `isNonSecretName` splits) is one of `lastWords`.
    static func endsWithNonSecretWord(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        var end = name.count
        while end > 0, let c = Optional(name[end - 1]), c == 0x5f || c == 0x2d || c == 0x2e { end -= 1 }
        var start = end
        while start > 0 {
            let c = name[start - 1]
            if c == 0x5f || c == 0x2d || c == 0x2e { break }
            start -= 1
            // A hump: an upper-case letter after a lower-case one starts the word.
            if c >= 0x41 && c <= 0x5a && start > 0 && name[start - 1] >= 0x61 && name[start - 1] <= 0x7a { break }
        }
        guard end > start else { return false }
        let word = name[start..<end].map { $0 >= 0x41 && $0 <= 0x5a ? $0 | 0x20 : $0 }
        return lastWords.contains(word)
    }

    /// Whether a part of the name (split at `_`, `-`, `.` and camelCase humps, lower-cased) is one of
    /// `words`, or starts with one of five letters or more. On bytes: every candidate of a named
    /// rule passes here (a regex built per call was a seventh of a scan of thousands of matches).
    static func isNonSecretName(_ name: [UInt8]) -> Bool {
        var part: [UInt8] = []
        part.reserveCapacity(name.count)
        func matches() -> Bool {
            wordBytes.contains { part == $0 || ($0.count >= 5 && part.starts(with: $0)) }
        }
        var previousLower = false
        for byte in name {
            let isUpper = byte >= 0x41 && byte <= 0x5a
            if byte == 0x5f || byte == 0x2d || byte == 0x2e || (isUpper && previousLower) {
                if !part.isEmpty && matches() { return true }
                part.removeAll(keepingCapacity: true)
            }
            previousLower = byte >= 0x61 && byte <= 0x7a
            if byte != 0x5f && byte != 0x2d && byte != 0x2e { part.append(isUpper ? byte | 0x20 : byte) }
        }
        return !part.isEmpty && matches()
    }
}

/// keyseal's own example templates (`⟪an:32⟫`), which its rule files are full of: a value holding
/// either bracket is never a credential.
enum TemplateMarkers {
    static func contains(_ secret: UnsafeBufferPointer<UInt8>) -> Bool {
        guard secret.count >= 3 else { return false }
        for i in 0..<(secret.count - 2) where secret[i] == 0xe2 && secret[i + 1] == 0x9f
            && (secret[i + 2] == 0xaa || secret[i + 2] == 0xab) {
            return true
        }
        return false
    }
}

/// Credentials published as examples in RFCs and provider documentation (OAuth 1.0 and 2.0 RFC
/// examples, AWS's documented example keys): never live, yet copied into code and docstrings
/// everywhere. Kept as SHA-256 digests so that no such value is a literal in this repository.
enum PublishedExamples {
    static let digests: Set<String> = [
        "6c96130f130ab0d6d158397e24d2bcc1c9a5e73ae081f6e983f1c7b545d24a4c",  // RFC 6749 access token
        "00cf4c781dc37003f7c7dd7d4c9a6ef1e0f4c62d9a291aa8bc398774e3fefd32",  // RFC 6749 refresh token
        "a35b81a7d7927b70ec99270dd2362b88580a28574af812f2c02f56469579186f",  // RFC 6749 authorization code
        "e9974c507d2a802143f614c878fcbb622a3800e05e6e0d329fee2c5b6b243329",  // RFC 6749 client secret
        "a71b359a87afde133e6d9731de69f8823d62b012072d43749f5dc976505403f5",  // RFC 6750 bearer token
        "b8e148545b13c78bc74da2f1a7275dd71e56ddece129d7d2f7b3ecc06f7994da",  // RFC 6750 bearer token
        "2ff8b0fb93aca981c78f1e94355c298c23435461f1072ef4674848e620371787",  // RFC 5849 token
        "9d03b692e941d5ace207a9f8048834439f6de98e5c6c1590c22c4f4577c88a42",  // RFC 5849 token
        "cb87c87e4a138d9a72259d2a01bab15623c9846e568c1509b287721645a6ea53",  // RFC 5849 client secret
        "4c20e6f5cc11b93731e74cbe20739821d61c3563c9f50ecb884a27cd369f01fb",  // RFC 5849 temporary token
        "6aa14267d94944e6b6483c81f5ad37f87bbc7e88aa368d4aba1e71e0b79cd8c4",  // RFC 5849 temporary secret
        "bb9b1163338b2a51495834ad5c65420443d6327381cf0f94ebf92b117f209d72",  // RFC 5849 token
        "649e1f5c769e718ba10d1a702a36499a731441d960b06da91c4c97786bf84595",  // RFC 5849 token secret
        "293257ab6495ebb11cf9e4aee0686ca30df8de2ab8d251f2cbbcf177bdfcae91",  // RFC 5849 client key
        "5586407997f5e8492fa0d6d310460386c80cc3542de6c876f75582bc219d4b82",  // RFC 5849 verifier
        "80f8b7c904d4a43f3b7036db73247daafe15b3f647b337d19031ff67b7c1a177",  // RFC 5849 client key
        "c20fbc2b96183894fb46187909d02afbef5b1b56398ece2a653745dbfb407553",  // RFC 5849 client secret
        "b87dad10a32a2d81aa2e36e31e258b36ac0c3b07d1c1d5837185e206e17e3a06",  // RFC 5849 token secret
        "1a5d44a2dca19669d72edf4c4f1c27c4c1ca4b4408fbb17f6ce4ad452d78ddb3",  // AWS documentation key id
        "78314b11be2e581549ac1c4f616563fad3fdf0c3b71678f6e2299182080e0598",  // AWS documentation secret key
    ]

    /// The digests as bytes: hex-formatting every candidate's digest cost more than hashing it.
    static let digestBytes: Set<[UInt8]> = Set(digests.map { hex in
        let digits = Array(hex.utf8)
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16) ?? 0 }
    })

    static func contains(_ secret: UnsafeBufferPointer<UInt8>) -> Bool {
        digestBytes.contains(Array(SHA256.hash(data: UnsafeRawBufferPointer(secret))))
    }
}

/// Base64 `user:password` worth reporting: text, and a password that is neither a placeholder nor a
/// short test word (`user:pass`, `test:test` fill protocol tests and documentation).
enum BasicCredentials {
    static func plausible(_ encoded: [UInt8]) -> Bool {
        guard let raw = Base64Bytes.decode(encoded), let colon = raw.firstIndex(of: 0x3a), colon > 0,
              let text = String(validating: raw, as: UTF8.self), !text.unicodeScalars.contains(where: { $0.value < 0x20 })
        else { return false }
        let password = Array(raw[(colon + 1)...])
        let characters = String(decoding: password, as: UTF8.self).count
        return characters >= 8 && !PlaceholderFilter.isPlaceholder(password, quoted: true)
    }
}
