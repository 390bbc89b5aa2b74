import Crypto
import Foundation
import KeysealCore
import KeysealEngine
import XCTest

/// Checklist and rebuild requests on repositories with tags before and after a leak.
final class ChecklistTests: XCTestCase {
    var remotes: [TestRepository] = []

    /// v1.0 before the leak, v1.1 (annotated) and v1.2 after it; the leak is removed before v1.2.
    /// A second, local-only secret stays in HEAD.
    func taggedRepo() throws -> (repo: TestRepository, leak: String, token: String) {
        let remote = try TestRepository(bare: true)
        remotes.append(remote)
        let repo = try TestRepository()
        try repo.write("README.md", "app\n")
        try repo.commit("start")
        try repo.git(["tag", "v1.0"])
        let token = FakeSecret.stripe("checklist")
        try repo.write("config/prod.env", "STRIPE_KEY=\(token)\n")
        let leak = try repo.commit("add prod config")
        try repo.git(["tag", "-a", "v1.1", "-m", "release 1.1"])
        try repo.git(["rm", "-q", "config/prod.env"])
        try repo.commit("remove prod config")
        try repo.git(["tag", "v1.2"])
        try repo.git(["remote", "add", "origin", remote.path])
        try repo.git(["push", "-q", "--no-verify", "origin", "main", "--tags"])
        try repo.write("local.env", "GITHUB_TOKEN=\(FakeSecret.github("local"))\n")
        try repo.git(["commit", "-q", "--no-verify", "-m", "local secret, not pushed"])
        return (repo, leak, token)
    }

