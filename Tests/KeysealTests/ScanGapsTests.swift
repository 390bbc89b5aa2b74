import Foundation
import XCTest

@testable import KeysealEngine

/// Hostile blob shapes against the engine: no budget ends a blob quietly, confirming hits is linear
/// in the buffer whatever it holds, and a regex limit is counted and skipped, not the rest of a line.
final class ScanGapsTests: XCTestCase {
    static let matcher: Matcher = {
        // Safe: the built-in rules compiling is what RuleExamplesTests.testBuiltInRulesCompile asserts.
        try! Matcher(rules: BuiltInRules.all)
    }()

    /// A custom rule whose regex backtracks without end on a run of letters not followed by a digit.
    static let nested = Rule(id: "nested-token", provider: "Acme", description: "Acme token (nested quantifiers)",
                             regex: "key=((?:[a-z]+)+[0-9])", positives: [], negatives: [])

    func scanBlob(_ matcher: Matcher, _ bytes: [UInt8]) throws -> BlobScan {
        let scratch = try matcher.makeScratch()
        return try bytes.withUnsafeBytes { try matcher.scanBlob($0, scratch: scratch) }
    }

    func ruleIndex(_ id: String, in matcher: Matcher) -> Int {
        // Safe: the tests name rules that exist.
        matcher.rules.firstIndex { $0.id == id }!
    }

    /// Over 4.2 million Vectorscan hits used to end the scan of a blob as if it were done: the
    /// token after a few million `\/` lines was never seen.
    func testMillionsOfLocatorHitsDoNotEndTheBlob() throws {
        let token = FakeSecret.github("after-escapes")
        var bytes = [UInt8]()
        bytes.reserveCapacity(4_500_000 * 3 + 100)
        for _ in 0..<4_500_000 { bytes += [0x5c, 0x2f, 0x0a] }
        bytes += Array("token=\(token)\n".utf8)
        let scan = try scanBlob(Self.matcher, bytes)
        XCTAssertEqual(scan.matches.map { String(decoding: $0.secret, as: UTF8.self) }, [token])
        XCTAssertEqual(scan.matches.first?.line, 4_500_001)
        // Locators past the budget were dropped, and the blob says so; the rules ran over it all.
        XCTAssertTrue(scan.gaps.contains(.decodedInPart))
        XCTAssertTrue(scan.gaps.intersection(.blocking).isEmpty, "\(scan.gaps)")
    }

    /// The decoding budget (2,000 spans) spent is not silent either: the blob says it was decoded in part.
    func testSpentDecodingBudgetMarksTheBlob() throws {
        let within = try scanBlob(Self.matcher, Array(String(repeating: "u=a\\/b\n", count: 1_500).utf8))
        XCTAssertEqual(within.gaps, [])
        let past = try scanBlob(Self.matcher, Array(String(repeating: "u=a\\/b\n", count: 3_000).utf8))
        XCTAssertEqual(past.gaps, [.decodedInPart])
    }

    /// Rule hits past the buffer's size are confirmed as they come, not dropped: 4.3 million hits of
    /// one rule, then a token of another.
    func testMillionsOfRuleHitsDoNotEndTheBlob() throws {
        // Vectorscan reports every end of `tok_` and 1 to 60 letters (4.32 million hits); the regex
        // itself never matches.
        let custom = Rule(id: "letters-token", provider: "Acme", description: "tok_ then letters", regex: "tok_([a-z]{1,60})!",
                          prefilter: "tok_[a-z]{1,60}", positives: [], negatives: [])
        let matcher = try Matcher(rules: BuiltInRules.all + [custom])
        let unit = Array(("tok_" + String(repeating: "q", count: 60) + " ").utf8)  // 60 hits each
        let units = 72_000
        var bytes = [UInt8]()
        bytes.reserveCapacity(unit.count * units + 100)
        for _ in 0..<units { bytes += unit }
        let token = FakeSecret.github("after-hits")
        bytes += Array("\ntoken=\(token)\n".utf8)
        let scan = try scanBlob(matcher, bytes)
        let github = ruleIndex("github-pat", in: matcher)
        XCTAssertEqual(scan.matches.filter { $0.rule == github }.map { String(decoding: $0.secret, as: UTF8.self) }, [token])
        XCTAssertEqual(scan.gaps, [])
    }

    /// One 10 MB line of PEM headers (a block rule's prefilter), then a key in a JSON string on the
    /// same line. Each hit walked back to the line start (hours on this line), and a block's window
    /// was measured from the line start, so the key past the first 16 KiB was never searched.
    func testBlockRuleOnOneLongLineIsLinearAndFindsTheKeyAtItsEnd() throws {
        let rule = ruleIndex("private-key-rsa", in: Self.matcher)
        let header = Array("-----BEGIN RSA PRIVATE KEY-----".utf8)
        var bytes = [UInt8]()
        let count = 10_000_000 / header.count
        bytes.reserveCapacity(count * header.count + 1000)
        for _ in 0..<count { bytes += header }
        let key = ExampleTemplate.expand(BuiltInRules.all[rule].positives[1], salt: "long-line")
        bytes += Array((" " + key).utf8)
        let scan = try scanBlob(Self.matcher, bytes)
        let found = scan.matches.filter { $0.rule == rule }
        XCTAssertEqual(found.count, 1)
        XCTAssertEqual(found.first?.line, 1)
        XCTAssertEqual(found.first?.secretStart ?? 0, count * header.count + 1 + 17 + header.count + 2,
                       "the key's own header starts the match, not one of the headers before it")
        XCTAssertEqual(scan.gaps, [])
    }

