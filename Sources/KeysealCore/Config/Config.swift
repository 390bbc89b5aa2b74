import CIsolation
import Foundation
import KeysealEngine
import KeysealRuleFiles
import TOMLKit

/// A problem in a config file, located: the message says file, line and key.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let line: Int?
    public let key: String?
    public let message: String

    public var description: String {
        var place = file
        if let line { place += ":\(line)" }
        if let key { place += " [\(key)]" }
        return "\(place): \(message)"
    }
}

/// `.keyseal.toml`: what to allow, which rules to add or turn off, and scan limits.
///
///     max_blob_size = "10M"
///     disabled_rules = ["jwt"]
///     [allowlist]
///     paths = ["test/fixtures/**", "*.md"]      # globs on the path
///     regexes = ["^AKIA.*EXAMPLE$"]               # on the secret
///     stopwords = ["dummy"]                       # the secret contains one
///     commits = ["0a1b2c3"]                       # commit id prefixes
///     [[rules]]                                   # the built-in rule files' schema: CONTRIBUTING.md
///     id = "acme-token"
///     provider = "Acme"
///     description = "Acme API token"
///     regex = '\b(acme_[a-z0-9]{32})\b'
///     min_entropy = 3.0
///     examples = ["token = acme_⟪lo:32⟫", "ACME=acme_⟪lo:32⟫"]
///     negative_examples = ["acme_short"]
///     [rules.rotation]
///     revoke = "Acme console > API tokens: revoke, then create a new token"
public struct KeysealConfig: Sendable {
    public var file: String?
    public var allowPaths: [String] = []
    public var allowRegexes: [String] = []
    public var stopwords: [String] = []
    public var allowCommits: [String] = []
    public var customRules: [Rule] = []
    public var disabledRules: [String] = []
    public var maxBlobSize: Int?
    /// Unknown keys and other things worth a look; loading went on.
    public var warnings: [String] = []

    public init() {}

    public static let fileName = ".keyseal.toml"

    static let topKeys: Set<String> = ["allowlist", "rules", "rotation", "disabled_rules", "max_blob_size"]
    static let allowKeys: Set<String> = ["paths", "regexes", "stopwords", "commits", "description"]