    func checklistJSON(_ repo: TestRepository, _ extra: [String] = []) throws -> [String: Any] {
        let out = try KeysealBinary.run(["checklist", "--format", "json"] + extra, in: repo.url)
        XCTAssertEqual(out.status, 0, out.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
    }

    /// A password and a client secret are listed with the identity beside them in the same block;
    /// a name past a blank line is another block.
    func testChecklistNamesTheIdentityUsedWithASecret() throws {
        let repo = try TestRepository()
        let password = FakeSecret.password("identity")
        let clientSecret = ExampleTemplate.expand("⟪an:12⟫-⟪an:20⟫", salt: "identity")
        try repo.write("deploy/db.env", "DB_HOST=db.internal\nDB_USER=billing\nDB_PASSWORD=\(password)\n\nOTHER_USER=alice\n")
        try repo.write("deploy/oauth.yaml", "oauth:\n  client_id: 3f2a9c7e11\n  client_secret: \(clientSecret)\n")
        try repo.commit("config")
        let json = try checklistJSON(repo)
        let entries = try XCTUnwrap(json["entries"] as? [[String: Any]])
        let identities = Set(entries.compactMap { $0["identity"] as? String })
        XCTAssertEqual(identities, ["DB_USER (bill…)", "client_id (3f2a…)"], "\(entries.map { $0["rule"] ?? "" })")
        let markdown = try KeysealBinary.run(["checklist"], in: repo.url)
        XCTAssertTrue(markdown.stdout.contains("Used with `DB_USER (bill…)`"), markdown.stdout)
    }

    func testChecklistExposureTagsPushedAndHead() throws {
        let (repo, leak, _) = try taggedRepo()
        let json = try checklistJSON(repo)
        let entries = try XCTUnwrap(json["entries"] as? [[String: Any]])
        XCTAssertEqual(entries.count, 2)
        // Pushed and tagged comes first, although it is no longer in HEAD.
        let stripe = entries[0]
        XCTAssertEqual(stripe["provider"] as? String, "Stripe")
        XCTAssertEqual(stripe["tags"] as? [String], ["v1.1", "v1.2"], "exactly the tags that contain the leak commit")
        XCTAssertEqual(stripe["pushed"] as? Bool, true)
        XCTAssertEqual(stripe["in_head"] as? Bool, false)
        XCTAssertEqual(stripe["branches"] as? [String], ["main"])
        XCTAssertEqual((stripe["first_commit"] as? [String: Any])?["id"] as? String, leak)
        let removedAt = try repo.git(["log", "-1", "--format=%at", "HEAD~1"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let expected = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(removedAt)!))
        XCTAssertEqual(stripe["removed"] as? String, expected, "the exposure window closes at the commit that removed it")
        XCTAssertTrue(((stripe["rotation"] as? [String: Any])?["revoke"] as? String ?? "").contains("Stripe dashboard"))
        XCTAssertEqual((stripe["occurrences"] as? [[String: Any]])?.first?["path"] as? String, "config/prod.env")
        let github = entries[1]
        XCTAssertEqual(github["pushed"] as? Bool, false)
        XCTAssertEqual(github["in_head"] as? Bool, true)
        XCTAssertEqual(github["tags"] as? [String], [])
        for key in ["fingerprint", "provider", "rule", "status", "pushed", "in_head", "branches", "tags", "first_commit", "occurrences"] {
            XCTAssertNotNil(stripe[key], key)
        }
    }

    func testTriageStatusAppearsAndFilters() throws {
        let (repo, _, _) = try taggedRepo()
        XCTAssertThrowsError(try Triage.secrets(repository: repo.path, store: .inRepository, statuses: nil), "no scan yet")
        _ = try checklistJSON(repo)
        let stripe = try XCTUnwrap(Triage.secrets(repository: repo.path, store: .inRepository, statuses: nil).first { $0.provider == "Stripe" })
        _ = try Triage.set(repository: repo.path, store: .inRepository, prefix: String(stripe.fingerprint.prefix(10)),
                           status: .rotated, note: "rolled in the dashboard")
        let markdown = try KeysealBinary.run(["checklist"], in: repo.url)
        XCTAssertTrue(markdown.stdout.contains("- [x] **rotated**"), markdown.stdout)
        XCTAssertTrue(markdown.stdout.contains("- [ ] **open**"), markdown.stdout)
        XCTAssertTrue(markdown.stdout.contains("rolled in the dashboard"))
        let open = try checklistJSON(repo, ["--status", "open"])
        XCTAssertEqual((open["entries"] as? [[String: Any]])?.count, 1)
    }

    func testHTMLIsSelfContainedAndHoldsNoSecret() throws {
        let (repo, _, token) = try taggedRepo()
        let out = try KeysealBinary.run(["checklist", "--format", "html", "--out", "checklist.html"], in: repo.url)
        XCTAssertEqual(out.status, 0, out.stderr)
        let html = try String(contentsOf: repo.url.appendingPathComponent("checklist.html"), encoding: .utf8)
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        XCTAssertTrue(html.contains("class=\"timeline\""), "the exposure timeline")
        XCTAssertFalse(html.contains(token))
        for external in ["src=", "<script", "<link", "@import", "url(", "<img", "<iframe", "<object", "<embed", "<base", "<form"] {
            XCTAssertFalse(html.contains(external), "the HTML must load nothing: found \(external)")
        }
        XCTAssertTrue(html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline';"),
                      "a policy that forbids loading anything")
        // Links (a guide's console page) are only to web pages or within the page.
        for link in html.components(separatedBy: "href=\"").dropFirst() {
            XCTAssertTrue(link.hasPrefix("https://") || link.hasPrefix("http://") || link.hasPrefix("#"), String(link.prefix(60)))
        }
    }

    func testPairedAWSKeyIsOneChecklistEntry() throws {
        let repo = try TestRepository()
        let secretKey = ExampleTemplate.expand("⟪b64:40⟫", salt: "pair")
        try repo.write("aws.cfg", "[default]\naws_access_key_id = \(FakeSecret.awsKeyID("pair"))\naws_secret_access_key = \(secretKey)\n")
        try repo.commit("aws credentials")
        let entries = try XCTUnwrap(checklistJSON(repo)["entries"] as? [[String: Any]])
        XCTAssertEqual(entries.count, 1, "key id and secret key are one secret")
        XCTAssertEqual(entries.first?["rule"] as? String, "aws-secret-access-key")
        XCTAssertEqual((entries.first?["paired"] as? [String: Any])?["rule"] as? String, "aws-access-key-id")
    }

    /// A rule's own guide (here a custom rule's `[rules.rotation]`) is the one its checklist entry
    /// gives; a rule without one gets the standard guide, naming its provider and what it found.
    func testChecklistGivesTheRulesOwnGuideOrTheStandardOne() throws {
        let repo = try TestRepository()
        try repo.write(".keyseal.toml", """
            [[rules]]
            id = "acme-token"
            provider = "Acme"
            description = "Acme API token"
            regex = '\\b(acme_[a-z0-9]{32})\\b'
            examples = ["ACME=acme_⟪lo:32⟫"]
            [rules.rotation]
            revoke = "Acme console > Tokens: revoke the token and create a new one"
            cli = ["acme tokens revoke TOKEN_ID"]
            update = ["Update the Acme webhook signing settings"]

            [[rules]]
            id = "zeta-token"
            provider = "Zeta"
            description = "Zeta API token"
            regex = '\\b(zeta_[a-z0-9]{32})\\b'
            examples = ["ZETA=zeta_⟪lo:32⟫"]
            """)
        try repo.write("app.env", "ACME=acme_\(ExampleTemplate.expand("⟪lo:32⟫", salt: "acme"))\nZETA=zeta_\(ExampleTemplate.expand("⟪lo:32⟫", salt: "zeta"))\n")
        try repo.commit("tokens")
        let entries = try XCTUnwrap(checklistJSON(repo)["entries"] as? [[String: Any]])
        func entry(_ rule: String) throws -> [String: Any] { try XCTUnwrap(entries.first { $0["rule"] as? String == rule }, rule) }
        let acme = try XCTUnwrap(try entry("acme-token")["rotation"] as? [String: Any])
        XCTAssertEqual(acme["revoke"] as? String, "Acme console > Tokens: revoke the token and create a new one")
        XCTAssertEqual(acme["cli"] as? [String], ["acme tokens revoke TOKEN_ID"])
        XCTAssertEqual((try entry("acme-token")["after_rotation"] as? [String])?.first, "Update the Acme webhook signing settings")
        let zeta = try XCTUnwrap(try entry("zeta-token")["rotation"] as? [String: Any])
        let revoke = try XCTUnwrap(zeta["revoke"] as? String)
        XCTAssertTrue(revoke.contains("Zeta console") && revoke.contains("zeta API token"), revoke)
    }

    // MARK: - rebuild

    func testDryRunSendsNothingAndListsTheRightTags() throws {
        let (repo, _, token) = try taggedRepo()
        let server = try LoopbackHTTPServer(statuses: [200])
        let out = try KeysealBinary.run(["rebuild", "--webhook", server.url, "--out", "requests.json"], in: repo.url)
        XCTAssertEqual(out.status, 0, out.stderr)
        XCTAssertTrue(server.requests.isEmpty, "a dry run sends nothing")
        let data = try Data(contentsOf: repo.url.appendingPathComponent("requests.json"))
        XCTAssertNil(data.range(of: Data(token.utf8)))
        let requests = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        XCTAssertEqual(requests.compactMap { $0["tag"] as? String }, ["v1.1", "v1.2"])
        let v11 = try repo.git(["rev-parse", "v1.1^{commit}"]).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(requests.first?["commit"] as? String, v11, "an annotated tag is peeled to its commit")
    }

    func testWebhookSignsRetries503AndIsIdempotent() throws {
        let (repo, _, _) = try taggedRepo()
        let server = try LoopbackHTTPServer(statuses: [503, 200])
        let key = "test-signing-key-\(UUID().uuidString)"
        let env = ["KEYSEAL_HOOK_KEY": key]
        let out = try KeysealBinary.run(["rebuild", "--webhook", server.url, "--signing-key-env", "KEYSEAL_HOOK_KEY", "--apply",
                                         "--backoff", "0.05"], in: repo.url, environment: env)
        XCTAssertEqual(out.status, 0, out.stdout + out.stderr)
        let received = server.requests
        XCTAssertEqual(received.count, 3, "v1.1: 503 then 200; v1.2: 200")
        for request in received {
            XCTAssertEqual(request.method, "POST")
            let expected = "sha256=" + HMAC<SHA256>.authenticationCode(for: request.body, using: SymmetricKey(data: Data(key.utf8)))
                .map { String(format: "%02x", $0) }.joined()
            XCTAssertEqual(request.headers["x-keyseal-signature"], expected)
            XCTAssertFalse(String(decoding: request.body, as: UTF8.self).contains(key))
        }
        XCTAssertFalse(out.stdout.contains(key))

        let again = try KeysealBinary.run(["rebuild", "--webhook", server.url, "--signing-key-env", "KEYSEAL_HOOK_KEY", "--apply"],
                                          in: repo.url, environment: env)
        XCTAssertEqual(again.status, 0)
        XCTAssertEqual(server.requests.count, 3, "no duplicate request on a second --apply")
        XCTAssertTrue(again.stdout.contains("already requested"), again.stdout)

        // A new secret in a tag makes a new request for that tag.
        try repo.write("more.env", "TOKEN=\(FakeSecret.github("new-in-tag"))\n")
        try repo.git(["commit", "-q", "--no-verify", "-m", "another"])
        try repo.git(["tag", "v1.3"])
        let third = try KeysealBinary.run(["rebuild", "--webhook", server.url, "--apply"], in: repo.url)
        XCTAssertEqual(third.status, 0, third.stdout)
        XCTAssertEqual(server.requests.count, 4)
    }

    func testWebhook400IsNotRetriedAndFails() throws {
        let (repo, _, _) = try taggedRepo()
        let server = try LoopbackHTTPServer(statuses: [400])
        let out = try KeysealBinary.run(["rebuild", "--webhook", server.url, "--apply", "--backoff", "0.05"], in: repo.url)
        XCTAssertEqual(out.status, 1)
        XCTAssertEqual(server.requests.count, 2, "one attempt per tag, no retry after a 400")
        XCTAssertTrue(out.stdout.contains("HTTP 400"), out.stdout)
    }

    func testExecRunsOncePerTagWithoutAShell() throws {
        let (repo, _, _) = try taggedRepo()
        try repo.git(["tag", "v2$(touch${IFS}INJECTED)", "v1.2"])
        let log = repo.url.appendingPathComponent("exec.log").path
        let script = repo.url.appendingPathComponent("record.sh")
        try Data("#!/bin/sh\nprintf '%s|%s\\n' \"$1\" \"$2\" >> '\(log)'\n".utf8).write(to: script)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
        let out = try KeysealBinary.run(["rebuild", "--exec", "\(script.path) {tag} {commit}", "--apply"], in: repo.url)
        XCTAssertEqual(out.status, 0, out.stdout + out.stderr)
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.map { String($0.split(separator: "|")[0]) }.sorted(), ["v1.1", "v1.2", "v2$(touch${IFS}INJECTED)"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: repo.url.appendingPathComponent("INJECTED").path))
    }

    func testBadRebuildOptionsExitTwo() throws {
        let (repo, _, _) = try taggedRepo()
        XCTAssertEqual(try KeysealBinary.run(["rebuild", "--apply"], in: repo.url).status, 2)
        XCTAssertEqual(try KeysealBinary.run(["rebuild", "--webhook", "ftp://x"], in: repo.url).status, 2)
        XCTAssertEqual(try KeysealBinary.run(["rebuild", "--webhook", "http://127.0.0.1:9/x", "--signing-key-env", "NO_SUCH_VARIABLE_X"], in: repo.url).status, 2)
        XCTAssertEqual(try KeysealBinary.run(["rebuild", "--exec", "'unbalanced"], in: repo.url).status, 2)
    }
}
