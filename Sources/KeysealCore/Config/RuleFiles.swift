import Foundation
import KeysealEngine
import KeysealRuleFiles

extension Rule {
    /// The rule a rule file (or a `.keyseal.toml`'s `[[rules]]`) describes.
    public init(_ spec: RuleSpec) {
        self.init(id: spec.id, provider: spec.provider, description: spec.description, regex: spec.regex,
                  prefilter: spec.prefilter, secretGroup: spec.secretGroup, nameGroup: spec.nameGroup,
                  caseless: spec.caseless, minEntropy: spec.minEntropy, keywords: spec.keywords, generic: spec.generic,
                  span: spec.blockBytes.map { .block(maxBytes: $0) } ?? .line, pairsWith: spec.pairsWith,
                  checksum: spec.checksum.flatMap { RuleSpec.checksums[$0] }.flatMap(TokenChecksum.init(rawValue:)),
                  guessable: spec.guessable, namedValue: spec.namedValue, priority: spec.priority,
                  confidence: spec.confidence.flatMap(RuleConfidence.init(rawValue:)),
                  positives: spec.examples, negatives: spec.negativeExamples, references: spec.references,
                  rotation: spec.rotation.map(RotationGuide.init))
    }
}

extension RotationGuide {
    public init(_ spec: RotationSpec) {
        self.init(revoke: spec.revoke, console: spec.console, noConsole: spec.noConsole, cli: spec.cli,
                  cliReference: spec.cliReference, update: spec.update, notes: spec.notes)
    }
}

/// `keyseal rules --check FILE...`: a rule file a contributor is writing, read as the build reads the
/// built-in ones, its regexes compiled and its examples run against the whole rule set.
public enum RuleFileCheck {
    public struct Report: Sendable {
        /// `file:line: problem` lines that make a file invalid (schema, regex): exit 2.
        public var problems: [String] = []
        /// Examples that fail (a positive missed, a negative matched, another rule tripped, an
        /// ambiguous priority): exit 1.
        public var failures: [String] = []
        public var warnings: [String] = []
        public var rules = 0
    }

    public static func check(paths: [String]) -> Report {
        var report = Report()
        var specs: [RuleSpec] = []
        for path in paths {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                report.problems.append("\(path): cannot read the file: \(error.localizedDescription)")
                continue
            }
            do {
                let table = try KeysealConfig.parseTOML(text, file: path)
                var file = try RuleFileParser.rules(in: table, text: text, path: path)
                let locator = RuleFileLocator(text: text)
                for key in table.keys.sorted() where !RuleFileParser.fileKeys.contains(key) {
                    file.warnings.append("\(path):\(locator.line(ofTopLevel: key).map(String.init) ?? "?"): unknown key '\(key)'")
                }
                // In a rule file an unknown key is a typo to fix, not something to skip.
                report.problems += file.warnings
                specs += file.rules
            } catch {
                report.problems.append("\(error)")
            }
        }
        report.rules = specs.count
        let checked = Set(specs.map(\.id))
        // A file may replace a built-in rule (the file it came from, being edited): the checked
        // version runs in place of the built-in one.
        var rules = BuiltInRules.all.filter { !checked.contains($0.id) }
        for spec in specs {
            let rule = Rule(spec)
            do {
                try Matcher.validate([rule])
            } catch {
                report.problems.append("\(spec.location): rule '\(spec.id)': \(error)")
                continue
            }
            if let partner = spec.pairsWith, !rules.contains(where: { $0.id == partner }) && !checked.contains(partner) {
                report.problems.append("\(spec.location): rule '\(spec.id)': pairs_with names no rule '\(partner)'")
            }
            if spec.examples.isEmpty { report.failures.append("\(spec.location): rule '\(spec.id)': needs at least one example") }
            if spec.negativeExamples.isEmpty {
                report.warnings.append("\(spec.location): rule '\(spec.id)': has no negative_examples (a near miss that must not match)")
            }
            if spec.references.isEmpty {
                report.warnings.append("\(spec.location): rule '\(spec.id)': has no references (the provider's documentation of the format)")
            }
            rules.append(rule)
        }
        guard report.problems.isEmpty else { return report }
        let mine = rules.filter { checked.contains($0.id) }
        let locations = Dictionary(specs.map { ($0.id, $0.location) }, uniquingKeysWith: { first, _ in first })
        do {
            let matcher = try Matcher(rules: rules)
            let outcome = try RuleExampleCheck.check(mine, matcher: matcher)
            for failure in outcome.failures {
                let id = String(failure.prefix { $0 != ":" })
                report.failures.append("\(locations[id] ?? "?"): \(failure)")
            }
            report.warnings += outcome.warnings
            let others = RuleExampleCheck.crossMatches(mine, matcher: matcher) + RuleExampleCheck.ambiguousPriorities(mine, matcher: matcher)
            report.failures += others.map { "\(locations[$0.rule] ?? "?"): \($0.problem)" }
        } catch let error as RuleExampleCheck.ExampleError {
            report.problems.append("\(locations[error.rule] ?? "?"): \(error)")
        } catch {
            report.problems.append("\(error)")
        }
        return report
    }
}