    /// Loads `file`; throws a located `ConfigError` for anything it cannot use.
    public static func load(file: String) throws -> KeysealConfig {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ConfigError(file: file, line: nil, key: nil, message: "cannot read the file: \(error.localizedDescription)")
        }
        return try parse(text, file: file)
    }

    /// Parses TOML from an untrusted file without letting toml++ abort the process.
    static func parseTOML(_ text: String, file: String) throws -> TOMLTable {
        if let line = malformedTableHeader(in: text) {
            throw ConfigError(file: file, line: line, key: nil,
                              message: "not valid TOML: a table header must start with a key ([name] or [[name]])")
        }
        // toml++ asserts (aborting the process) on some malformed input that the check above does not
        // cover: try it in a child process first. Without a child (fork failed), parse as before.
        if keyseal_toml_parser_survives(text) == 1 {
            throw ConfigError(file: file, line: nil, key: nil,
                              message: "not valid TOML: the TOML parser (toml++) fails on this file; check its brackets, braces and commas")
        }
        do {
            return try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError(file: file, line: error.source.begin.line, key: nil, message: "not valid TOML: \(error.description)")
        }
    }

    public static func parse(_ text: String, file: String) throws -> KeysealConfig {
        let table = try parseTOML(text, file: file)
        var config = KeysealConfig()
        config.file = file
        // Lines are indexed once: a file of many unknown keys costs linear time to report.
        let locator = RuleFileLocator(text: text)
        let locate = { (key: String) in locator.line(ofTopLevel: key) }
        func fail(_ key: String, _ message: String) -> ConfigError {
            ConfigError(file: file, line: locate(key.split(separator: ".").last.map(String.init) ?? key), key: key, message: message)
        }
        func strings(_ value: TOMLValueConvertible?, _ key: String) throws -> [String] {
            guard let value else { return [] }
            guard let array = value.array else { throw fail(key, "must be an array of strings") }
            return try array.map {
                guard let string = $0.string else { throw fail(key, "must be an array of strings") }
                return string
            }
        }
        for key in table.keys where !topKeys.contains(key) {
            config.warnings.append("\(file):\(locate(key).map(String.init) ?? "?"): unknown key '\(key)' ignored")
        }
        if let value = table["max_blob_size"] {
            let bytes: Int
            if let number = value.int {
                bytes = number
            } else if let text = value.string {
                guard let parsed = SizeText.parse(text) else {
                    throw fail("max_blob_size", "\(SizeText.blobLimitProblem(text) ?? "is not a size") (got '\(text)')")
                }
                bytes = parsed
            } else {
                throw fail("max_blob_size", "must be a size such as 25M or a number of bytes")
            }
            guard SizeText.isBlobLimit(bytes) else { throw fail("max_blob_size", "must be above 0 and below 4G") }
            config.maxBlobSize = bytes
        }
        config.disabledRules = try strings(table["disabled_rules"], "disabled_rules")
        if let allow = table["allowlist"] {
            guard let allowTable = allow.table else { throw fail("allowlist", "must be a table: [allowlist]") }
            for key in allowTable.keys where !allowKeys.contains(key) {
                config.warnings.append("\(file):\(locate(key).map(String.init) ?? "?"): unknown key 'allowlist.\(key)' ignored")
            }
            config.allowPaths = try strings(allowTable["paths"], "allowlist.paths")
            config.allowRegexes = try strings(allowTable["regexes"], "allowlist.regexes")
            for pattern in config.allowRegexes where (try? NSRegularExpression(pattern: pattern)) == nil {
                throw fail("allowlist.regexes", "'\(pattern)' is not a valid regular expression")
            }
            config.stopwords = try strings(allowTable["stopwords"], "allowlist.stopwords")
            config.allowCommits = try strings(allowTable["commits"], "allowlist.commits").map { $0.lowercased() }
        }
        // The same schema as the built-in rule files (see CONTRIBUTING.md), so a user rule has every
        // field a built-in one has; a top-level [rotation] is the guide of rules without their own.
        let ruleFile: RuleFile
        do {
            ruleFile = try RuleFileParser.rules(in: table, locator: locator, path: file)
        } catch let error as RuleFileError {
            throw ConfigError(file: error.file, line: error.line, key: error.key, message: error.message)
        }
        config.warnings += ruleFile.warnings.map { $0 + " ignored" }
        let builtIn = Set(BuiltInRules.all.map(\.id))
        for (index, spec) in ruleFile.rules.enumerated() {
            guard !builtIn.contains(spec.id) else {
                throw ConfigError(file: file, line: locator.line(ofKey: "id", inRule: index), key: "rules.id",
                                  message: "rule id '\(spec.id)' is a built-in rule's id; choose another, or disable the built-in")
            }
            let rule = Rule(spec)
            do {
                try Matcher.validate([rule])
            } catch {
                throw ConfigError(file: file, line: locator.line(ofKey: "regex", inRule: index), key: "rules.regex", message: "\(error)")
            }
            config.customRules.append(rule)
        }
        let known = builtIn.union(config.customRules.map(\.id))
        for id in config.disabledRules where !known.contains(id) {
            config.warnings.append("\(file):\(locate("disabled_rules").map(String.init) ?? "?"): disabled rule '\(id)' does not exist")
        }
        return config
    }

    /// The first line holding a table header whose key starts with neither a bare-key character nor a
    /// quote (`[{rules]]`). toml++, inside TOMLKit, asserts instead of reporting an error for these,
    /// which aborts the process: a crafted `.keyseal.toml` in a repository would crash the hooks
    /// (found by Fuzz/FuzzConfig). A line inside a multi-line array or string that starts with `[`
    /// followed by such a character is refused too; no key of this file takes one.
    static func malformedTableHeader(in text: String) -> Int? {
        var number = 0
        for line in text.utf8.split(separator: 0x0a, omittingEmptySubsequences: false) {
            number += 1
            var rest = line.drop { $0 == 0x20 || $0 == 0x09 }
            guard rest.first == 0x5b else { continue }
            rest = rest.dropFirst().drop { $0 == 0x20 || $0 == 0x09 }
            if rest.first == 0x5b { rest = rest.dropFirst().drop { $0 == 0x20 || $0 == 0x09 } }
            // The line ending right after the bracket (`[` then a line break) trips the same assertion.
            guard let next = rest.first else { return number }
            let bare = (next | 0x20 >= 0x61 && next | 0x20 <= 0x7a) || (next >= 0x30 && next <= 0x39) || next == 0x5f || next == 0x2d
            if !(bare || next == 0x22 || next == 0x27 || next == 0x5d) { return number }
        }
        return nil
    }

    /// The rules a scan uses: built-ins and custom ones, less the disabled.
    public func rules() -> [Rule] {
        // The common case, no rule of a config's own and none turned off: the built-in list itself
        // (copying 1,100 rules showed in every hook's start).
        if customRules.isEmpty && disabledRules.isEmpty { return BuiltInRules.all }
        let off = Set(disabledRules)
        return (BuiltInRules.all + customRules).filter { !off.contains($0.id) }
    }

    /// Compiled allowlist, built once per scan.
    public func allowlist() -> Allowlist {
        Allowlist(paths: allowPaths.compactMap(Glob.init), regexes: allowRegexes.compactMap { try? NSRegularExpression(pattern: $0) },
                  stopwords: stopwords.map { $0.lowercased() }, commits: allowCommits)
    }

    /// Identifies the allowlist entries that act on secret values (see StoreSession).
    public var secretAllowlistHash: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in (allowRegexes + ["\u{0}"] + stopwords).joined(separator: "\u{1}").utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }

    /// The config at the root of a work tree, when there is one.
    public static func discover(root: String?) -> String? {
        guard let root else { return nil }
        let path = (root as NSString).appendingPathComponent(fileName)
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }
}

