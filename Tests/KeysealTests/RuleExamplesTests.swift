import Foundation
import XCTest

@testable import KeysealEngine

/// Walks every rule's own examples: positives must be found by the rule (and by no other rule, but a
/// paired partner), negatives must not be found by it.
final class RuleExamplesTests: XCTestCase {
    static let matcher: Matcher = {
        // Safe: the built-in rules compiling is what testBuiltInRulesCompile asserts.
        try! Matcher(rules: BuiltInRules.all)
    }()

    func scan(_ text: String) throws -> [EngineMatch] {
        let scratch = try Self.matcher.makeScratch()
        return try Array(text.utf8).withUnsafeBytes { try Self.matcher.scan($0, scratch: scratch) }
    }

    func testBuiltInRulesCompile() throws {
        let started = Date()
        _ = try Matcher(rules: BuiltInRules.all)
        print("compiled \(BuiltInRules.all.count) rules in \(Date().timeIntervalSince(started)) s")
    }

    func testRuleShape() {
        var ids = Set<String>()
        for rule in BuiltInRules.all {
            XCTAssertTrue(ids.insert(rule.id).inserted, "duplicate rule id \(rule.id)")
            XCTAssertNotNil(rule.id.range(of: "^[a-z0-9]+(-[a-z0-9]+)*$", options: .regularExpression), "\(rule.id) is not kebab-case")
            XCTAssertGreaterThanOrEqual(rule.positives.count, 2, "\(rule.id) needs two positive examples")
            XCTAssertGreaterThanOrEqual(rule.negatives.count, 1, "\(rule.id) needs a negative example")
            XCTAssertFalse(rule.provider.isEmpty)
            XCTAssertFalse(rule.description.isEmpty)
        }
        let providers = Set(BuiltInRules.all.map(\.provider))
        XCTAssertGreaterThanOrEqual(providers.count, 300, "providers: \(providers.count)")
    }

    func testPositiveExamplesMatchTheirRuleOnly() throws {
        let rules = BuiltInRules.all
        for (index, rule) in rules.enumerated() {
            for template in rule.positives {
                let text = ExampleTemplate.expand(template)
                let matches = try scan(text)
                XCTAssertTrue(matches.contains { $0.rule == index }, "\(rule.id) misses its example: \(text)")
                let others = matches.filter { $0.rule != index && rules[$0.rule].id != rule.pairsWith }
                XCTAssertTrue(others.isEmpty, "\(rule.id)'s example also trips \(others.map { rules[$0.rule].id }): \(text)")
            }
        }
    }

    func testNegativeExamplesDoNotMatchTheirRule() throws {
        for (index, rule) in BuiltInRules.all.enumerated() {
            for template in rule.negatives {
                let text = ExampleTemplate.expand(template)
                XCTAssertFalse(try scan(text).contains { $0.rule == index }, "\(rule.id) matches its negative example: \(text)")
            }
        }
    }

    /// The example corpus: every rule's negative examples together trip no rule at all.
    func testNegativeExamplesTripNoRule() throws {
        let rules = BuiltInRules.all
        var tripped: [String] = []
        for rule in rules {
            for template in rule.negatives {
                let text = ExampleTemplate.expand(template)
                for match in try scan(text) { tripped.append("\(rule.id)'s negative \(text) trips \(rules[match.rule].id)") }
            }
        }
        XCTAssertEqual(tripped, [])
    }

    /// Real keys are 1.5-3 KB: a regex that only handles the short examples must not pass.
    func testFullSizePrivateKeysAreFound() throws {
        for label in ["PRIVATE KEY", "RSA PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY"] {
            let body = (0..<40).map { ExampleTemplate.expand("⟪b64:64⟫", salt: "\(label)\($0)") }.joined(separator: "\n")
            let pem = "-----BEGIN \(label)-----\n\(body)\n⟪b64:20⟫==\n-----END \(label)-----\n"
            let matches = try scan(ExampleTemplate.expand(pem))
            XCTAssertEqual(matches.count, 1, label)
            XCTAssertGreaterThan(matches.first?.secret.count ?? 0, 2500, label)
        }
    }

