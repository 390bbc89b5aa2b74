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

    /// What `assigned_to` adds between the name and the value: the rest of the name, then an
    /// assignment (`=`, `:`, `:=`, `=>`) with optional quotes and spacing.
    public static let nameTail = "[A-Za-z0-9_.-]{0,20}"
    public static let assignment = "[\"']?[ \\t]*(?::=|=>|=|:)[ \\t]*[\"'`]?"
    /// After a value whose alphabet may include `-` and `_`: another character, or the end of the line.
    public static let valueEnd = "(?:[^A-Za-z0-9_-]|$)"

    /// The regex and prefilter of a rule given as `assigned_to` (the name) and `value`. Vectorscan
    /// looks for the name and the assignment only; PCRE2 takes the value from there. With the value
    /// in the Vectorscan pattern too, the 200 such rules took 1.9 s to compile.
    public static func assignedRegex(name: String, value: String) -> (regex: String, prefilter: String) {
        ("\(name)\(nameTail)\(assignment)(\(value))\(valueEnd)", "\(name)\(nameTail)\(assignment)")
    }
}

/// How to rotate a leaked secret of this rule's kind.
public struct RotationSpec: Sendable, Hashable {
    /// Where to revoke it and issue a new one (the console path, or the steps).
    public var revoke: String
    /// The console page, when the provider has one address for it.
    public var console: String?
    /// CLI commands to create, disable or delete a credential.
    public var cli: [String] = []
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

/// Finds the line of a key inside the Nth `[[rules]]` table (TOMLKit gives no positions).
public struct RuleFileLocator: Sendable {
    let lines: [Substring]
    /// Line index (0-based) of each `[[rules]]` header.
    let ruleHeaders: [Int]

    public init(text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        self.lines = lines
        ruleHeaders = lines.indices.filter { Self.stripped(lines[$0]) == "[[rules]]" }
    }

    static func stripped(_ line: Substring) -> Substring {
        var line = line.drop { $0 == " " || $0 == "\t" }
        if let hash = line.firstIndex(of: "#"), !line[..<hash].contains("\"") && !line[..<hash].contains("'") {
            line = line[..<hash]
        }
        while let last = line.last, last == " " || last == "\t" || last == "\r" { line = line.dropLast() }
        return line
    }

    static func assigns(_ line: Substring, _ key: String) -> Bool {
        let line = line.drop { $0 == " " || $0 == "\t" }
        guard line.hasPrefix(key) else { return false }
        return line.dropFirst(key.count).drop { $0 == " " || $0 == "\t" }.first == "="
    }

    /// 1-based line of `[[rules]]` number `index` (0-based).
    public func rule(_ index: Int) -> Int? { index < ruleHeaders.count ? ruleHeaders[index] + 1 : nil }

    /// 1-based line that assigns `key` inside rule `index`, or opens `[rules.key]` there; the rule's
    /// header line when the key is not found.
    public func line(ofKey key: String, inRule index: Int) -> Int? {
        guard index < ruleHeaders.count else { return nil }
        let end = index + 1 < ruleHeaders.count ? ruleHeaders[index + 1] : lines.count
        for number in (ruleHeaders[index] + 1)..<end {
            if Self.assigns(lines[number], key) || Self.stripped(lines[number]) == "[rules.\(key)]" { return number + 1 }
        }
        return ruleHeaders[index] + 1
    }

    /// 1-based line that assigns a top-level `key` or opens `[key]`.
    public func line(ofTopLevel key: String) -> Int? {
        let end = ruleHeaders.first ?? lines.count
        for number in 0..<end where Self.assigns(lines[number], key) || Self.stripped(lines[number]) == "[\(key)]" {
            return number + 1
        }
        // A `[rotation]` table may also follow the rules.
        for number in lines.indices where Self.stripped(lines[number]) == "[\(key)]" { return number + 1 }
        return nil
    }
}
