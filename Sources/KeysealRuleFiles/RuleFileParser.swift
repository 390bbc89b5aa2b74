import TOMLKit

/// A rule file: rules and the rotation guide they share.
public struct RuleFile: Sendable {
    public var path: String
    /// The guide of every rule in the file that has no `[rules.rotation]` of its own.
    public var rotation: RotationSpec?
    public var rules: [RuleSpec]
    /// Unknown keys and the like: errors for a built-in file, warnings in a `.keyseal.toml`.
    public var warnings: [String]
}

/// Reads `[[rules]]` tables and `[rotation]` tables: the schema built-in rule files and
/// `.keyseal.toml` share.
public enum RuleFileParser {
    public static let ruleKeys: Set<String> = [
        "id", "provider", "description", "regex", "prefilter", "assigned_to", "value", "secret_group", "name_group",
        "caseless", "min_entropy", "keywords", "generic", "guessable", "block_bytes", "pairs_with", "checksum",
        "priority", "confidence", "examples", "negative_examples", "references", "rotation",
        // Names an earlier `.keyseal.toml` schema used; still read.
        "entropy", "positives", "negatives",
    ]
    public static let rotationKeys: Set<String> = [
        "revoke", "console", "no_console", "cli", "cli_reference", "update", "notes",
    ]
    public static let fileKeys: Set<String> = ["rotation", "rules"]