    func testProviderChecksumsRaiseOrLowerConfidence() throws {
        XCTAssertEqual(TokenChecksum.crc32(Array("123456789".utf8)), 0xCBF4_3926, "the standard CRC-32 check value")
        for prefix in ["ghp_", "gho_", "npm_"] {
            let valid = TokenChecksum.withValidChecksum(prefix + ExampleTemplate.expand("⟪an:30⟫", salt: prefix))
            let broken = String(valid.dropLast()) + (valid.last == "A" ? "B" : "A")
            XCTAssertEqual(try scan("TOKEN=\(valid)").first?.checksumValid, true, prefix)
            XCTAssertEqual(try scan("TOKEN=\(broken)").first?.checksumValid, false, "\(prefix): still reported, flagged")
        }
        XCTAssertNil(try scan("STRIPE=sk_live_" + ExampleTemplate.expand("⟪an:24⟫")).first?.checksumValid)
    }

    /// Grafana, Matrix, PyPI and base58check keys: a token built with the provider's structure
    /// verifies; the same token with one character changed is still reported, flagged.
    func testMoreProviderChecksums() throws {
        func flipLast(_ token: String) -> String { String(token.dropLast()) + (token.last == "A" ? "B" : "A") }
        func check(_ token: String, _ label: String) throws {
            XCTAssertEqual(try scan("SECRET=\(token)").first?.checksumValid, true, label)
            XCTAssertEqual(try scan("SECRET=\(flipLast(token))").first?.checksumValid, false, "\(label): still reported, flagged")
        }
        let grafanaBody = "glsa_" + ExampleTemplate.expand("⟪an:32⟫", salt: "grafana")
        let crc = TokenChecksum.crc32(Array(grafanaBody.utf8))
        try check(grafanaBody + "_" + (0..<4).map { String(format: "%02x", (crc >> (8 * UInt32($0))) & 0xff) }.joined(), "grafana")

        let matrixBody = "syt_" + ExampleTemplate.expand("⟪an:8⟫_⟪an:20⟫", salt: "matrix")
        let matrixCheck = String(decoding: TokenChecksum.encodeBase62(TokenChecksum.crc32(Array(matrixBody.utf8)), width: 6), as: UTF8.self)
        try check(matrixBody + "_" + matrixCheck, "matrix")

        // A version-2 macaroon: location, identifier, one caveat section, the empty section, a signature.
        let random = Array(ExampleTemplate.expand("⟪an:64⟫", salt: "macaroon").utf8)
        var macaroon: [UInt8] = [2, 1, 8] + Array("pypi.org".utf8) + [2, 32] + random.prefix(32) + [0]
        macaroon += [2, 16] + random.suffix(16) + [0, 0, 6, 32] + random.suffix(32)
        let encoded = Data(macaroon).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        XCTAssertTrue(encoded.hasPrefix("AgEIcHlwaS5vcmc"))
        let pypi = "pypi-" + encoded
        XCTAssertEqual(try scan("TWINE_PASSWORD=\(pypi)").first?.checksumValid, true, "pypi")
        XCTAssertEqual(try scan("TWINE_PASSWORD=\(pypi.dropLast(6))").first?.checksumValid, false, "pypi: truncated, still reported")

        let version: [UInt8] = [0x04, 0x88, 0xAD, 0xE4]  // BIP32 mainnet private
        let xprv = TokenChecksum.base58CheckEncode(version + Array(random.prefix(41)) + [0] + Array(random.suffix(32)))
        XCTAssertTrue(xprv.hasPrefix("xprv"), xprv)
        try check(xprv, "xprv")
    }

