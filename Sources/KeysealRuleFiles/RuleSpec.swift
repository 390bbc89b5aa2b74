import TOMLKit

/// One rule as written in a rule file (`Sources/KeysealEngine/Rules/*.toml`) or in a
/// `.keyseal.toml`'s `[[rules]]`: the same schema for both, so a user rule has every power a
/// built-in one has. Kept free of the engine's types so the generator that turns the built-in files
/// into Swift builds even when the generated file does not.
public struct RuleSpec: Sendable, Hashable {
    public var id: String
    public var provider: String
    public var description: String
    /// PCRE2 syntax; capture group `secretGroup` is the secret. Built from `assigned_to` and `value`
    /// when the file gives those instead.
    public var regex: String
    public var prefilter: String?
    public var secretGroup: Int = 1
    public var nameGroup: Int?
    public var caseless = false
    public var minEntropy: Double?
    public var keywords: [String] = []
    public var generic = false
    public var guessable = false
    /// Set for multi-line rules (PEM blocks): how far past the hit's line the match may reach.
    public var blockBytes: Int?
    public var pairsWith: String?
    /// Built from `assigned_to` and `value`: see `assignedRegex` for its groups. The value may sit on
    /// the next line (Kubernetes).
    public var namedValue = false
    /// One of `RuleSpec.checksums` (the engine's `TokenChecksum`, by its raw value).
    public var checksum: String?
    public var priority = 0
    /// One of `RuleSpec.confidences`.
    public var confidence: String?
    public var examples: [String] = []
    public var negativeExamples: [String] = []
    public var references: [String] = []
    public var rotation: RotationSpec?
    /// Where the rule was written (`file:line` of its `[[rules]]` header), for messages.
    public var location: String = ""

    /// The checksum names a rule may give, and the engine's `TokenChecksum` case each is. (Pairs, not
    /// a dictionary literal: `"name": "value"` lines look like assignments to a secret scanner.)
    public static let checksums: [String: String] = Dictionary(uniqueKeysWithValues: [
        ("base62-crc32", "base62CRC32"), ("trailing-base62-crc32", "trailingBase62CRC32"), ("grafana-crc32", "grafanaCRC32"),
        ("pypi-macaroon", "pypiMacaroon"), ("base58check", "base58Check"), ("basic-credentials", "basicCredentials"),
    ])
    public static let confidences = ["high", "medium", "low"]

    /// The assignment model every rule given by `assigned_to` and `value` shares, so a rule says only
    /// which names a value may follow and what the value looks like. Between the name and the value:
    /// the rest of the name (`_API_KEY`), closing quotes or brackets (`config["acme_key"]`), a type
    /// annotation (`acmeKey: String =`), then one of
    /// - an operator: `=`, `:`, `:=`, `=>`, `?=`, `,` (`define('NAME', 'v')`, `getenv("NAME", "v")`,
    ///   SQL `('name', 'v')`), `>` (`<name>v</name>`), `(` (`setAcmeKey("v")`);
    /// - whitespace alone (`ENV NAME v`, `--acme-key v`, `.properties` `name v`, `.netrc`-like);
    /// - a separate value field: `key="NAME" value="v"` (.NET `appSettings`), `"name": "NAME", "value": "v"`;
    /// - a Kubernetes `env` entry: `name: NAME` with `value: v` on the next line.
    /// and optional opening quotes (escaped ones too, in JSON inside a string).
    public static let nameTail = "[A-Za-z0-9_.-]{0,20}"
    static let closing = "(?:\\\\?[\"'`])?\\]?(?:[ \\t]*:[ \\t]*[A-Za-z][A-Za-z0-9<>?]*[ \\t]*(?==))?"
    static let opening = "(?:\\\\?[\"'`])?"
    public static let assignment = closing + "(?:"
        + "[ \\t]*(?::=|=>|\\?=|=|:|,|>|\\()[ \\t]*" + opening
        + "|(?<=[\"'])[ \\t]*,?[ \\t]*[\"']?value[\"']?[ \\t]*[=:][ \\t]*" + opening
        + "|[ \\t]*\\r?\\n[ \\t]*(?:-[ \\t]*)?value[ \\t]*:[ \\t]*" + opening
        + "|[ \\t]+" + opening + ")"
    /// Before the name: not inside a longer word, except at a camelCase hump (`myAcmeKey`).
    static let nameStart = "(?:(?<![A-Za-z0-9])|(?-i:(?<=[a-z0-9])(?=[A-Z])))"
    /// After a value whose alphabet may include `-` and `_`: another character, or the end of the line.
    public static let valueEnd = "(?:[^A-Za-z0-9_-]|$)"
    /// The start older rule files gave their names by hand; `nameStart` does that now.
    static let oldNameStart = "(?:^|[^A-Za-z0-9])"

    /// The regex and prefilter of a rule given as `assigned_to` (the name) and `value`: the whole name
    /// is group 1, the part after what `assigned_to` matched group 2 (when its last word is one like
    /// `id` or `url`, the match is dropped: `ACME_ACCOUNT_ID`, but not a rule's own `WOLFRAM_APP_ID`),
    /// the value group 3. Vectorscan looks for the name, its tail and one character after it only; PCRE2 takes the
    /// assignment and the value from there. (With the value in the Vectorscan pattern too, 200 such
    /// rules took 1.9 s to compile; every named rule's pattern is now little more than its name.)
    public static func assignedRegex(name: String, value: String) -> (regex: String, prefilter: String) {
        var name = name
        if name.hasPrefix(oldNameStart) { name.removeFirst(oldNameStart.count) }
        // Names in any case; the value as its rule writes it (`[A-Z0-9]{32}` is upper-case only).
        let regex = "\(nameStart)((?:\(name))(\(nameTail)))\(assignment)((?-i:\(value)))\(valueEnd)"
        return (regex, "(?:\(name))\(nameTail)[^A-Za-z0-9_.-]")
    }

