import Foundation
import KeysealCore
import KeysealRuleFiles
import Testing

@testable import KeysealEngine

/// One test case per built-in rule, named by the rule's id: a failure names the rule. To run one
/// rule's cases: `KEYSEAL_RULES=stripe-secret-key swift test --filter BuiltInRuleTests` (a comma-
/// separated list of ids; without it, every rule).
@Suite("Built-in rules")
struct BuiltInRuleTests {
    static let selected: [String] = {
        let all = BuiltInRules.all.map(\.id)
        guard let wanted = ProcessInfo.processInfo.environment["KEYSEAL_RULES"], !wanted.isEmpty else { return all }
        return wanted.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
    }()

    static let byID = Dictionary(BuiltInRules.all.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })

    /// Safe to force: the built-in set compiling is asserted by RuleExamplesTests.testBuiltInRulesCompile.
    static let matcher = try! Matcher(rules: BuiltInRules.all)

    static func scan(_ text: String, _ scratch: Matcher.Scratch) throws -> [EngineMatch] {
        try Array(text.utf8).withUnsafeBytes { try matcher.scan($0, scratch: scratch) }
    }

    /// Its positives are found by it and by no other rule (its pair partner aside), its negatives by
    /// no rule at all, and no rule of the same priority finds the same secret in its examples.
    @Test("examples", arguments: selected)
    func examples(_ id: String) throws {
        let rule = try #require(Self.byID[id], "no built-in rule '\(id)'")
        #expect(rule.positives.count >= 2, "needs two positive examples")
        #expect(rule.negatives.count >= 1, "needs a negative example")
        let outcome = try RuleExampleCheck.check([rule], matcher: Self.matcher)
        #expect(outcome.failures == [])
        #expect(outcome.warnings == [])
        #expect(RuleExampleCheck.crossMatches([rule], matcher: Self.matcher) == [])
        #expect(RuleExampleCheck.ambiguousPriorities([rule], matcher: Self.matcher) == [])
        let scratch = try Self.matcher.makeScratch()
        for template in rule.negatives {
            let text = ExampleTemplate.expand(template)
            let tripped = try Self.scan(text, scratch).map { Self.matcher.rules[$0.rule] }
                .filter { !RuleExampleCheck.catchAllMay($0, trip: template, of: rule) }.map(\.id)
            #expect(tripped.isEmpty, "its negative example \(text) trips \(tripped)")
        }
    }

    /// Fields a reader relies on: a kebab-case id, a provider, a description, references that are
    /// addresses, and a rotation guide (its own, or the standard one) that says what to do.
    @Test("data", arguments: selected)
    func data(_ id: String) throws {
        let rule = try #require(Self.byID[id], "no built-in rule '\(id)'")
        #expect(RuleFileParser.isKebabCase(rule.id))
        #expect(!rule.provider.isEmpty && !rule.description.isEmpty)
        for reference in rule.references { #expect(reference.hasPrefix("https://") || reference.hasPrefix("http://"), "\(reference)") }
        let guide = RotationGuide.guide(for: rule)
        #expect(!guide.revoke.isEmpty)
        if let own = rule.rotation {
            // A file's own guide is specific: not the standard sentence copied in.
            #expect(!own.revoke.contains("console or account settings > API keys / access tokens: revoke the"),
                    "a copied one-sentence guide; drop it and let the standard guide apply")
        }
    }
}