    /// A secret inside a longer secret is one finding: the webhook URL, not also the API key in it.
    func testSecretInsideALongerSecretIsReportedOnce() throws {
        let key = "AIza" + ExampleTemplate.expand("⟪url:35⟫", salt: "chat")
        let url = "https://chat.googleapis.com/v1/spaces/AAAA" + ExampleTemplate.expand("⟪url:7⟫/messages?key=", salt: "chat")
            + key + "&token=" + ExampleTemplate.expand("⟪url:43⟫", salt: "chat")
        let found = try scan("WEBHOOK=\(url)")
        XCTAssertEqual(found.map { Self.matcher.rules[$0.rule].id }, ["google-chat-webhook"])
        XCTAssertEqual(try scan("GOOGLE_API_KEY=\(key)").map { Self.matcher.rules[$0.rule].id }, ["gcp-api-key"])
    }

    /// RFC and documentation example credentials (kept as digests in the engine) are not findings;
    /// the values are assembled here from pieces.
    func testPublishedExampleCredentialsAreNotReported() throws {
        let rfcAccessToken = "2Yotn" + "FZFEjr1zCsicMWpAA"
        let awsKeyID = "AKIA" + "IOSFODNN7" + "EXAMPLE"
        XCTAssertEqual(try scan("access_token = \"\(rfcAccessToken)\"\n").count, 0)
        XCTAssertEqual(try scan("AWS_ACCESS_KEY_ID=\(awsKeyID)\n").count, 0)
        XCTAssertEqual(try scan("access_token = \"\(ExampleTemplate.expand("⟪an:22⟫"))\"\n").count, 1, "a value of the same shape is")
    }

    /// install.sh runs `keyseal rules --compile` so the first hook finds the rules compiled.
    func testRulesCompileFillsTheCacheOnce() throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        let env = ["XDG_CACHE_HOME": cache.path]
        let first = try KeysealBinary.run(["rules", "--compile"], in: FileManager.default.temporaryDirectory, environment: env)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("rules compiled into the cache"), first.stdout)
        let again = try KeysealBinary.run(["rules", "--compile"], in: FileManager.default.temporaryDirectory, environment: env)
        XCTAssertTrue(again.stdout.contains("already compiled"), again.stdout)
    }

    func testTemplatesExpandDeterministically() {
        let a = ExampleTemplate.expand("k=⟪an:36⟫"), b = ExampleTemplate.expand("k=⟪an:36⟫")
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.count, 38)
        XCTAssertFalse(a.contains("⟪"))
    }

    func testCompiledRulesAreCachedReusedAndRefreshed() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let rules = Array(BuiltInRules.all.prefix(20))
        XCTAssertFalse(try Matcher(rules: rules, cacheDirectory: folder).loadedFromCache)
        XCTAssertTrue(try Matcher(rules: rules, cacheDirectory: folder).loadedFromCache)
        // A corrupt cache file is ignored and replaced.
        let file = try XCTUnwrap(FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil).first)
        try Data("garbage".utf8).write(to: file)
        let recovered = try Matcher(rules: rules, cacheDirectory: folder)
        XCTAssertFalse(recovered.loadedFromCache)
        XCTAssertTrue(try Matcher(rules: rules, cacheDirectory: folder).loadedFromCache)
        // Other rule sets get files of their own; only the newest few are kept.
        for n in 1...6 { _ = try Matcher(rules: Array(BuiltInRules.all.prefix(20 + n)), cacheDirectory: folder) }
        XCTAssertLessThanOrEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path).count, 4)
    }

    func testInlineAllowMarkerSuppresses() throws {
        let token = "ghp_" + ExampleTemplate.expand("⟪an:36⟫")
        XCTAssertFalse(try scan("GITHUB_TOKEN=\(token)").isEmpty)
        XCTAssertTrue(try scan("GITHUB_TOKEN=\(token) # keyseal:allow").isEmpty)
    }

    func testLineAndColumnCountCodePointsAndCRLF() throws {
        let token = "ghp_" + ExampleTemplate.expand("⟪an:36⟫")
        let matches = try scan("first\r\n// é \(token)\r\n")
        XCTAssertEqual(matches.count, 1)
        XCTAssertEqual(matches[0].line, 2)
        XCTAssertEqual(matches[0].column, 6)
        XCTAssertEqual(String(decoding: matches[0].secret, as: UTF8.self), token)
    }
}
