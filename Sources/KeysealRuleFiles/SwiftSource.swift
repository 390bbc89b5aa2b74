/// Turns the built-in rule files into the Swift source the engine compiles (checked in as
/// `Sources/KeysealEngine/BuiltInRules.generated.swift`), so startup pays for no parsing.
public enum SwiftSource {
    public static let header = """
        // Generated from Sources/KeysealEngine/Rules/*.toml by `swift run keyseal-rulegen`. Do not edit:
        // edit the rule files and run that again (a test fails while this file is stale).

        """

    /// The generated file for `files`, in file-name order, each file's rules in their order there.
    public static func render(_ files: [RuleFile]) -> String {
        let files = files.sorted { name($0.path) < name($1.path) }
        var guides: [(name: String, spec: RotationSpec)] = []
        var guideNames: [RotationSpec: String] = [:]
        func guideName(_ spec: RotationSpec, _ suggestion: String) -> String {
            if let name = guideNames[spec] { return name }
            var name = identifier(suggestion)
            while guides.contains(where: { $0.name == name }) { name += "_" }
            guides.append((name, spec))
            guideNames[spec] = name
            return name
        }
        var out = header + "\n// swift-format-ignore-file\n\nextension BuiltInRules {\n"
        out += "    /// Every built-in rule, by file name and then as listed in its file. The order decides\n"
        out += "    /// nothing: overlapping matches are settled by `Rule.priority`, then specificity.\n"
        // Appends in small functions, not one array literal: the compiler type-checks a literal of
        // hundreds of rules as one expression (16 GB and more for 800 rules), a statement at a time here.
        var chunks: [String] = []
        var chunk = ""
        var inChunk = 0
        for file in files {
            chunk += "    // \(name(file.path))\n"
            for rule in file.rules {
                let guide = rule.rotation.map { spec in
                    guideName(spec, spec == file.rotation ? name(file.path) : rule.id)
                }
                chunk += "    rules.append(" + ruleCall(rule, guide: guide) + ")\n"
                inChunk += 1
            }
            if inChunk >= chunkSize {
                chunks.append(chunk)
                chunk = ""
                inChunk = 0
            }
        }
        if !chunk.isEmpty { chunks.append(chunk) }
        // Reserved: every hook builds this list, and growing it copied it (and faulted in fresh pages) nine times.
        let count = files.reduce(0) { $0 + $1.rules.count }
        out += "    public static let all: [Rule] = {\n        var rules: [Rule] = []\n        rules.reserveCapacity(\(count))\n"
        for index in chunks.indices { out += "        builtInRules\(index)(&rules)\n" }
        out += "        return rules\n    }()\n}\n"
        for (index, body) in chunks.enumerated() {
            out += "\nprivate func builtInRules\(index)(_ rules: inout [Rule]) {\n" + body + "}\n"
        }
        out += "\n/// The rotation guides the rule files give, one per file (or per rule that has its own).\nenum BuiltInGuides {\n"
        for (name, spec) in guides {
            var args = ["revoke: \(literal(spec.revoke))"]
            if let console = spec.console { args.append("console: \(literal(console))") }
            if let noConsole = spec.noConsole { args.append("noConsole: \(literal(noConsole))") }
            if !spec.cli.isEmpty { args.append("cli: \(array(spec.cli))") }
            if let reference = spec.cliReference { args.append("cliReference: \(literal(reference))") }
            if !spec.update.isEmpty { args.append("update: \(array(spec.update))") }
            if let notes = spec.notes { args.append("notes: \(literal(notes))") }
            out += "    static let \(name) = RotationGuide(\(args.joined(separator: ", ")))\n"
        }
        out += "}\n"
        return out
    }

    /// Rules per generated function.
    static let chunkSize = 40

    static func ruleCall(_ rule: RuleSpec, guide: String?) -> String {
        var args = ["id: \(literal(rule.id))", "provider: \(literal(rule.provider))",
                    "description: \(literal(rule.description))", "regex: \(literal(rule.regex))"]
        if let prefilter = rule.prefilter { args.append("prefilter: \(literal(prefilter))") }
        if rule.secretGroup != 1 { args.append("secretGroup: \(rule.secretGroup)") }
        if let group = rule.nameGroup { args.append("nameGroup: \(group)") }
        if rule.caseless { args.append("caseless: true") }
        if let entropy = rule.minEntropy { args.append("minEntropy: \(entropy)") }
        if !rule.keywords.isEmpty { args.append("keywords: \(array(rule.keywords))") }
        if rule.generic { args.append("generic: true") }
        if let bytes = rule.blockBytes { args.append("span: .block(maxBytes: \(bytes))") }
        if let partner = rule.pairsWith { args.append("pairsWith: \(literal(partner))") }
        // Safe: the parser accepts only names in `RuleSpec.checksums`.
        if let checksum = rule.checksum { args.append("checksum: .\(RuleSpec.checksums[checksum]!)") }
        if rule.guessable { args.append("guessable: true") }
        if rule.namedValue { args.append("namedValue: true") }
        if rule.priority != 0 { args.append("priority: \(rule.priority)") }
        if let confidence = rule.confidence { args.append("confidence: .\(confidence)") }
        args.append("positives: \(array(rule.examples))")
        args.append("negatives: \(array(rule.negativeExamples))")
        if !rule.references.isEmpty { args.append("references: \(array(rule.references))") }
        if let guide { args.append("rotation: BuiltInGuides.\(guide)") }
        return "Rule(" + args.joined(separator: ", ") + ")"
    }

    static func name(_ path: String) -> String {
        String(path.split(separator: "/").last ?? Substring(path))
    }

    static func identifier(_ text: String) -> String {
        var out = ""
        for scalar in text.replacingSuffix(".toml").unicodeScalars {
            let isWord = (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || (scalar >= "0" && scalar <= "9")
            out += isWord ? String(scalar) : "_"
        }
        if let first = out.unicodeScalars.first, first >= "0" && first <= "9" { out = "_" + out }
        return out
    }

    static func array(_ items: [String]) -> String { "[" + items.map(literal).joined(separator: ", ") + "]" }

    /// A Swift string literal with the same characters.
    static func literal(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    out += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

extension String {
    func replacingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
