/// Runs rules against their own examples: the check `keyseal config check` gives custom rules, and
/// the built-in rules' tests (`BuiltInRuleTests`).
public enum RuleExampleCheck {
    /// A generic rule (a random token under a key's or a secret's name) finds what it is meant to in
    /// a specific rule's near-miss negative built from random characters (`ACME_KEY=` and one hex
    /// digit too many): a random value named like a secret is worth a look, whatever its provider.
    /// A negative of fixed text (a placeholder, `${ACME_KEY}`) must still trip nothing.
    public static func catchAllMay(_ catchAll: Rule, trip template: String, of rule: Rule) -> Bool {
        catchAll.generic && !rule.generic && template.contains("⟪")
    }

    /// An example template that cannot be expanded (see `ExampleTemplate.TemplateError`), with the
    /// rule and the example it belongs to.
    public struct ExampleError: Error, CustomStringConvertible, Sendable {
        public let rule: String
        public let problem: String
        public var description: String { "rule '\(rule)': \(problem)" }
    }

    /// What the check found: problems (see `run`), and warnings (a rule's regex hit PCRE2's match
    /// limit on one of its own examples).
    public struct Outcome: Sendable {
        public var failures: [String] = []
        public var warnings: [String] = []
    }

    /// Problems found, one line each: a positive example the rule misses, a negative it matches, a
    /// rule with no positive example, or a rule missing from `all`. Throws `ExampleError` for a
    /// malformed template, before compiling anything.
    public static func run(_ rules: [Rule], within all: [Rule]) throws -> [String] {
        try check(rules, within: all).failures
    }

    /// `run`'s problems, and a warning for each rule whose regex hit PCRE2's match limit on its own
    /// examples.
    public static func check(_ rules: [Rule], within all: [Rule]) throws -> Outcome {
        guard !rules.isEmpty else { return Outcome() }
        return try check(rules, matcher: try Matcher(rules: all))
    }

    /// `check` against an already compiled rule set (one matcher for many checks).
    public static func check(_ rules: [Rule], matcher: Matcher) throws -> Outcome {
        var outcome = Outcome()
        guard !rules.isEmpty else { return outcome }
        var expanded: [(positives: [String], negatives: [String])] = []
        for rule in rules {
            func expand(_ templates: [String], _ kind: String) throws -> [String] {
                try templates.enumerated().map { number, template in
                    do {
                        return try ExampleTemplate.checked(template)
                    } catch {
                        throw ExampleError(rule: rule.id, problem: "\(kind) example \(number + 1): \(error)")
                    }
                }
            }
            expanded.append((try expand(rule.positives, "positive"), try expand(rule.negatives, "negative")))
        }
        let scratch = try matcher.makeScratch()
        for (rule, examples) in zip(rules, expanded) {
            guard let index = matcher.rules.firstIndex(where: { $0.id == rule.id }) else {
                outcome.failures.append("\(rule.id): is not in the rule set its examples run against (disabled?), so none of them ran")
                continue
            }
            if examples.positives.isEmpty { outcome.failures.append("\(rule.id): has no positive example") }
            var limitHits = 0
            for (text, positive) in examples.positives.map({ ($0, true) }) + examples.negatives.map({ ($0, false) }) {
                let scan = try Array(text.utf8).withUnsafeBytes { try matcher.scanBlob($0, scratch: scratch) }
                limitHits += scan.regexLimitHits[rule.id] ?? 0
                let matched = scan.matches.contains(where: { $0.rule == index })
                if positive && !matched { outcome.failures.append("\(rule.id): misses its example \(text)") }
                if !positive && matched { outcome.failures.append("\(rule.id): matches its negative example \(text)") }
            }
            if limitHits > 0 {
                outcome.warnings.append("\(rule.id): its regex hit PCRE2's match limit \(limitHits) time(s) on its own examples: "
                                        + "it backtracks too much (nested quantifiers such as (a+)+), so each such place costs time "
                                        + "and what starts there is not matched; scans report these hits")
            }
        }
        return outcome
    }

    /// A problem with one rule, for the checks below.
    public struct RuleProblem: Sendable, Equatable {
        public let rule: String
        public let problem: String
    }

    /// Other rules that a rule's positive example trips (its `pairs_with` partner, either way, aside):
    /// an example must show what this rule finds, and no other rule may claim it.
    public static func crossMatches(_ rules: [Rule], within all: [Rule]) -> [RuleProblem] {
        guard !rules.isEmpty, let matcher = try? Matcher(rules: all) else { return [] }
        return crossMatches(rules, matcher: matcher)
    }

    public static func crossMatches(_ rules: [Rule], matcher: Matcher) -> [RuleProblem] {
        guard let scratch = try? matcher.makeScratch() else { return [] }
        var problems: [RuleProblem] = []
        for rule in rules {
            for template in rule.positives {
                guard let text = try? ExampleTemplate.checked(template),
                      let matches = try? Array(text.utf8).withUnsafeBytes({ try matcher.scan($0, scratch: scratch) }) else { continue }
                let others = Set(matches.map { matcher.rules[$0.rule] }
                    .filter { $0.id != rule.id && $0.id != rule.pairsWith && $0.pairsWith != rule.id }.map(\.id)).sorted()
                if !others.isEmpty {
                    problems.append(RuleProblem(rule: rule.id, problem: "\(rule.id): its example also trips \(others.joined(separator: ", ")): \(text)"))
                }
            }
        }
        return problems
    }

    /// Rules that find exactly the same secret in a rule's positive examples with the same priority
    /// (both generic or both specific): which one names the secret would rest on the tie-breaks
    /// (longer match, then id), so the rule files must say it with `priority`.
    public static func ambiguousPriorities(_ rules: [Rule], matcher: Matcher) -> [RuleProblem] {
        guard let scratch = try? matcher.makeScratch() else { return [] }
        scratch.keepOverlaps = true
        var problems: [RuleProblem] = []
        for rule in rules {
            for template in rule.positives {
                guard let text = try? ExampleTemplate.checked(template),
                      let matches = try? Array(text.utf8).withUnsafeBytes({ try matcher.scan($0, scratch: scratch) }) else { continue }
                for mine in matches where matcher.rules[mine.rule].id == rule.id {
                    for other in matches where other.rule != mine.rule && other.secretStart == mine.secretStart
                        && other.secretEnd == mine.secretEnd {
                        let competitor = matcher.rules[other.rule]
                        if competitor.priority == rule.priority && competitor.generic == rule.generic {
                            problems.append(RuleProblem(rule: rule.id, problem: "\(rule.id) and \(competitor.id) find the same secret "
                                + "in \(rule.id)'s example with the same priority (\(rule.priority)): give the one that should name it a higher priority"))
                        }
                    }
                }
            }
        }
        return problems
    }
}