/// What the allowlist lets through. `@unchecked`: NSRegularExpression is immutable once built.
public struct Allowlist: @unchecked Sendable {
    let paths: [Glob]
    let regexes: [NSRegularExpression]
    let stopwords: [String]
    let commits: [String]

    public static let empty = Allowlist(paths: [], regexes: [], stopwords: [], commits: [])

    public func allowsPath(_ path: String) -> Bool { paths.contains { $0.matches(path) } }

    public func allowsSecret(_ secret: String) -> Bool {
        let range = NSRange(secret.startIndex..., in: secret)
        if regexes.contains(where: { $0.firstMatch(in: secret, range: range) != nil }) { return true }
        let lower = secret.lowercased()
        return stopwords.contains { lower.contains($0) }
    }

    public func allowsCommit(_ commit: String) -> Bool { commits.contains { commit.hasPrefix($0) } }

    /// Third-party code committed with a project (`vendor/`, `node_modules/`, `Godeps/_workspace/`,
    /// `third_party/`, `bower_components/`) is full of other projects' test vectors and documented
    /// example values: there, the heuristics (generic rules and the catch-all JWT rule) report
    /// nothing, while every provider's own rule still does. On traefik's history this removed 55 of
    /// 60 false positives and no true one (bench/precision.md).
    public static func heuristicQuietIn(rule: String, path: String) -> Bool {
        guard rule.hasPrefix("generic-") || rule == "jwt" else { return false }
        let folders = ["vendor/", "node_modules/", "Godeps/_workspace/", "third_party/", "third-party/", "bower_components/"]
        return folders.contains { path.hasPrefix($0) || path.contains("/" + $0) }
    }

    /// An occurrence's place: its path or its commit is allowed. (Secret values are checked once,
    /// when the blob is scanned, before anything is recorded.)
    public func allowsPlace(path: String, commit: String) -> Bool { allowsPath(path) || allowsCommit(commit) }
}