    /// Whether a pattern has a capturing group (a `(` neither escaped, in a class, nor `(?`): the
    /// name of a named rule must not, or the value would not be group 3.
    public static func hasCapturingGroup(_ pattern: String) -> Bool {
        var escaped = false, inClass = false
        let chars = Array(pattern)
        for (i, c) in chars.enumerated() {
            if escaped { escaped = false; continue }
            if c == "\\" { escaped = true; continue }
            if inClass { if c == "]" { inClass = false }; continue }
            if c == "[" { inClass = true; continue }
            if c == "(" && (i + 1 >= chars.count || chars[i + 1] != "?") { return true }
        }
        return false
    }
}

/// How to rotate a leaked secret of this rule's kind.
public struct RotationSpec: Sendable, Hashable {
    /// Where to revoke it and issue a new one (the console path, or the steps).
    public var revoke: String
    /// The console page, when the provider has one address for it.
    public var console: String?
    /// Why there is no console page (a credential the user issues themselves: a database password,
    /// a private key), in place of `console`.
    public var noConsole: String?
    /// CLI commands to create, disable or delete a credential.
    public var cli: [String] = []
    /// The provider's documentation of those commands.
    public var cliReference: String?
    /// What to update besides the steps every rotation ends with.
    public var update: [String] = []
    public var notes: String?

    public init(revoke: String, console: String? = nil, cli: [String] = [], update: [String] = [], notes: String? = nil) {
        self.revoke = revoke
        self.console = console
        self.cli = cli
        self.update = update
        self.notes = notes
    }
}

/// A problem in a rule file, located by file and line.
public struct RuleFileError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let line: Int?
    public let key: String?
    public let message: String

    public init(file: String, line: Int?, key: String?, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        var place = file
        if let line { place += ":\(line)" }
        if let key { place += " [\(key)]" }
        return "\(place): \(message)"
    }
}

/// Finds the line of a key inside the Nth `[[rules]]` table (TOMLKit gives no positions). Every
/// line is read once, up front: a file with many unknown keys costs linear time, not keys × lines.
public struct RuleFileLocator: Sendable {
    /// 1-based line of each `[[rules]]` header.
    let ruleHeaders: [Int]
    /// The first line assigning a key, or opening `[rules.key]`, in each rule (0-based rule index).
    let ruleKeys: [[String: Int]]
    /// The same before the first rule, and `[key]` / `[[key]]` headers anywhere.
    let topLevelKeys: [String: Int]

    public init(text: String) {
        var headers: [Int] = []
        var ruleKeys: [[String: Int]] = []
        var topLevel: [String: Int] = [:]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = Self.stripped(raw)
            if line == "[[rules]]" {
                headers.append(number)
                ruleKeys.append([:])
                if topLevel["rules"] == nil { topLevel["rules"] = number }
            } else if line.hasPrefix("[rules."), line.hasSuffix("]"), !ruleKeys.isEmpty {
                let key = String(line.dropFirst(7).dropLast())
                if ruleKeys[ruleKeys.count - 1][key] == nil { ruleKeys[ruleKeys.count - 1][key] = number }
            } else if line.hasPrefix("["), line.hasSuffix("]"), !line.hasPrefix("[[") {
                let key = String(line.dropFirst().dropLast())
                if topLevel[key] == nil { topLevel[key] = number }
            } else if let equals = line.firstIndex(of: "=") {
                let key = String(line[..<equals].trimmingSuffix { $0 == " " || $0 == "\t" })
                guard !key.isEmpty else { continue }
                if ruleKeys.isEmpty {
                    if topLevel[key] == nil { topLevel[key] = number }
                } else if ruleKeys[ruleKeys.count - 1][key] == nil {
                    ruleKeys[ruleKeys.count - 1][key] = number
                }
            }
        }
        ruleHeaders = headers
        self.ruleKeys = ruleKeys
        topLevelKeys = topLevel
    }

    static func stripped(_ line: Substring) -> Substring {
        var line = line.drop { $0 == " " || $0 == "\t" }
        if let hash = line.firstIndex(of: "#"), !line[..<hash].contains("\"") && !line[..<hash].contains("'") {
            line = line[..<hash]
        }
        while let last = line.last, last == " " || last == "\t" || last == "\r" { line = line.dropLast() }
        return line
    }

    /// 1-based line of `[[rules]]` number `index` (0-based).
    public func rule(_ index: Int) -> Int? { index < ruleHeaders.count ? ruleHeaders[index] : nil }

    /// 1-based line that assigns `key` inside rule `index`, or opens `[rules.key]` there; the rule's
    /// header line when the key is not found.
    public func line(ofKey key: String, inRule index: Int) -> Int? {
        guard index < ruleHeaders.count else { return nil }
        return ruleKeys[index][key] ?? ruleHeaders[index]
    }

    /// 1-based line that assigns a top-level `key` or opens `[key]`.
    public func line(ofTopLevel key: String) -> Int? { topLevelKeys[key] }
}

extension Substring {
    func trimmingSuffix(while predicate: (Character) -> Bool) -> Substring {
        var result = self
        while let last = result.last, predicate(last) { result = result.dropLast() }
        return result
    }
}
