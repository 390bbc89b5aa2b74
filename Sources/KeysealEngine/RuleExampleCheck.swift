/// Runs rules against their own examples: the check `keyseal config check` gives custom rules, and
/// the built-in rules' test (`RuleExamplesTests.testBuiltInRulesPassTheirOwnExamples`).
public enum RuleExampleCheck {
    /// An example template that cannot be expanded (see `ExampleTemplate.TemplateError`), with the
    /// rule and the example it belongs to.
    public struct ExampleError: Error, CustomStringConvertible, Sendable {
        public let rule: String
        public let problem: String
        public var description: String { "rule '\(rule)': \(problem)" }
    }

    /// Problems found, one line each: a positive example the rule misses, a negative it matches, a
    /// rule with no positive example, or a rule missing from `all`. Throws `ExampleError` for a
    /// malformed template, before compiling anything.
    public static func run(_ rules: [Rule], within all: [Rule]) throws -> [String] {
        guard !rules.isEmpty else { return [] }
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
        let matcher = try Matcher(rules: all)
        let scratch = try matcher.makeScratch()
        var failures: [String] = []
        for (rule, examples) in zip(rules, expanded) {
            guard let index = matcher.rules.firstIndex(where: { $0.id == rule.id }) else {
                failures.append("\(rule.id): is not in the rule set its examples run against (disabled?), so none of them ran")
                continue
            }
            if examples.positives.isEmpty { failures.append("\(rule.id): has no positive example") }
            for text in examples.positives {
                let found = try Array(text.utf8).withUnsafeBytes { try matcher.scan($0, scratch: scratch) }
                if !found.contains(where: { $0.rule == index }) { failures.append("\(rule.id): misses its example \(text)") }
            }
            for text in examples.negatives {
                let found = try Array(text.utf8).withUnsafeBytes { try matcher.scan($0, scratch: scratch) }
                if found.contains(where: { $0.rule == index }) { failures.append("\(rule.id): matches its negative example \(text)") }
            }
        }
        return failures
    }
}