/// A path glob: `*` and `?` stay within a folder, `**` crosses folders; a pattern without `/`
/// matches the file name at any depth.
struct Glob: @unchecked Sendable {
    let regex: NSRegularExpression
    let nameOnly: Bool

    init?(_ pattern: String) {
        nameOnly = !pattern.contains("/")
        var out = "^"
        var chars = Array(pattern.hasPrefix("/") ? String(pattern.dropFirst()) : pattern)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == "*" {
                if i + 1 < chars.count && chars[i + 1] == "*" {
                    if i + 2 < chars.count && chars[i + 2] == "/" { out += "(?:.*/)?"; i += 3; continue }
                    out += ".*"; i += 2; continue
                }
                out += "[^/]*"
            } else if c == "?" {
                out += "[^/]"
            } else {
                out += NSRegularExpression.escapedPattern(for: String(c))
            }
            i += 1
        }
        chars.removeAll()
        guard let regex = try? NSRegularExpression(pattern: out + "$") else { return nil }
        self.regex = regex
    }

    func matches(_ path: String) -> Bool {
        let subject = nameOnly ? String(path.split(separator: "/").last ?? Substring(path)) : path
        return regex.firstMatch(in: subject, range: NSRange(subject.startIndex..., in: subject)) != nil
    }
}

/// Sizes as people write them: `25M`, `500K`, `1G`, or bytes.
public enum SizeText {
    /// The bytes `text` says, or nil when it is not a size or is too large to count (`99999999999G`).
    public static func parse(_ text: String) -> Int? {
        if case .bytes(let bytes) = read(text) { return bytes }
        return nil
    }

    enum Reading: Equatable { case bytes(Int), tooLarge, invalid }

    static func read(_ text: String) -> Reading {
        let upper = text.trimmingCharacters(in: .whitespaces).uppercased()
            .replacingOccurrences(of: "IB", with: "").replacingOccurrences(of: "B", with: "")
        let multipliers: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        var digits = Substring(upper), multiplier = 1
        if let last = upper.last, let unit = multipliers[last] {
            digits = upper.dropLast()
            multiplier = unit
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-" || $0 == "+") }) else { return .invalid }
        guard let number = Int(digits) else {
            // All digits, yet no Int: more than Int can hold.
            return digits.dropFirst().allSatisfy { $0.isASCII && $0.isNumber } ? .tooLarge : .invalid
        }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? .tooLarge : .bytes(bytes)
    }

    /// Why `text` is not a blob size limit, for a message; nil when it is one.
    public static func blobLimitProblem(_ text: String) -> String? {
        switch read(text) {
        case .bytes(let bytes): return isBlobLimit(bytes) ? nil : "must be above 0 and below 4G"
        case .tooLarge: return "must be above 0 and below 4G"
        case .invalid: return "must be a size such as 500K, 25M or 1G, or a number of bytes"
        }
    }

    /// `25M`, `512K`, `1000 bytes`: as a config would say it.
    public static func describe(_ bytes: Int) -> String {
        for (unit, shift) in [("G", 30), ("M", 20), ("K", 10)] where bytes > 0 && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift)\(unit)"
        }
        return "\(bytes) bytes"
    }

    /// `2.9 KiB`, `30.0 MiB`: a size for people.
    public static func human(_ bytes: Int) -> String {
        if bytes < 1 << 10 { return "\(bytes) bytes" }
        if bytes < 1 << 20 { return String(format: "%.1f KiB", Double(bytes) / 1024) }
        if bytes < 1 << 30 { return String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
        return String(format: "%.1f GiB", Double(bytes) / 1_073_741_824)
    }

    /// A blob size limit: above 0 and below 4G (the engine scans buffers below 4 GiB).
    public static func isBlobLimit(_ bytes: Int) -> Bool { bytes > 0 && bytes < Int(UInt32.max) }

    /// `text` as a blob size limit, or nil when it is not one.
    public static func blobLimit(_ text: String) -> Int? { parse(text).flatMap { isBlobLimit($0) ? $0 : nil } }
}
