/// Runs rules against their own examples: the check `keyseal config check` gives custom rules, and
/// the built-in rules' test.
public enum RuleExampleCheck {
    /// Problems found, one line each: a positive example the rule misses, or a negative it matches.
    public static func run(_ rules: [Rule], within all: [Rule]) throws -> [String] {
        guard !rules.isEmpty else { return [] }
        let matcher = try Matcher(rules: all)
        let scratch = try matcher.makeScratch()
        var failures: [String] = []
        for rule in rules {
            guard let index = matcher.rules.firstIndex(where: { $0.id == rule.id }) else { continue }
            if rule.positives.isEmpty { failures.append("\(rule.id): has no positive example") }
            for template in rule.positives {
                let text = ExampleTemplate.expand(template)
                let found = try Array(text.utf8).withUnsafeBytes { try matcher.scan($0, scratch: scratch) }
                if !found.contains(where: { $0.rule == index }) { failures.append("\(rule.id): misses its example \(text)") }
            }
            for template in rule.negatives {
                let text = ExampleTemplate.expand(template)
                let found = try Array(text.utf8).withUnsafeBytes { try matcher.scan($0, scratch: scratch) }
                if found.contains(where: { $0.rule == index }) { failures.append("\(rule.id): matches its negative example \(text)") }
            }
        }
        return failures
    }
}
