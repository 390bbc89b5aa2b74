import Crypto
import Foundation
import KeysealCore
import KeysealEngine
import KeysealStore
import XCTest

/// Guessable secrets (passwords, generic matches): no preview characters and a slow, per-rule salted
/// fingerprint, so a report or a committed baseline does not hand out a hash a wordlist cracks; triage
/// recorded under the legacy fingerprint still applies.
final class FingerprintTests: XCTestCase {
    static let genericRule = "generic-secret-assignment"

    func rule(_ id: String) throws -> Rule { try XCTUnwrap(BuiltInRules.all.first { $0.id == id }) }

    /// What keyseal before this change reported: SHA-256 over rule id, a zero byte, the secret.
    func legacy(_ rule: String, _ secret: String) -> String {
        SHA256.hash(data: Array(rule.utf8) + [0] + Array(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// PBKDF2-HMAC-SHA256 written out from RFC 8018 with Crypto's HMAC: the documented scheme, checked
    /// by an implementation other than the one keyseal calls.
    func pbkdf2(_ password: String, salt: String, rounds: Int) -> String {
        let key = SymmetricKey(data: Array(password.utf8))
        var block = Array(HMAC<SHA256>.authenticationCode(for: Array(salt.utf8) + [0, 0, 0, 1], using: key))
        var out = block
        for _ in 1..<rounds {
            block = Array(HMAC<SHA256>.authenticationCode(for: block, using: key))
            for i in out.indices { out[i] ^= block[i] }
        }
        return out.map { String(format: "%02x", $0) }.joined()
    }

    func scanJSON(_ repo: TestRepository, _ extra: [String] = ["--no-store"]) throws -> (Int32, [[String: Any]], String) {
        let out = try KeysealBinary.run(["scan", "--quiet", "--format", "json"] + extra, in: repo.url)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any], out.stderr)
        return (out.status, json["findings"] as? [[String: Any]] ?? [], out.stdout)
    }

    func passwordRepo(_ password: String, file: String = "app.env") throws -> TestRepository {
        let repo = try TestRepository()
        try repo.write(file, "DB_PASSWORD=\(password)\n")
        try repo.commit("config")
        return repo
    }

    // MARK: - The scheme

    func testGuessableSecretHasNoPreviewAndASlowSaltedFingerprintEverywhere() throws {
        let password = FakeSecret.password("fp-reports")
        let token = FakeSecret.github("fp-reports")
        let repo = try TestRepository()
        try repo.write("app.env", "DB_PASSWORD=\(password)\nGITHUB_TOKEN=\(token)\n")
        try repo.commit("config")

        let (status, findings, json) = try scanJSON(repo)
        XCTAssertEqual(status, 1)
        let generic = try XCTUnwrap(findings.first { $0["rule"] as? String == Self.genericRule }, json)
        let fingerprint = try XCTUnwrap(generic["fingerprint"] as? String)
        XCTAssertEqual(generic["preview"] as? String, "…", "no character of a guessable secret")
        XCTAssertEqual(fingerprint.count, 64)
        XCTAssertNotEqual(fingerprint, legacy(Self.genericRule, password), "a wordlist over SHA-256 must not work")
        XCTAssertEqual(fingerprint, pbkdf2(password, salt: "keyseal-fp-v2:" + Self.genericRule, rounds: SecretText.kdfRounds))

        // Provider tokens (random, the bulk of findings) keep the fast fingerprint and their prefix.
        let github = try XCTUnwrap(findings.first { $0["rule"] as? String == "github-pat" })
        XCTAssertEqual(github["fingerprint"] as? String, legacy("github-pat", token))
        XCTAssertEqual(github["preview"] as? String, "ghp_…")

        // No report format carries the legacy hash or a leading character of the password.
        let leading = String(password.prefix(2))
        for format in ["json", "sarif", "text"] {
            let out = try KeysealBinary.run(["scan", "--quiet", "--no-store", "--format", format], in: repo.url)
            XCTAssertFalse(out.stdout.contains(legacy(Self.genericRule, password)), format)
            XCTAssertFalse(out.stdout.contains(leading + "…"), format)
            XCTAssertFalse(out.stdout.contains(String(password.prefix(4))), format)
            XCTAssertFalse(out.stdout.contains(password), format)
        }
        let checklist = try KeysealBinary.run(["checklist", "--format", "markdown"], in: repo.url)
        XCTAssertFalse(checklist.stdout.contains(String(password.prefix(4))), checklist.stdout)
        XCTAssertTrue(checklist.stdout.contains("`…`"), checklist.stdout)
    }

    func testTheSameSecretHasTheSameFingerprintInTwoRepositories() throws {
        let password = FakeSecret.password("fp-two-repos")
        let one = try passwordRepo(password, file: "one.env")
        let other = try passwordRepo(password, file: "deploy/other.env")
        try other.write("more.txt", "unrelated\n")
        try other.commit("more")
        let a = try scanJSON(one).1.compactMap { $0["fingerprint"] as? String }
        let b = try scanJSON(other).1.compactMap { $0["fingerprint"] as? String }
        XCTAssertEqual(a.count, 1)
        XCTAssertEqual(a, b, "the salt depends on the rule only, never on the repository")
    }

    func testWhichSecretsAreGuessable() throws {
        let generic = try rule(Self.genericRule)
        let github = try rule("github-pat")
        let aws = try rule("aws-access-key-id")
        let basic = try rule("http-basic-auth-header")
        XCTAssertTrue(SecretText.isGuessable(Array(FakeSecret.password("g").utf8), rule: generic), "every generic rule")
        XCTAssertTrue(SecretText.isGuessable(Array(FakeSecret.github("g").utf8), rule: generic), "even a random value under a generic rule")
        let credentials = Data("deploy:\(FakeSecret.password("basic"))".utf8).base64EncodedString()
        XCTAssertTrue(SecretText.isGuessable(Array(credentials.utf8), rule: basic), "marked guessable: user:password")
        for seed in ["a", "b", "c", "d", "e", "f"] {
            XCTAssertFalse(SecretText.isGuessable(Array(FakeSecret.github(seed).utf8), rule: github))
            XCTAssertFalse(SecretText.isGuessable(Array(FakeSecret.awsKeyID(seed).utf8), rule: aws))
        }
        // A provider rule's match that is short or made of few characters is within reach too.
        XCTAssertTrue(SecretText.isGuessable(Array(("ghp_" + String(repeating: "a", count: 36)).utf8), rule: github))
        XCTAssertEqual(SecretText.preview(Array(FakeSecret.github("p").utf8), rule: github), "ghp_…")
        XCTAssertEqual(SecretText.preview(Array(FakeSecret.password("p").utf8), rule: generic), "…")
    }

    func testEachDistinctSecretIsDerivedOncePerRun() throws {
        let password = FakeSecret.password("fp-derive-once-\(UUID().uuidString)")
        let repo = try TestRepository()
        for i in 0..<12 {
            try repo.write("cfg\(i % 3).env", "DB_PASSWORD=\(password)\nREVISION=\(i)\n")
            try repo.commit("revision \(i)")
        }
        let before = SecretText.derivations.load(ordering: .relaxed)
        let result = try HistoryScan.scan(ScanOptions(path: repo.path, threads: 1, store: .inRepository))
        XCTAssertEqual(Set(result.findings.map(\.fingerprint)).count, 1)
        XCTAssertEqual(result.findings.count, 12)
        XCTAssertEqual(SecretText.derivations.load(ordering: .relaxed) - before, 1,
                       "12 blobs, recorded and reported: one derivation")
    }

    // MARK: - Triage recorded under the legacy fingerprint

    func testStoreTriageUnderTheLegacyFingerprintIsCarriedOver() throws {
        let password = FakeSecret.password("fp-legacy-store")
        let repo = try passwordRepo(password)
        // A store as the previous version left it: the secret under its SHA-256 fingerprint, with a
        // 4-character preview, triaged as a false positive.
        let old = legacy(Self.genericRule, password)
        let oldPreview = String(password.prefix(4)) + "…"
        let storePath = repo.url.appendingPathComponent(".git/keyseal/store.sqlite").path
        do {
            let store = try FindingStore(path: storePath)
            _ = try store.importBaseline([SecretRecord(fingerprint: old, rule: Self.genericRule, provider: "Generic",
                                                       description: "d", preview: oldPreview, firstSeen: "2024",
                                                       status: .falsePositive, note: "test fixture")])
        }

        let (status, findings, json) = try scanJSON(repo, [])
        XCTAssertEqual(status, 0, "the decision holds: " + json)
        let finding = try XCTUnwrap(findings.first)
        let fingerprint = try XCTUnwrap(finding["fingerprint"] as? String)
        XCTAssertNotEqual(fingerprint, old)
        XCTAssertEqual(finding["status"] as? String, "false-positive")
        XCTAssertEqual(finding["preview"] as? String, "…")

        // The store now holds the decision under the new fingerprint, and nothing of the old row.
        let list = try KeysealBinary.run(["findings", "--format", "json"], in: repo.url)
        let secrets = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]], list.stderr)
        XCTAssertEqual(secrets.count, 1, list.stdout)
        XCTAssertEqual(secrets.first?["fingerprint"] as? String, fingerprint)
        XCTAssertEqual(secrets.first?["status"] as? String, "false-positive")
        XCTAssertEqual(secrets.first?["note"] as? String, "test fixture")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: storePath))
        XCTAssertNil(bytes.range(of: Data(old.utf8)), "the unsalted hash is gone from the store")
        XCTAssertNil(bytes.range(of: Data(oldPreview.utf8)), "so is the old preview")

        // An incremental scan (nothing read again) and a hook still honour it.
        let (again, _, _) = try scanJSON(repo, [])
        XCTAssertEqual(again, 0)
        try repo.write("copy.env", "DB_PASSWORD=\(password)\n")
        XCTAssertEqual(try KeysealBinary.run(["staged"], in: repo.url).status, 0)
    }

    func testHooksHonourALegacyStoreDecisionWithoutAScan() throws {
        let password = FakeSecret.password("fp-legacy-hook")
        let repo = try passwordRepo(password)
        let store = try FindingStore(path: repo.url.appendingPathComponent(".git/keyseal/store.sqlite").path)
        _ = try store.importBaseline([SecretRecord(fingerprint: legacy(Self.genericRule, password), rule: Self.genericRule,
                                                   provider: "Generic", description: "d", preview: "…", firstSeen: "2024",
                                                   status: .accepted)])
        try repo.write("copy.env", "DB_PASSWORD=\(password)\n")
        let out = try KeysealBinary.run(["staged"], in: repo.url)
        XCTAssertEqual(out.status, 0, out.stderr)
        try repo.write("other.env", "DB_PASSWORD=\(FakeSecret.password("fp-legacy-hook-other"))\n")
        XCTAssertEqual(try KeysealBinary.run(["staged"], in: repo.url).status, 1, "another password still blocks")
    }

    func testCommittedBaselineWithLegacyFingerprintsKeepsItsTriage() throws {
        let password = FakeSecret.password("fp-legacy-baseline")
        let repo = try passwordRepo(password)
        let old = legacy(Self.genericRule, password)
        let baseline = """
            {"version": 1, "secrets": [{"fingerprint": "\(old)", "rule": "\(Self.genericRule)", "provider": "Generic",
             "status": "accepted", "note": "shared test password"}]}
            """
        try repo.write(".keyseal-baseline.json", baseline)
        try repo.commit("baseline")

        let (noStore, findings, json) = try scanJSON(repo)
        XCTAssertEqual(noStore, 0, json)
        XCTAssertEqual(findings.first?["status"] as? String, "accepted")
        XCTAssertEqual(findings.first?["preview"] as? String, "…")
        try repo.write("copy.env", "DB_PASSWORD=\(password)\n")
        XCTAssertEqual(try KeysealBinary.run(["staged"], in: repo.url).status, 0, "the hook lets it pass as before")
        try repo.git(["reset", "-q"])

        // With the store: the decision is recorded under the new fingerprint, so a re-exported
        // baseline holds the slow fingerprint instead of the crackable one.
        let (stored, storedFindings, _) = try scanJSON(repo, [])
        XCTAssertEqual(stored, 0)
        let fingerprint = try XCTUnwrap(storedFindings.first?["fingerprint"] as? String)
        let (again, _, _) = try scanJSON(repo, [])
        XCTAssertEqual(again, 0, "the incremental scan reads nothing again and still knows the decision")
        let out = try KeysealBinary.run(["baseline", "export", "--out", "fresh.json"], in: repo.url)
        XCTAssertEqual(out.status, 0, out.stderr)
        let fresh = try String(contentsOf: repo.url.appendingPathComponent("fresh.json"), encoding: .utf8)
        XCTAssertTrue(fresh.contains(fingerprint), fresh)
        XCTAssertTrue(fresh.contains("shared test password"), fresh)
        XCTAssertFalse(fresh.contains(old), fresh)
    }
}
