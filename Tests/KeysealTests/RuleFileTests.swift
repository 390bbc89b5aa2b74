import Foundation
import KeysealCore
import KeysealRuleFiles
import XCTest

@testable import KeysealEngine

/// The rule files are the source of the built-in rules: the checked-in Swift is exactly what they
/// generate, a user's `.keyseal.toml` rule has the same powers, and `keyseal rules --check` tells a
/// contributor what is wrong with a file, where.
final class RuleFileTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func ruleFiles() throws -> [RuleFile] {
        let folder = Self.root.appendingPathComponent("Sources/KeysealEngine/Rules")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".toml") }.sorted()
        XCTAssertGreaterThan(names.count, 100)
        return try names.map { name in
            let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            let file = try RuleFileParser.parse(text: text, path: "Sources/KeysealEngine/Rules/" + name)
            XCTAssertEqual(file.warnings, [], name)
            return file
        }
    }

    /// The pattern the hook scripts use: a checked-in generated file and a test that fails when stale.
    func testGeneratedSwiftIsWhatTheRuleFilesGenerate() throws {
        let generated = try String(contentsOf: Self.root.appendingPathComponent("Sources/KeysealEngine/BuiltInRules.generated.swift"),
                                   encoding: .utf8)
        XCTAssertTrue(generated == SwiftSource.render(try ruleFiles()),
                      "BuiltInRules.generated.swift is stale: run `swift run keyseal-rulegen` at the package root")
    }

    /// Field by field, the compiled-in rules are the files' rules (read as a user's rules are read).
    func testBuiltInRulesAreTheRuleFilesRules() throws {
        let fromFiles = try ruleFiles().flatMap(\.rules).map(Rule.init)
        XCTAssertEqual(fromFiles.count, BuiltInRules.all.count)
        for (file, built) in zip(fromFiles, BuiltInRules.all) { XCTAssertEqual(file, built, file.id) }
    }

    /// Rules no documentation of the format was found for (the format would come from observed keys),
    /// and the heuristics with no format to cite. This list may only shrink: a rule that gains
    /// references must leave it. (Empty since cassandra-uri cites a driver's DSN documentation.)
    static let undocumented: Set<String> = []
    static let heuristics: Set<String> = ["generic-secret-xml-element", "generic-secret-assignment", "generic-named-key"]

    /// Every rule cites the documentation its format was taken from (a provider page, an official
    /// SDK, an RFC), but for the listed ones.
    func testEveryRuleCitesItsDocumentation() {
        for rule in BuiltInRules.all {
            if Self.undocumented.contains(rule.id) || Self.heuristics.contains(rule.id) {
                XCTAssertTrue(rule.references.isEmpty, "\(rule.id) now cites its documentation: take it off the list")
            } else {
                XCTAssertFalse(rule.references.isEmpty, "\(rule.id) has no references: cite the provider's documentation of the format")
            }
        }
        XCTAssertTrue(Self.undocumented.isSubset(of: Set(BuiltInRules.all.map(\.id))))
    }

    /// A rotation guide's CLI steps must create, disable or delete the credential. Logging a CLI in
    /// or out (`gh auth refresh`, `stripe login`, `docker logout`, `cargo logout`) changes only that
    /// tool's own session and revokes nothing, so no guide may offer it.
    func testNoRotationStepIsOnlyALoginOrLogout() throws {
        let sessionOnly = try NSRegularExpression(pattern: #"(^|\s)(login|logout)(\s|$)|\bauth (refresh|token|login|logout)\b"#)
        for rule in BuiltInRules.all {
            for step in rule.rotation?.cli ?? [] {
                let range = NSRange(step.startIndex..., in: step)
                XCTAssertNil(sessionOnly.firstMatch(in: step, range: range), "\(rule.id): '\(step)' only logs a CLI in or out")
            }
        }
    }

    /// Every built-in rule has its own guide (not the standard one) that names the console page
    /// where the credential is revoked, or says why there is none; every CLI step is documented.
    func testEveryGuideNamesAConsolePageAndDocumentsItsCLISteps() {
        for rule in BuiltInRules.all {
            guard let guide = rule.rotation else {
                XCTFail("\(rule.id): no [rotation] in its rule file (the standard guide names no console)")
                continue
            }
            XCTAssertTrue((guide.console != nil) != (guide.noConsole != nil), "\(rule.id): give console or no_console")
            if let console = guide.console { XCTAssertTrue(console.hasPrefix("https://"), "\(rule.id): \(console)") }
            if !guide.cli.isEmpty {
                XCTAssertNotNil(guide.cliReference, "\(rule.id): cli steps without cli_reference")
            }
        }
    }

    /// `no_console` replaces `console`, never joins it; `cli_reference` documents `cli` commands.
    func testConsoleAndCLIReferenceRulesOfTheRotationTable() throws {
        func parse(_ rotation: String) throws -> KeysealConfig {
            try KeysealConfig.parse("""
                [rotation]
                revoke = "Revoke it"
                \(rotation)

                [[rules]]
                id = "acme-key"
                provider = "Acme"
                description = "Acme key"
                regex = '\\b(acme_[a-f0-9]{32})\\b'
                examples = ["acme_⟪hex:32⟫"]
                """, file: "test.toml")
        }
        XCTAssertThrowsError(try parse("console = 'https://acme.example/keys'\nno_console = 'self-hosted'"))
        XCTAssertThrowsError(try parse("cli_reference = 'https://acme.example/cli'"), "a reference without commands")
        XCTAssertThrowsError(try parse("cli = ['acme keys delete ID']\ncli_reference = 'acme docs'"), "not an address")
        let selfHosted = try parse("no_console = 'the admin page of your own server'")
        XCTAssertEqual(selfHosted.customRules.first?.rotation?.noConsole, "the admin page of your own server")
        XCTAssertEqual(selfHosted.warnings, [])
    }

    func testChecksumAndConfidenceNamesAreTheEnginesOwn() {
        XCTAssertEqual(Set(RuleSpec.checksums.values), Set(TokenChecksum.allCases.map(\.rawValue)))
        XCTAssertEqual(RuleSpec.confidences, RuleConfidence.allCases.map(\.rawValue))
    }

    /// A wrong prefix in a rule fails that rule's own examples: for every rule whose regex starts with
    /// a literal prefix, a copy with one prefix letter changed must miss an example.
    func testAWrongPrefixFailsTheRulesOwnExamples() throws {
        var mutated: [Rule] = []
        for rule in BuiltInRules.all {
            // `\b(abc…` or `(abc…`: the literal letters right after the capture group opens.
            guard let open = rule.regex.range(of: "(") else { continue }
            let rest = rule.regex[open.upperBound...]
            let prefix = rest.prefix { $0.isASCII && $0.isLetter }
            guard prefix.count >= 3, rule.regex[..<open.lowerBound].allSatisfy({ "\\b".contains($0) }) else { continue }
            var wrong = rule
            let first = prefix.first!  // Safe: prefix has at least three characters.
            let replacement: Character = first == "q" ? "z" : (first.isUppercase ? "Q" : "q")
            wrong.regex = String(rule.regex[..<open.upperBound]) + String(replacement) + String(rest.dropFirst())
            wrong.prefilter = nil
            mutated.append(wrong)
        }
        XCTAssertGreaterThan(mutated.count, 100, "rules with a literal prefix")
        let others = BuiltInRules.all.filter { rule in !mutated.contains { $0.id == rule.id } }
        let failures = try RuleExampleCheck.run(mutated, within: others + mutated)
        let caught = Set(failures.map { String($0.prefix { $0 != ":" }) })
        let missed = mutated.map(\.id).filter { !caught.contains($0) }
        XCTAssertEqual(missed, [], "a wrong prefix passes these rules' examples")
    }

    /// A wrong length fails too: a copy of each rule whose last fixed-length run (`{32}`) is one
    /// longer must miss an example. (Rules whose every run is a range are left out.)
    func testAWrongLengthFailsTheRulesOwnExamples() throws {
        let fixed = try NSRegularExpression(pattern: "\\{([0-9]+)\\}")
        var mutated: [Rule] = []
        for rule in BuiltInRules.all where rule.span == .line {
            let text = rule.regex as NSString
            guard let last = fixed.matches(in: rule.regex, range: NSRange(location: 0, length: text.length)).last,
                  let count = Int(text.substring(with: last.range(at: 1))), count >= 8 else { continue }
            var wrong = rule
            wrong.regex = text.replacingCharacters(in: last.range, with: "{\(count + 1)}")
            mutated.append(wrong)
        }
        XCTAssertGreaterThan(mutated.count, 250, "rules with a fixed-length run")
        let others = BuiltInRules.all.filter { rule in !mutated.contains { $0.id == rule.id } }
        let failures = try RuleExampleCheck.run(mutated, within: others + mutated)
        let caught = Set(failures.map { String($0.prefix { $0 != ":" }) })
        XCTAssertEqual(mutated.map(\.id).filter { !caught.contains($0) }, [], "a wrong length passes these rules' examples")
    }

    /// Everything a built-in rule can say, a `.keyseal.toml` rule can say, through the same parser.
    func testUserRulesHaveTheBuiltInRulesPowers() throws {
        let config = try KeysealConfig.parse("""
            [rotation]
            revoke = "Acme console > Keys: revoke the key"

            [[rules]]
            id = "acme-key"
            provider = "Acme"
            description = "Acme key"
            assigned_to = 'acme[_-]?api'
            value = '[a-f0-9]{32}'
            min_entropy = 2.5
            keywords = ["Acme"]
            priority = 2
            confidence = "medium"
            pairs_with = "acme-key-id"
            guessable = true
            examples = ["ACME_API_KEY=⟪hex:32⟫", "acme-api: '⟪hex:32⟫'"]
            negative_examples = ["ACME_API_KEY=⟪hex:12⟫"]
            references = ["https://acme.example/docs/keys"]

            [[rules]]
            id = "acme-key-id"
            provider = "Acme"
            description = "Acme key id"
            regex = '\\b(AK[0-9]{8})\\b'
            checksum = "base58check"
            block_bytes = 2048
            generic = true
            name_group = 1
            examples = ["AK⟪dig:8⟫"]
            [rules.rotation]
            revoke = "Acme console > Key ids: delete the id"
            console = "https://acme.example/console/keys"
            cli = ["acme keys delete ID"]
            cli_reference = "https://acme.example/docs/cli#keys-delete"
            notes = "Ids are public in logs."
            """, file: "test.toml")
        XCTAssertEqual(config.warnings, [])
        let key = try XCTUnwrap(config.customRules.first)
        XCTAssertEqual(key.prefilter, RuleSpec.assignedRegex(name: "acme[_-]?api", value: "x").prefilter)
        XCTAssertTrue(key.namedValue)
        XCTAssertEqual(key.nameGroup, 2)
        XCTAssertEqual(key.secretGroup, 3)
        XCTAssertTrue(key.caseless)
        XCTAssertEqual(key.minEntropy, 2.5)
        XCTAssertEqual(key.keywords, ["acme"])
        XCTAssertEqual(key.priority, 2)
        XCTAssertEqual(key.confidence, .medium)
        XCTAssertEqual(key.pairsWith, "acme-key-id")
        XCTAssertTrue(key.guessable)
        XCTAssertEqual(key.references, ["https://acme.example/docs/keys"])
        XCTAssertEqual(key.rotation?.revoke, "Acme console > Keys: revoke the key", "the file's [rotation]")
        let id = try XCTUnwrap(config.customRules.last)
        XCTAssertEqual(id.checksum, .base58Check)
        XCTAssertEqual(id.span, .block(maxBytes: 2048))
        XCTAssertTrue(id.generic)
        XCTAssertEqual(id.nameGroup, 1)
        XCTAssertEqual(id.rotation?.console, "https://acme.example/console/keys")
        XCTAssertEqual(id.rotation?.cliReference, "https://acme.example/docs/cli#keys-delete")
        XCTAssertEqual(id.rotation?.cli, ["acme keys delete ID"])

        // The names an earlier .keyseal.toml used are still read.
        let old = try KeysealConfig.parse("""
            [[rules]]
            id = "old-style"
            provider = "Old"
            regex = '\\b(old_[a-z]{20})\\b'
            entropy = 2
            positives = ["old_⟪lo:20⟫"]
            negatives = ["old_x"]
            """, file: "old.toml")
        XCTAssertEqual(old.customRules.first?.minEntropy, 2)
        XCTAssertEqual(old.customRules.first?.positives, ["old_⟪lo:20⟫"])
        XCTAssertEqual(old.customRules.first?.negatives, ["old_x"])
    }

    /// A crafted config with a rule of 100,000 unknown keys (and as many at the top level): each
    /// warning names its own line, found from one pass over the file. Looking each key up by scanning
    /// the lines (as before) would cost 10^10 line reads here.
    func testManyUnknownKeysAreLocatedInLinearTime() throws {
        let count = 100_000
        var text = (0..<count).map { "top_\($0) = 1\n" }.joined()
        text += "[[rules]]\nid = \"acme-token\"\nprovider = \"Acme\"\nregex = '\\b(acme_[a-z0-9]{32})\\b'\nexamples = [\"acme_⟪lo:32⟫\"]\n"
        text += (0..<count).map { "extra_\($0) = 1\n" }.joined()
        let config = try KeysealConfig.parse(text, file: "big.toml")
        XCTAssertEqual(config.customRules.map(\.id), ["acme-token"])
        XCTAssertEqual(config.warnings.count, 2 * count)
        XCTAssertTrue(config.warnings.contains("big.toml:\(count): unknown key 'top_\(count - 1)' ignored"))
        XCTAssertTrue(config.warnings.contains("big.toml:\(count + 6 + 41): unknown key 'rules.extra_41' ignored"))
    }

    /// Which rule names a secret two rules find is decided by priority, whatever order they are listed in.
    func testPriorityNotOrderDecidesTheWinner() throws {
        func rule(_ id: String, priority: Int) -> Rule {
            Rule(id: id, provider: id, description: id, regex: "\\b(tok_[a-z0-9]{24})\\b", priority: priority,
                 positives: ["tok_⟪lo:24⟫"], negatives: [])
        }
        let text = Array(("x = tok_" + ExampleTemplate.expand("⟪lo:24⟫", salt: "order")).utf8)
        for rules in [[rule("low", priority: 0), rule("high", priority: 1)], [rule("high", priority: 1), rule("low", priority: 0)]] {
            let matcher = try Matcher(rules: rules)
            let matches = try text.withUnsafeBytes { try matcher.scan($0, scratch: try matcher.makeScratch()) }
            XCTAssertEqual(matches.map { matcher.rules[$0.rule].id }, ["high"])
        }
        // Equal priority: the ambiguity check reports it, so a rule file cannot leave it to the tie-break.
        let tied = [rule("first", priority: 0), rule("second", priority: 0)]
        let problems = RuleExampleCheck.ambiguousPriorities(tied, matcher: try Matcher(rules: tied))
        XCTAssertEqual(problems.map(\.rule), ["first", "second"])
    }

    // MARK: - keyseal rules

    func write(_ text: String, in repo: TestRepository, _ name: String = "acme.toml") throws -> String {
        try text.write(to: repo.url.appendingPathComponent(name), atomically: true, encoding: .utf8)
        return name
    }

    func testRulesCheckAcceptsAGoodFile() throws {
        let repo = try TestRepository()
        let file = try write("""
            [rotation]
            revoke = "Acme console > Tokens: revoke the token"

            [[rules]]
            id = "acme-token"
            provider = "Acme"
            description = "Acme API token"
            regex = '\\b(acme_[a-z0-9]{32})\\b'
            min_entropy = 3.0
            examples = ["ACME_TOKEN=acme_⟪lo:32⟫", "token: 'acme_⟪lo:32⟫'"]
            negative_examples = ["acme_⟪lo:31⟫", "acne_⟪lo:32⟫"]
            references = ["https://acme.example/docs/tokens"]
            """, in: repo)
        let out = try KeysealBinary.run(["rules", "--check", file], in: repo.url)
        XCTAssertEqual(out.status, 0, out.stderr)
        XCTAssertEqual(out.stdout, "ok: 1 rule(s) in 1 file(s)\n")
        XCTAssertEqual(out.stderr, "")
    }

    /// Schema errors: exit 2 and `file:line`, the line of the offending key.
    func testRulesCheckLocatesSchemaErrors() throws {
        let repo = try TestRepository()
        let cases: [(String, String)] = [
            ("[[rules]]\nid = 'a-b'\nprovider = 'A'\nregex = '\\\\b(x_[a-z]{9})\\\\b'\nexamples = ['x_⟪lo:9⟫']\n\n[[rules]]\nid = 'c-d'\nprovider = 'C'\nregex = '\\\\b(y_[a-z]{9})\\\\b'\nchecksum = 'crc'\n",
             "acme.toml:11 [rules.checksum]: 'crc' is not one of"),
            ("[[rules]]\nid = 'a-b'\nprovider = 'A'\nregex = '\\\\b(x_[a-z]{9})\\\\b'\nexampels = ['x_⟪lo:9⟫']\n", "acme.toml:5: unknown key 'rules.exampels'"),
            ("[[rules]]\nid = 'a-b'\nprovider = 'A'\nregex = '(unclosed'\nexamples = ['x']\n", "acme.toml:1: rule 'a-b':"),
            ("[[rules]]\nid = 'a-b'\nprovider = 'A'\nregex = '\\\\b(x_[a-z]{9})\\\\b'\nexamples = ['x_⟪low:9⟫']\n", "acme.toml:1: rule 'a-b': positive example 1:"),
            ("[[rules]]\nid = 'A_B'\n", "acme.toml:2 [rules.id]: rule id 'A_B' must be kebab-case"),
        ]
        for (text, expected) in cases {
            let file = try write(text, in: repo)
            let out = try KeysealBinary.run(["rules", "--check", file], in: repo.url)
            XCTAssertEqual(out.status, 2, "\(expected): \(out.stdout)")
            XCTAssertTrue(out.stderr.contains(expected), "expected \(expected) in: \(out.stderr)")
            XCTAssertFalse(out.stderr.contains("USAGE"), out.stderr)
        }
    }

    /// Examples that fail: exit 1, each failure named with the rule's file and line.
    func testRulesCheckReportsFailingExamples() throws {
        let repo = try TestRepository()
        let stripe = "sk_" + "live_"
        let file = try write("""
            # header

            [[rules]]
            id = "acme-token"
            provider = "Acme"
            regex = '\\b(acme_[a-z0-9]{32})\\b'
            examples = ["acme_⟪up:32⟫"]
            negative_examples = ["acme_⟪lo:32⟫"]

            [[rules]]
            id = "acme-stripe-shaped"
            provider = "Acme"
            regex = '\\b(\(stripe)[A-Za-z0-9]{24})\\b'
            examples = ["\(stripe)⟪an:24⟫"]
            """, in: repo)
        let out = try KeysealBinary.run(["rules", "--check", file], in: repo.url)
        XCTAssertEqual(out.status, 1, out.stderr)
        XCTAssertTrue(out.stdout.contains("acme.toml:3: acme-token: misses its example"), out.stdout)
        XCTAssertTrue(out.stdout.contains("acme.toml:3: acme-token: matches its negative example"), out.stdout)
        XCTAssertTrue(out.stdout.contains("acme.toml:10: acme-stripe-shaped and stripe-secret-key find the same secret"), out.stdout)
    }

    /// `rules --format json` carries every field of the schema.
    func testRulesJSONHasEveryField() throws {
        let repo = try TestRepository()
        let out = try KeysealBinary.run(["rules", "--format", "json"], in: repo.url)
        XCTAssertEqual(out.status, 0, out.stderr)
        let entries = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [[String: Any]])
        let rules = entries.filter { $0["kind"] as? String == "content" }
        XCTAssertEqual(rules.count, BuiltInRules.all.count)
        let keys = Set(rules.flatMap(\.keys))
        let schema = RuleFileParser.ruleKeys.subtracting(["assigned_to", "value", "entropy", "positives", "negatives"])
        XCTAssertEqual(schema.subtracting(keys), [], "fields the JSON leaves out")
        let aws = try XCTUnwrap(rules.first { $0["id"] as? String == "aws-secret-access-key" })
        XCTAssertEqual(aws["pairs_with"] as? String, "aws-access-key-id")
        XCTAssertNotNil((aws["rotation"] as? [String: Any])?["cli"])
    }
}