    /// A 3 MB line of the base64 of `-----BEGIN` (a decoding locator): every hit walked back over
    /// the whole run to find its start. A base64 PEM key on the next line is still decoded.
    func testBase64HeaderLocatorsOnOneLongRunAreLinear() throws {
        let rule = ruleIndex("private-key-rsa", in: Self.matcher)
        let pem = ExampleTemplate.expand(BuiltInRules.all[rule].positives[0], salt: "b64-run")
        let run = String(repeating: "LS0tLS1CRUdJTi", count: 3_000_000 / 14)
        let text = "junk: \(run)\nKEY_PEM: \(Data(pem.utf8).base64EncodedString())\n"
        let scan = try scanBlob(Self.matcher, Array(text.utf8))
        let found = scan.matches.filter { $0.rule == rule }
        XCTAssertEqual(found.count, 1)
        XCTAssertEqual(found.first?.encoding, "base64")
        XCTAssertEqual(found.first?.line, 2)
    }

    /// A 3 MB line of 60,000 tokens: each accepted match scanned the whole line for `keyseal:allow`,
    /// and `locate` counted each column from the line start.
    func testManyMatchesOnOneLongLineAreLinear() throws {
        let github = ruleIndex("github-pat", in: Self.matcher)
        var text = ""
        var tokens: [String] = []
        for i in 0..<60_000 {
            let token = FakeSecret.github("line-\(i)")
            tokens.append(token)
            text += "t\(i)=\(token); "
        }
        let scan = try scanBlob(Self.matcher, Array(text.utf8))
        let found = scan.matches.filter { $0.rule == github }
        XCTAssertEqual(found.count, tokens.count)
        XCTAssertEqual(found.last.map { String(decoding: $0.secret, as: UTF8.self) }, tokens.last)
        let lastColumn = text.utf8.count - tokens[tokens.count - 1].utf8.count - 2 + 1
        XCTAssertEqual(found.last?.column, lastColumn)
        XCTAssertEqual(found.last?.line, 1)
    }

    /// Passwords with their user on one long line: each looked for its identity from the line
    /// start, and read the whole line around it.
    func testManyPasswordsOnOneLongLineAreLinear() throws {
        var text = "db_user=svc_app\n"
        let count = 20_000
        for i in 0..<count { text += "db_password=\"\(FakeSecret.password("long-\(i)"))\" " }
        text += "\n"
        let scan = try scanBlob(Self.matcher, Array(text.utf8))
        // The same assignments one per line are the oracle (the placeholder filter drops a few).
        let oneEach = try scanBlob(Self.matcher, Array(text.replacingOccurrences(of: "\" db_", with: "\"\ndb_").utf8))
        XCTAssertGreaterThan(oneEach.matches.count, count * 9 / 10)
        XCTAssertEqual(scan.matches.map(\.secret), oneEach.matches.map(\.secret))
        XCTAssertEqual(scan.matches.last?.identity, "db_user (svc_…)")
    }

    /// A custom rule with nested quantifiers: each line holds a run of letters the regex backtracks
    /// on without end, then a real match. PCRE2's limit used to abandon the line (after 0.3 s at
    /// the library's default limit); now the start that hit it is counted and the search goes on.
    func testRegexLimitIsCountedAndTheRestOfTheLineIsSearched() throws {
        let matcher = try Matcher(rules: BuiltInRules.all + [Self.nested])
        var text = ""
        var secrets: [String] = []
        for i in 0..<20 {
            let secret = String((0..<12).map { Character(Unicode.Scalar(UInt8(97 + (i * 7 + $0 * 5) % 26))) }) + "7"
            secrets.append(secret)
            text += "x key=" + String(repeating: "a", count: 40) + "! then key=\(secret) end\n"
        }
        let scan = try scanBlob(matcher, Array(text.utf8))
        let rule = matcher.rules.count - 1
        XCTAssertEqual(scan.matches.filter { $0.rule == rule }.map { String(decoding: $0.secret, as: UTF8.self) }, secrets)
        XCTAssertEqual(scan.regexLimitHits, ["nested-token": 20])
        XCTAssertTrue(scan.gaps.contains(.regexLimit))
    }

    /// A rule that hits the limit everywhere is given up for the rest of the blob after a bounded
    /// number of hits (and the blob says so), rather than costing minutes.
    func testRegexLimitHitsPerBlobAreBounded() throws {
        let matcher = try Matcher(rules: BuiltInRules.all + [Self.nested])
        let line = "key=" + String(repeating: "b", count: 40) + "! key=abc1\n"
        let text = String(repeating: line, count: 500)
        let scan = try scanBlob(matcher, Array(text.utf8))
        XCTAssertEqual(scan.regexLimitHits["nested-token"], Matcher.maxLimitHitsPerRule)
        XCTAssertTrue(scan.gaps.contains(.regexLimit))
    }

    func testPairsAreLinkedToTheNearestPartner() throws {
        var text = ""
        for i in 0..<3 {
            text += "AWS_ACCESS_KEY_ID=\(FakeSecret.awsKeyID("pair-\(i)"))\n"
            text += "AWS_SECRET_ACCESS_KEY=\(ExampleTemplate.expand("⟪b64:40⟫", salt: "pair-\(i)").replacingOccurrences(of: "=", with: "A"))\n\n"
        }
        let scan = try scanBlob(Self.matcher, Array(text.utf8))
        XCTAssertEqual(scan.matches.count, 6, "\(scan.matches.map { Self.matcher.rules[$0.rule].id })")
        // The secret names its key id (the rule that pairs); the key id names none.
        for (i, match) in scan.matches.enumerated() {
            XCTAssertEqual(match.pairedWith, i % 2 == 0 ? nil : i - 1, "match \(i) on line \(match.line)")
        }
    }
}
