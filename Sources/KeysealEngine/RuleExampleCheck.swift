/// Runs rules against their own examples: the check `keyseal config check` gives custom rules, and
/// the built-in rules' test.
public enum RuleExampleCheck {
    /// What the check found: problems (a positive example the rule misses, or a negative it
    /// matches), and warnings (the rule hit PCRE2's match limit on an example).
    public struct Outcome: Sendable {
        public var failures: [String] = []
        public var warnings: [String] = []
    }

    /// Problems found, one line each: a positive example the rule misses, or a negative it matches.
    public static func run(_ rules: [Rule], within all: [Rule]) throws -> [String] {
        try check(rules, within: all).failures
    }

    public static func check(_ rules: [Rule], within all: [Rule]) throws -> Outcome {
        var outcome = Outcome()
        guard !rules.isEmpty else { return outcome }
        let matcher = try Matcher(rules: all)
        let scratch = try matcher.makeScratch()
        for rule in rules {
            guard let index = matcher.rules.firstIndex(where: { $0.id == rule.id }) else { continue }
            if rule.positives.isEmpty { outcome.failures.append("\(rule.id): has no positive example") }
            var limitHits = 0
            for (template, positive) in rule.positives.map({ ($0, true) }) + rule.negatives.map({ ($0, false) }) {
                let text = ExampleTemplate.expand(template)
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
}