    /// Parses a whole rule file (trusted input: the built-in files; for a user's file, parse the TOML
    /// through the crash-safe path first and call `rules(in:)`).
    public static func parse(text: String, path: String) throws -> RuleFile {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw RuleFileError(file: path, line: error.source.begin.line, key: nil, message: "not valid TOML: \(error.description)")
        }
        let locator = RuleFileLocator(text: text)
        var file = try rules(in: table, locator: locator, path: path)
        for key in table.keys.sorted() where !fileKeys.contains(key) {
            file.warnings.append("\(path):\(locator.line(ofTopLevel: key).map(String.init) ?? "?"): unknown key '\(key)'")
        }
        return file
    }

    /// The `[[rules]]` and `[rotation]` of a parsed document; other top-level keys are the caller's.
    public static func rules(in table: TOMLTable, text: String, path: String) throws -> RuleFile {
        try rules(in: table, locator: RuleFileLocator(text: text), path: path)
    }

    /// The same, with the document's lines already indexed.
    public static func rules(in table: TOMLTable, locator: RuleFileLocator, path: String) throws -> RuleFile {
        var warnings: [String] = []
        var shared: RotationSpec?
        if let value = table["rotation"] {
            guard let rotation = value.table else {
                throw RuleFileError(file: path, line: locator.line(ofTopLevel: "rotation"), key: "rotation", message: "must be a table: [rotation]")
            }
            shared = try self.rotation(rotation, path: path, line: locator.line(ofTopLevel: "rotation"), key: "rotation", warnings: &warnings)
        }
        var specs: [RuleSpec] = []
        if let value = table["rules"] {
            guard let array = value.array else {
                throw RuleFileError(file: path, line: locator.line(ofTopLevel: "rules"), key: "rules", message: "must be an array of tables: [[rules]]")
            }
            for (index, item) in array.enumerated() {
                guard let entry = item.table else {
                    throw RuleFileError(file: path, line: locator.rule(index), key: "rules", message: "entry \(index + 1) must be a table")
                }
                var spec = try rule(entry, index: index, path: path, locator: locator, warnings: &warnings)
                if spec.rotation == nil { spec.rotation = shared }
                specs.append(spec)
            }
        }
        var seen: [String: String] = [:]
        for spec in specs {
            if let first = seen[spec.id] {
                throw RuleFileError(file: path, line: nil, key: "rules.id", message: "rule id '\(spec.id)' at \(spec.location) repeats the one at \(first)")
            }
            seen[spec.id] = spec.location
        }
        return RuleFile(path: path, rotation: shared, rules: specs, warnings: warnings)
    }

    static func rule(_ table: TOMLTable, index: Int, path: String, locator: RuleFileLocator,
                     warnings: inout [String]) throws -> RuleSpec {
        func fail(_ key: String, _ message: String) -> RuleFileError {
            RuleFileError(file: path, line: locator.line(ofKey: key, inRule: index), key: "rules.\(key)", message: message)
        }
        for key in table.keys.sorted() where !ruleKeys.contains(key) {
            warnings.append("\(path):\(locator.line(ofKey: key, inRule: index).map(String.init) ?? "?"): unknown key 'rules.\(key)'")
        }
        func string(_ key: String) throws -> String? {
            guard let value = table[key] else { return nil }
            guard let text = value.string else { throw fail(key, "must be a string") }
            return text
        }
        func required(_ key: String) throws -> String {
            guard let text = try string(key), !text.isEmpty else { throw fail(key, "rule \(index + 1) needs a non-empty string '\(key)'") }
            return text
        }
        func strings(_ key: String) throws -> [String]? {
            guard let value = table[key] else { return nil }
            guard let array = value.array else { throw fail(key, "must be an array of strings") }
            return try array.map {
                guard let text = $0.string else { throw fail(key, "must be an array of strings") }
                return text
            }
        }
        func bool(_ key: String) throws -> Bool? {
            guard let value = table[key] else { return nil }
            guard let flag = value.bool else { throw fail(key, "must be true or false") }
            return flag
        }
        func int(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let value = table[key] else { return nil }
            guard let number = value.int, range.contains(number) else {
                throw fail(key, "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return number
        }
        func alias(_ key: String, _ old: String) throws -> String {
            if table[key] != nil && table[old] != nil { throw fail(old, "give '\(key)' or its older name '\(old)', not both") }
            return table[old] != nil ? old : key
        }

        let id = try required("id")
        guard isKebabCase(id) else { throw fail("id", "rule id '\(id)' must be kebab-case (a-z, 0-9, -)") }
        var spec = RuleSpec(id: id, provider: try required("provider"), description: try string("description") ?? id, regex: "")
        spec.location = "\(path):\(locator.rule(index) ?? 0)"
        if spec.description.isEmpty { spec.description = id }
        let name = try string("assigned_to"), value = try string("value")
        if let regex = try string("regex") {
            guard name == nil && value == nil else { throw fail("regex", "give either 'regex' or 'assigned_to' with 'value', not both") }
            guard !regex.isEmpty else { throw fail("regex", "must not be empty") }
            spec.regex = regex
            spec.prefilter = try string("prefilter")
            spec.caseless = try bool("caseless") ?? false
            spec.secretGroup = try int("secret_group", 1...99) ?? 1
        } else {
            guard let name, let value, !name.isEmpty, !value.isEmpty else {
                throw fail("regex", "rule \(index + 1) needs 'regex', or 'assigned_to' (the name's pattern) with 'value' (the secret's)")
            }
            for key in ["secret_group", "name_group"] where table[key] != nil {
                throw fail(key, "is built from 'assigned_to' and 'value' (the name is group 1, the value group 3); give 'regex' instead to set it")
            }
            if try bool("caseless") == false { throw fail("caseless", "a rule given by 'assigned_to' matches names in any case") }
            guard !RuleSpec.hasCapturingGroup(name) else {
                throw fail("assigned_to", "must not have a capturing group: write (?:...) instead of (...)")
            }
            (spec.regex, spec.prefilter) = RuleSpec.assignedRegex(name: name, value: value)
            // A prefilter given by hand narrows where the name is looked for (a generic name, frequent in code).
            if let prefilter = try string("prefilter") { spec.prefilter = prefilter }
            spec.caseless = true
            spec.namedValue = true
            spec.secretGroup = 3
        }
        if !spec.namedValue { spec.nameGroup = try int("name_group", 1...99) }
        let entropyKey = try alias("min_entropy", "entropy")
        if let value = table[entropyKey] {
            guard let number = value.double ?? value.int.map(Double.init), number >= 0, number <= 8 else {
                throw fail(entropyKey, "must be a number of bits per byte from 0 to 8")
            }
            spec.minEntropy = number
        }
        spec.keywords = try strings("keywords")?.map { $0.lowercased() } ?? []
        if spec.keywords.contains(where: \.isEmpty) { throw fail("keywords", "must not hold an empty string") }
        spec.generic = try bool("generic") ?? false
        // A generic name is judged by all its words, a provider's by the words after the provider's.
        if spec.namedValue { spec.nameGroup = spec.generic ? 1 : 2 }
        spec.guessable = try bool("guessable") ?? false
        spec.blockBytes = try int("block_bytes", 1...1_048_576)
        spec.pairsWith = try string("pairs_with")
        if let checksum = try string("checksum") {
            guard RuleSpec.checksums[checksum] != nil else {
                throw fail("checksum", "'\(checksum)' is not one of \(RuleSpec.checksums.keys.sorted().joined(separator: ", "))")
            }
            spec.checksum = checksum
        }
        spec.priority = try int("priority", -100...100) ?? 0
        if let confidence = try string("confidence") {
            guard RuleSpec.confidences.contains(confidence) else {
                throw fail("confidence", "'\(confidence)' is not one of \(RuleSpec.confidences.joined(separator: ", "))")
            }
            spec.confidence = confidence
        }
        spec.examples = try strings(try alias("examples", "positives")) ?? []
        spec.negativeExamples = try strings(try alias("negative_examples", "negatives")) ?? []
        spec.references = try strings("references") ?? []
        for reference in spec.references where !(reference.hasPrefix("https://") || reference.hasPrefix("http://")) {
            throw fail("references", "'\(reference)' is not an http(s) address")
        }
        if let value = table["rotation"] {
            guard let rotation = value.table else { throw fail("rotation", "must be a table: [rules.rotation]") }
            spec.rotation = try self.rotation(rotation, path: path, line: locator.line(ofKey: "rotation", inRule: index),
                                              key: "rules.rotation", warnings: &warnings)
        }
        return spec
    }

    static func rotation(_ table: TOMLTable, path: String, line: Int?, key: String,
                         warnings: inout [String]) throws -> RotationSpec {
        func fail(_ message: String) -> RuleFileError { RuleFileError(file: path, line: line, key: key, message: message) }
        for name in table.keys.sorted() where !rotationKeys.contains(name) {
            warnings.append("\(path):\(line.map(String.init) ?? "?"): unknown key '\(key).\(name)'")
        }
        guard let revoke = table["revoke"]?.string, !revoke.isEmpty else {
            throw fail("needs 'revoke': where and how to revoke the credential and issue a new one")
        }
        func strings(_ name: String) throws -> [String] {
            guard let value = table[name] else { return [] }
            guard let array = value.array, let texts = Optional(array.compactMap(\.string)), texts.count == array.count else {
                throw fail("'\(name)' must be an array of strings")
            }
            return texts
        }
        var spec = RotationSpec(revoke: revoke, cli: try strings("cli"), update: try strings("update"))
        if let value = table["console"] {
            guard let console = value.string, console.hasPrefix("https://") || console.hasPrefix("http://") else {
                throw fail("'console' must be the console page's http(s) address")
            }
            spec.console = console
        }
        if let value = table["no_console"] {
            guard let reason = value.string, !reason.isEmpty else {
                throw fail("'no_console' must say why there is no console page and what rotates the credential instead")
            }
            guard spec.console == nil else { throw fail("give 'console' or 'no_console', not both") }
            spec.noConsole = reason
        }
        if let value = table["cli_reference"] {
            guard let reference = value.string, reference.hasPrefix("https://") || reference.hasPrefix("http://") else {
                throw fail("'cli_reference' must be the http(s) address of the provider's documentation of the 'cli' commands")
            }
            guard !spec.cli.isEmpty else { throw fail("'cli_reference' documents 'cli' commands; this guide has none") }
            spec.cliReference = reference
        }
        if !spec.cli.isEmpty, spec.cliReference == nil {
            warnings.append("\(path):\(line.map(String.init) ?? "?"): '\(key).cli' has no 'cli_reference' to the provider's documentation of those commands")
        }
        if let value = table["notes"] {
            guard let notes = value.string else { throw fail("'notes' must be a string") }
            spec.notes = notes
        }
        return spec
    }

    public static func isKebabCase(_ id: String) -> Bool {
        var previousDash = true
        for byte in id.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): previousDash = false
            case UInt8(ascii: "-") where !previousDash: previousDash = true
            default: return false
            }
        }
        return !id.isEmpty && !previousDash
    }
}
