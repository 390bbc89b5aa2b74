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
    }

    /// The README's rule and provider counts are the built-in set's, exactly.
    func testReadmeCountsAreTheBuiltInSets() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let pattern = try NSRegularExpression(pattern: "The ([0-9]+) built-in rules cover ([0-9]+) providers")
        let match = try XCTUnwrap(pattern.firstMatch(in: readme, range: NSRange(readme.startIndex..., in: readme)),
                                  "README.md no longer says \"The N built-in rules cover M providers\"")
        let rules = try XCTUnwrap(Range(match.range(at: 1), in: readme).flatMap { Int(readme[$0]) })
        let providers = try XCTUnwrap(Range(match.range(at: 2), in: readme).flatMap { Int(readme[$0]) })
        XCTAssertEqual(rules, BuiltInRules.all.count, "rules")
        XCTAssertEqual(providers, Set(BuiltInRules.all.map(\.provider)).count, "providers")
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

    /// The same check `keyseal config check` runs on custom rules: every positive found by its rule,
    /// no negative found by it, and no rule left out (a rule missing from the matcher is a failure).
    func testBuiltInRulesPassTheirOwnExamples() throws {
        XCTAssertEqual(try RuleExampleCheck.run(BuiltInRules.all, within: BuiltInRules.all), [])
        let last = try XCTUnwrap(BuiltInRules.all.last)
        let reported = try RuleExampleCheck.run([last], within: Array(BuiltInRules.all.dropLast()))
        XCTAssertEqual(reported.count, 1, "a rule the matcher does not hold is reported, not skipped: \(reported)")
    }

    /// The example corpus: every rule's negative examples together trip no rule at all.
    func testNegativeExamplesTripNoRule() throws {
        let rules = BuiltInRules.all
        var tripped: [String] = []
        for rule in rules {
            for template in rule.negatives {
                let text = ExampleTemplate.expand(template)
                for match in try scan(text) where !RuleExampleCheck.catchAllMay(rules[match.rule], trip: template, of: rule) {
                    tripped.append("\(rule.id)'s negative \(text) trips \(rules[match.rule].id)")
                }
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

    /// Checksums against values computed outside keyseal (Python's zlib.crc32 and hashlib, run by
    /// hand, pasted here as numbers and strings), so a wrong CRC table, base62 alphabet, byte order or
    /// base58 decoding fails here even where the round-trip tests above agree with themselves. Only
    /// check parts are pasted; the bodies are plain sequences, assembled here.
    func testChecksumsAgainstExternalVectors() throws {
        // zlib.crc32(b"The quick brown fox jumps over the lazy dog") == 0x414fa339
        XCTAssertEqual(TokenChecksum.crc32(Array("The quick brown fox jumps over the lazy dog".utf8)), 0x414F_A339)
        let body30 = "AbCdEfGhIjKlMnOpQrStUvWxYz0123", body32 = body30 + "45"
        // zlib.crc32(body30) == 0x9ac1c92e, in base62 (0-9A-Za-z, six digits): "2piBxe"
        XCTAssertEqual(TokenChecksum.crc32(Array(body30.utf8)), 0x9AC1_C92E)
        for prefix in ["ghp_", "npm_"] {
            XCTAssertEqual(TokenChecksum.base62CRC32.verify(Array((prefix + body30 + "2piBxe").utf8)), true, prefix)
            XCTAssertEqual(TokenChecksum.base62CRC32.verify(Array((prefix + body30 + "2piBxf").utf8)), false, prefix)
        }
        XCTAssertEqual(try scan("TOKEN=ghp_" + body30 + "2piBxe").first?.checksumValid, true)
        // Grafana: zlib.crc32(b"glsa_" + body32).to_bytes(4, "little").hex() == "147f441b"
        XCTAssertEqual(TokenChecksum.grafanaCRC32.verify(Array(("glsa_" + body32 + "_147f441b").utf8)), true)
        XCTAssertEqual(TokenChecksum.grafanaCRC32.verify(Array(("glsa_" + body32 + "_1b447f14").utf8)), false, "big-endian is wrong")
        // Matrix: base62 of zlib.crc32 of everything before the last "_": "2AXtsE"
        let matrix = "syt_a2V5c2VhbA_AbCdEfGhIjKlMnOpQrSt"
        XCTAssertEqual(TokenChecksum.trailingBase62CRC32.verify(Array((matrix + "_2AXtsE").utf8)), true)
        XCTAssertEqual(TokenChecksum.trailingBase62CRC32.verify(Array((matrix + "_2AXtsF").utf8)), false)
        // Base58check: the Bitcoin genesis block's address, a public value (not a key), whose bytes
        // are version 0x00, HASH160 62e907…8f18 and double-SHA-256 check c29b7d93.
        let genesis = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
        let bytes = try XCTUnwrap(TokenChecksum.decodeBase58(Array(genesis.utf8)))
        XCTAssertEqual(bytes.map { String(format: "%02x", $0) }.joined(), "0062e907b15cbf27d5425399ebf6f0fb50ebb88f18c29b7d93")
        XCTAssertEqual(TokenChecksum.base58Check.verify(Array(genesis.utf8)), true)
        XCTAssertEqual(TokenChecksum.base58Check.verify(Array((genesis.dropLast() + "b").utf8)), false)
        XCTAssertEqual(TokenChecksum.base58CheckEncode(Array(bytes.dropLast(4))), genesis, "the encoder the examples use agrees")
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
        // A repeated character: near misses such as an all-`A` key id, never written out whole.
        XCTAssertEqual(ExampleTemplate.expand("AKIA⟪=A:16⟫"), "AKIA" + String(repeating: "A", count: 16))
    }

    /// A misspelt kind or an unclosed ⟪ is an error, not an example that silently tests nothing.
    func testMalformedTemplatesAreErrors() throws {
        for (template, problem) in [("token = acme_⟪low:32⟫", "unknown kind 'low'"), ("token = acme_⟪lo:32", "without its ⟫"),
                                    ("acme_⟪lo:x⟫", "not ⟪kind:count⟫"), ("acme_⟪lo⟫", "not ⟪kind:count⟫"),
                                    ("acme_lo:32⟫", "without its ⟪"), ("⟪lo:0⟫", "not ⟪kind:count⟫"),
                                    ("⟪=:3⟫", "unknown kind '='"), ("⟪=AB:3⟫", "unknown kind '=AB'"), ("⟪= :3⟫", "unknown kind '= '")] {
            XCTAssertThrowsError(try ExampleTemplate.checked(template), template) { error in
                XCTAssertTrue("\(error)".contains(problem), "\(template): \(error)")
            }
        }
        XCTAssertEqual(try ExampleTemplate.checked("k=⟪lo:32⟫"), ExampleTemplate.expand("k=⟪lo:32⟫"))
        let custom = Rule(id: "acme-token", provider: "Acme", description: "d", regex: "\\b(acme_[a-z0-9]{32})\\b",
                          positives: ["token = acme_⟪lo:32⟫"], negatives: ["token = acme_⟪low:32⟫"])
        XCTAssertThrowsError(try RuleExampleCheck.run([custom], within: [custom])) { error in
            XCTAssertEqual("\(error)", "rule 'acme-token': negative example 1: unknown kind 'low' in ⟪low:32⟫ (kinds: \(ExampleTemplate.kinds.joined(separator: ", ")))")
        }
    }

    /// The three rules whose examples are written from the provider's documentation (not from the
    /// regex): the documented shapes are found where the documentation shows them used, and each
    /// rule names its documentation.
    func testDocumentedTokenFormats() throws {
        func ids(_ line: String) throws -> [String] { try scan(line).map { Self.matcher.rules[$0.rule].id } }
        // Cloudflare's curl usage with an account API token: no name around it, still found.
        let account = "cfat_" + ExampleTemplate.expand("⟪an:40⟫⟪hex:8⟫", salt: "doc")
        let curl = "curl https://api.cloudflare.com/client/v4/accounts/x/tokens/verify -H \"Authorization: Bearer \(account)\""
        let found = try scan(curl)
        XCTAssertEqual(found.map { Self.matcher.rules[$0.rule].id }, ["cloudflare-api-token"])
        XCTAssertEqual(found.first.map { String(decoding: $0.secret, as: UTF8.self) }, account)
        XCTAssertNil(found.first?.checksumValid, "Cloudflare does not document its checksum, so it is not verified")
        for prefix in ["cfk_", "cfut_"] {
            XCTAssertEqual(try ids("X-Auth-Key: " + prefix + ExampleTemplate.expand("⟪an:40⟫⟪hex:8⟫", salt: prefix)), ["cloudflare-api-token"])
        }
        XCTAssertEqual(try ids("CLOUDFLARE_API_KEY=" + ExampleTemplate.expand("⟪hex:41⟫")), ["cloudflare-api-token"],
                       "the old Global API Key: 37-45 lower-case hex")
        // FullStory: the region is the key's first three characters.
        XCTAssertEqual(try ids("FULLSTORY_API_KEY=na1." + ExampleTemplate.expand("⟪url:64⟫")), ["fullstory-api-key"])
        // Asana: opaque, with special characters; the three-part form with two numeric ids.
        let asana = ExampleTemplate.expand("2/⟪dig:16⟫/⟪dig:16⟫:⟪hex:32⟫")
        let asanaFound = try scan("ASANA_PAT=\(asana)")
        XCTAssertEqual(asanaFound.map { Self.matcher.rules[$0.rule].id }, ["asana-pat"])
        XCTAssertEqual(asanaFound.first.map { String(decoding: $0.secret, as: UTF8.self) }, asana)
        XCTAssertEqual(try ids("ASANA_TOKEN_URL=https://app.asana.com/api/1.0/users/me/" + ExampleTemplate.expand("⟪dig:16⟫")), [])
        for id in ["cloudflare-api-token", "fullstory-api-key", "asana-pat"] {
            let rule = try XCTUnwrap(BuiltInRules.all.first { $0.id == id })
            XCTAssertFalse(rule.references.isEmpty, id)
            XCTAssertTrue(rule.references.allSatisfy { $0.hasPrefix("https://") }, id)
        }
    }

    /// A rule whose regex is changed (a wrong prefix, a lost region, a narrower alphabet) fails its own
    /// examples: they are written from the documentation, not generated from the regex.
    func testABrokenRuleFailsItsOwnExamples() throws {
        let breakages: [(String, String, String)] = [
            ("cloudflare-api-token", "cf(?:k|ut|at)_", "cf(?:k|ut|xt)_"),
            ("cloudflare-api-token", "[a-f0-9]{37,45}", "[a-f0-9]{37}"),
            ("fullstory-api-key", "(?:(?:na|eu)[0-9]\\.)?", ""),
            ("asana-pat", "[A-Za-z0-9/:._+=-]{32,200}", "[A-Za-z0-9]{32,200}"),
        ]
        for (id, from, to) in breakages {
            var rule = try XCTUnwrap(BuiltInRules.all.first { $0.id == id })
            XCTAssertTrue(rule.regex.contains(from), "\(id) no longer contains \(from)")
            rule.regex = rule.regex.replacingOccurrences(of: from, with: to)
            let others = BuiltInRules.all.filter { $0.id != id }
            XCTAssertFalse(try RuleExampleCheck.run([rule], within: others + [rule]).isEmpty, "\(id) with \(to) still passes")
        }
    }

    func testCompiledRulesAreCachedReusedAndRefreshed() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let rules = Array(BuiltInRules.all.prefix(20))
        // The key streamed in pieces (rules, then locators kept apart) is the key of the one list,
        // and the whole built-in list's crosses the key's internal buffer size.
        XCTAssertEqual(RuleDatabaseCache.key(rules, SpanLocator.rules), RuleDatabaseCache.key(rules + SpanLocator.rules))
        XCTAssertEqual(RuleDatabaseCache.key(BuiltInRules.all, SpanLocator.rules), RuleDatabaseCache.key(BuiltInRules.all + SpanLocator.rules))
        XCTAssertNotEqual(RuleDatabaseCache.key(rules), RuleDatabaseCache.key(Array(BuiltInRules.all.prefix(21))))
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

    /// The cache file is used where it lies (mapped), so every kind of damage must send the hook
    /// back to compiling, never into a scan with a broken database: a flipped byte in the image's
    /// layout or in the patterns' widths (keyseal's own check), in the bytecode (Vectorscan's
    /// checksum, run by the scratch allocation), a file cut short or grown, an older version's
    /// file. Each damaged file still finds the secret it is given, and is replaced by a good one.
    func testDamagedCacheFilesAreRefusedAndReplaced() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let rules = Array(BuiltInRules.all.prefix(40))
        let fresh = try Matcher(rules: rules, cacheDirectory: folder)
        XCTAssertFalse(fresh.loadedFromCache)
        let file = try XCTUnwrap(FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil).first)
        let good = try Data(contentsOf: file)
        let count = Int(good.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self) })
        let image = RuleDatabaseCache.imageOffset(count: count)
        var damages: [(String, Data)] = []
        for (name, offset) in [("image layout", image + 12), ("image header end", image + 200), ("bytecode", image + 300),
                               ("bytecode middle", image + (good.count - image) / 2), ("width list", RuleDatabaseCache.headerLength + 1)] {
            var bytes = good
            bytes[offset] ^= 0x40
            damages.append((name, bytes))
        }
        damages.append(("cut short", good.prefix(good.count - 100)))
        damages.append(("grown", good + Data(count: 64)))
        var older = good
        older.replaceSubrange(0..<8, with: Data("KSHSDB02".utf8))
        damages.append(("older version", older))
        // A probe each rule set finds: the first rule's own example.
        let probe = try XCTUnwrap(rules.first(where: { !$0.positives.isEmpty }))
        let text = Array(ExampleTemplate.expand(probe.positives[0]).utf8)
        func found(_ matcher: Matcher) throws -> Int { try text.withUnsafeBytes { try matcher.scan($0, scratch: matcher.makeScratch()).count } }
        let expected = try found(fresh)
        XCTAssertGreaterThan(expected, 0)
        for (name, bytes) in damages {
            try bytes.write(to: file)
            let matcher = try Matcher(rules: rules, cacheDirectory: folder)
            XCTAssertFalse(matcher.loadedFromCache, name)
            XCTAssertEqual(try found(matcher), expected, name)
            XCTAssertTrue(try Matcher(rules: rules, cacheDirectory: folder).loadedFromCache, "\(name): replaced")
        }
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