/// Every field of a rule, for `keyseal rules --format json`: what the rule file says, with the
/// rotation guide in effect (the rule's own, or the standard one).
public struct RuleDescription: Codable, Sendable {
    public let id, provider, description, regex: String
    public let prefilter: String?
    public let secretGroup: Int
    public let nameGroup: Int?
    public let caseless: Bool
    public let minEntropy: Double?
    public let keywords: [String]
    public let generic, guessable: Bool
    public let blockBytes: Int?
    public let pairsWith: String?
    public let checksum: String?
    public let priority: Int
    public let confidence: String?
    public let examples, negativeExamples, references: [String]
    public let rotation: RotationGuide
    public let rotationIsStandard: Bool

    public init(_ rule: Rule) {
        id = rule.id
        provider = rule.provider
        description = rule.description
        regex = rule.regex
        prefilter = rule.prefilter
        secretGroup = rule.secretGroup
        nameGroup = rule.nameGroup
        caseless = rule.caseless
        minEntropy = rule.minEntropy
        keywords = rule.keywords
        generic = rule.generic
        guessable = rule.guessable
        if case .block(let bytes) = rule.span { blockBytes = bytes } else { blockBytes = nil }
        pairsWith = rule.pairsWith
        checksum = rule.checksum.flatMap { raw in RuleSpec.checksums.first { $0.value == raw.rawValue }?.key }
        priority = rule.priority
        confidence = rule.confidence?.rawValue
        examples = rule.positives
        negativeExamples = rule.negatives
        references = rule.references
        rotation = RotationGuide.guide(for: rule)
        rotationIsStandard = rule.rotation == nil
    }

    enum CodingKeys: String, CodingKey {
        case id, provider, description, regex, prefilter, caseless, keywords, generic, guessable, checksum, priority, confidence
        case examples, references, rotation
        case secretGroup = "secret_group", nameGroup = "name_group", minEntropy = "min_entropy", blockBytes = "block_bytes"
        case pairsWith = "pairs_with", negativeExamples = "negative_examples", rotationIsStandard = "rotation_is_standard"
    }

    /// Every key, `null` where a rule leaves a field unset, so a reader sees the whole schema.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(provider, forKey: .provider)
        try c.encode(description, forKey: .description)
        try c.encode(regex, forKey: .regex)
        try c.encode(prefilter, forKey: .prefilter)
        try c.encode(secretGroup, forKey: .secretGroup)
        try c.encode(nameGroup, forKey: .nameGroup)
        try c.encode(caseless, forKey: .caseless)
        try c.encode(minEntropy, forKey: .minEntropy)
        try c.encode(keywords, forKey: .keywords)
        try c.encode(generic, forKey: .generic)
        try c.encode(guessable, forKey: .guessable)
        try c.encode(blockBytes, forKey: .blockBytes)
        try c.encode(pairsWith, forKey: .pairsWith)
        try c.encode(checksum, forKey: .checksum)
        try c.encode(priority, forKey: .priority)
        try c.encode(confidence, forKey: .confidence)
        try c.encode(examples, forKey: .examples)
        try c.encode(negativeExamples, forKey: .negativeExamples)
        try c.encode(references, forKey: .references)
        try c.encode(rotation, forKey: .rotation)
        try c.encode(rotationIsStandard, forKey: .rotationIsStandard)
    }
}

extension RuleCatalog {
    /// Every built-in rule with every field.
    public static var described: [RuleDescription] { BuiltInRules.all.map(RuleDescription.init) }
}
