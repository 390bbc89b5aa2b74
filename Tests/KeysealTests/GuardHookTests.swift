import Foundation
@testable import KeysealCore
import XCTest

/// The hooks as a developer meets them: real `git commit` and `git push` with keyseal's hooks installed.
final class GuardHookTests: XCTestCase {
    var env: [String: String] { ["KEYSEAL": KeysealBinary.path] }
    /// Remotes live until the test ends (a TestRepository deletes its folder when released).
    var remotes: [TestRepository] = []

    func installedRepo() throws -> TestRepository {
        let repo = try TestRepository()
        try repo.write("README.md", "project\n")
        try repo.commit("start")
        let out = try KeysealBinary.run(["hooks", "install"], in: repo.url)
        XCTAssertEqual(out.status, 0, out.stderr)
        return repo
    }

    func commitStatus(_ repo: TestRepository, _ message: String = "change") throws -> TestRepository.Output {
        try TestRepository.capture("/usr/bin/env", ["git", "commit", "-q", "-m", message], in: repo.url, environment: env)
    }

    func stagedNames(_ repo: TestRepository) throws -> String {
        try repo.git(["diff", "--cached", "--name-only"])
    }

    func testPreCommitRefusesAStagedAWSKeyAndLeavesTheIndexAlone() throws {
        let repo = try installedRepo()
        let key = FakeSecret.awsKeyID("commit")
        try repo.write("deploy/aws.env", "AWS_ACCESS_KEY_ID=\(key)\n")
        let before = try stagedNames(repo)
        let out = try commitStatus(repo)
        XCTAssertNotEqual(out.status, 0)
        XCTAssertTrue(out.stderr.contains("aws-access-key-id"), out.stderr)
        XCTAssertTrue(out.stderr.contains("deploy/aws.env:1"), out.stderr)
        XCTAssertTrue(out.stderr.contains("keyseal:allow"), out.stderr)
        XCTAssertFalse(out.stderr.contains(key), "the clear secret must never be printed")
        XCTAssertEqual(try stagedNames(repo), before)
        XCTAssertEqual(try repo.git(["rev-list", "--count", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines), "1")
    }

    func testInlineAllowAndAllowlistPathLetTheCommitThrough() throws {
        let repo = try installedRepo()
        try repo.write("deploy/aws.env", "AWS_ACCESS_KEY_ID=\(FakeSecret.awsKeyID("allow"))  # keyseal:allow\n")
        XCTAssertEqual(try commitStatus(repo).status, 0)

        try repo.write("fixtures/keys.env", "AWS_ACCESS_KEY_ID=\(FakeSecret.awsKeyID("fixture"))\n")
        XCTAssertNotEqual(try commitStatus(repo).status, 0)
        try repo.write(".keyseal.toml", "[allowlist]\npaths = [\"fixtures/**\"]\n")
        let out = try commitStatus(repo)
        XCTAssertEqual(out.status, 0, out.stderr)
    }

    func testUnstagedSecretDoesNotBlock() throws {
        let repo = try installedRepo()
        try repo.write("notes.txt", "hello\n")
        try Data("T=\(FakeSecret.github("unstaged"))\n".utf8).write(to: repo.url.appendingPathComponent("local.env"))
        XCTAssertEqual(try commitStatus(repo).status, 0)
    }

    func testCommitAllUsesTheTemporaryIndex() throws {
        let repo = try installedRepo()
        try Data("TOKEN=\(FakeSecret.github("dash-a"))\n".utf8).write(to: repo.url.appendingPathComponent("README.md"))
        let out = try TestRepository.capture("/usr/bin/env", ["git", "commit", "-q", "-a", "-m", "all"], in: repo.url, environment: env)
        XCTAssertNotEqual(out.status, 0, "git commit -a must be checked too")
        XCTAssertTrue(out.stderr.contains("github-pat"), out.stderr)
    }

    func testOnlyAddedLinesCountAndRenamesAddNothing() throws {
        let repo = try TestRepository()
        try repo.write("legacy.env", "A=1\nTOKEN=\(FakeSecret.github("legacy"))\n")
        try repo.commit("old secret, already in history")
        try repo.write("legacy.env", "A=2\nTOKEN=\(FakeSecret.github("legacy"))\n")
        let edit = try KeysealBinary.run(["staged"], in: repo.url)
        XCTAssertEqual(edit.status, 0, "editing another line of a file does not re-report its old secret: \(edit.stderr)")
        try repo.commit("edit")
        try repo.git(["mv", "legacy.env", "renamed.env"])
        XCTAssertEqual(try KeysealBinary.run(["staged"], in: repo.url).status, 0, "a rename adds nothing")
        try repo.write("renamed.env", "A=2\nTOKEN=\(FakeSecret.github("legacy"))\nNEW=\(FakeSecret.stripe("new"))\n")
        let added = try KeysealBinary.run(["staged"], in: repo.url)
        XCTAssertEqual(added.status, 1)
        XCTAssertTrue(added.stderr.contains("renamed.env:3"), added.stderr)
        XCTAssertFalse(added.stderr.contains("github-pat"), added.stderr)
    }

    func testStagedOnUnbornBranch() throws {
        let repo = try TestRepository()
        try repo.write("first.env", "TOKEN=\(FakeSecret.github("unborn"))\n")
        let out = try KeysealBinary.run(["staged"], in: repo.url)
        XCTAssertEqual(out.status, 1, out.stderr)
        try repo.git(["rm", "-q", "--cached", "first.env"])
        XCTAssertEqual(try KeysealBinary.run(["staged"], in: repo.url).status, 0)
    }

    // MARK: - pre-push

    func pushSetup() throws -> (TestRepository, TestRepository) {
        let remote = try TestRepository(bare: true)
        remotes.append(remote)
        let repo = try installedRepo()
        try repo.git(["remote", "add", "origin", remote.path])
        let out = try TestRepository.capture("/usr/bin/env", ["git", "push", "-q", "origin", "main"], in: repo.url, environment: env)
        XCTAssertEqual(out.status, 0, out.stderr)
        return (repo, remote)
    }

    func push(_ repo: TestRepository, _ arguments: [String]) throws -> TestRepository.Output {
        try TestRepository.capture("/usr/bin/env", ["git", "push", "-q"] + arguments, in: repo.url, environment: env)
    }

    /// Commits with the hook bypassed, as someone who used --no-verify would.
    func commitUnchecked(_ repo: TestRepository, _ message: String) throws -> String {
        try repo.git(["commit", "-q", "--no-verify", "-m", message])
        return try repo.git(["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testPushOfThreeCommitsWhereOneAddsASecretAndALaterOneRemovesItIsRefused() throws {
        let (repo, remote) = try pushSetup()
        try repo.write("a.txt", "a\n")
        _ = try commitUnchecked(repo, "one")
        try repo.write("cfg.env", "STRIPE=\(FakeSecret.stripe("push"))\n")
        let leak = try commitUnchecked(repo, "two adds a key")
        try repo.git(["rm", "-q", "cfg.env"])
        _ = try commitUnchecked(repo, "three removes it")
        let out = try push(repo, ["origin", "main"])
        XCTAssertNotEqual(out.status, 0)
        XCTAssertTrue(out.stderr.contains("stripe-secret-key"), out.stderr)
        XCTAssertTrue(out.stderr.contains(String(leak.prefix(10))), out.stderr)
        XCTAssertTrue(out.stderr.contains("git rebase -i \(leak.prefix(10))^"), out.stderr)
        XCTAssertFalse(out.stderr.contains(FakeSecret.stripe("push")))
        let remoteHead = try remote.git(["rev-parse", "main"]).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertNotEqual(remoteHead, leak)
    }

    /// Two commits that add secrets get one rebase, from the older, marking both: a second
    /// `rebase -i X^` would name a commit the first rebase rewrote.
    func testAPushBlockedByTwoCommitsGetsOneRebaseFromTheOldest() throws {
        let (repo, _) = try pushSetup()
        try repo.write("one.env", "STRIPE=\(FakeSecret.stripe("first"))\n")
        let first = try commitUnchecked(repo, "first key")
        try repo.write("b.txt", "b\n")
        _ = try commitUnchecked(repo, "clean")
        try repo.write("two.env", "TOKEN=\(FakeSecret.github("second"))\n")
        let second = try commitUnchecked(repo, "second key")
        try repo.write("c.txt", "c\n")
        _ = try commitUnchecked(repo, "clean again")
        let out = try push(repo, ["origin", "main"])
        XCTAssertNotEqual(out.status, 0)
        let rebases = out.stderr.components(separatedBy: "\n").filter { $0.contains("git rebase -i") }
        XCTAssertEqual(rebases.map { $0.trimmingCharacters(in: .whitespaces) }, ["git rebase -i \(first.prefix(10))^"], out.stderr)
        XCTAssertTrue(out.stderr.contains("mark \(first.prefix(10)), \(second.prefix(10)) as 'edit'"), out.stderr)
    }

    /// A `.env` file blocked by the audit alone (no secret on its lines) is to be untracked, not
    /// edited: the advice says `git rm --cached`, `.gitignore`, and how to allow it.
    func testAnAuditOnlyBlockSaysToUntrackTheFile() throws {
        let repo = try installedRepo()
        try repo.write(".env", "DEBUG=1\n")
        let out = try commitStatus(repo)
        XCTAssertNotEqual(out.status, 0)
        XCTAssertTrue(out.stderr.contains("git rm --cached .env"), out.stderr)
        XCTAssertTrue(out.stderr.contains(".gitignore"), out.stderr)
        XCTAssertTrue(out.stderr.contains("paths = [\".env\"]"), out.stderr)
        XCTAssertFalse(out.stderr.contains("Remove the secret from the file"), out.stderr)
    }

    func testNewBranchScansOnlyCommitsTheRemoteDoesNotHave() throws {
        let (repo, _) = try pushSetup()
        // History the remote already has may hold an old secret (it was pushed with --no-verify long ago).
        try repo.write("old.env", "T=\(FakeSecret.github("old"))\n")
        _ = try commitUnchecked(repo, "old leak")
        XCTAssertEqual(try TestRepository.capture("/usr/bin/env", ["git", "push", "-q", "--no-verify", "origin", "main"],
                                                  in: repo.url).status, 0)
        try repo.git(["checkout", "-q", "-b", "feature"])
        try repo.write("f.txt", "clean\n")
        _ = try commitUnchecked(repo, "feature work")
        let out = try push(repo, ["origin", "feature"])
        XCTAssertEqual(out.status, 0, out.stderr)

        let report = repo.url.appendingPathComponent("push.json")
        let head = try repo.git(["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let input = "refs/heads/feature2 \(head) refs/heads/feature2 \(String(repeating: "0", count: 40))\n"
        let direct = try KeysealBinary.run(["pre-push", "origin", remoteURL(repo), "--report", report.path], in: repo.url,
                                           stdin: Data(input.utf8))
        XCTAssertEqual(direct.status, 0, direct.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any])
        XCTAssertEqual((json["summary"] as? [String: Any])?["commits"] as? Int, 0,
                       "feature's commit is on origin/feature already; nothing is new")
    }

    func remoteURL(_ repo: TestRepository) throws -> String {
        try repo.git(["remote", "get-url", "origin"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testDeletionPushPasses() throws {
        let (repo, _) = try pushSetup()
        try repo.git(["checkout", "-q", "-b", "doomed"])
        try repo.write("d.env", "T=\(FakeSecret.github("doomed"))\n")
        _ = try commitUnchecked(repo, "leak on a branch")
        XCTAssertEqual(try TestRepository.capture("/usr/bin/env", ["git", "push", "-q", "--no-verify", "origin", "doomed"],
                                                  in: repo.url).status, 0)
        let out = try push(repo, ["origin", "--delete", "doomed"])
        XCTAssertEqual(out.status, 0, out.stderr)
    }

    func testMalformedPrePushInputIsAnError() throws {
        let repo = try installedRepo()
        let out = try KeysealBinary.run(["pre-push", "origin", "x"], in: repo.url, stdin: Data("nonsense\n".utf8))
        XCTAssertEqual(out.status, 2)
        XCTAssertTrue(out.stderr.contains("nonsense"), out.stderr)
    }

    // MARK: - install and uninstall

    func testExistingHookIsChainedKeptAndRestored() throws {
        let repo = try TestRepository()
        try repo.write("README.md", "x\n")
        try repo.commit("start")
        let hook = repo.url.appendingPathComponent(".git/hooks/pre-commit")
        let marker = repo.url.appendingPathComponent("user-hook-ran")
        let userHook = "#!/bin/sh\ntouch '\(marker.path)'\n"
        try Data(userHook.utf8).write(to: hook)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook.path)

        XCTAssertEqual(try KeysealBinary.run(["hooks", "install"], in: repo.url).status, 0)
        let installed = try String(contentsOf: hook, encoding: .utf8)
        XCTAssertEqual(try KeysealBinary.run(["hooks", "install"], in: repo.url).status, 0)
        XCTAssertEqual(try String(contentsOf: hook, encoding: .utf8), installed, "installing twice changes nothing")
        XCTAssertEqual(try String(contentsOf: hook.appendingPathExtension("keyseal-chained"), encoding: .utf8), userHook)

        try repo.write("b.txt", "b\n")
        XCTAssertEqual(try commitStatus(repo).status, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: marker.path), "the user's hook runs after keyseal's")

        try FileManager.default.removeItem(at: marker)
        XCTAssertEqual(try KeysealBinary.run(["hooks", "uninstall"], in: repo.url).status, 0)
        XCTAssertEqual(try String(contentsOf: hook, encoding: .utf8), userHook)
        try repo.write("c.txt", "c\n")
        XCTAssertEqual(try commitStatus(repo).status, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: marker.path), "the user's hook still runs after uninstall")
    }

    func testCoreHooksPathIsRespected() throws {
        let repo = try TestRepository()
        try repo.git(["config", "core.hooksPath", ".githooks"])
        XCTAssertEqual(try KeysealBinary.run(["hooks", "install", "--pre-commit"], in: repo.url).status, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: repo.url.appendingPathComponent(".githooks/pre-commit").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: repo.url.appendingPathComponent(".githooks/pre-push").path))
    }

    func testHookFailsClosedWithoutTheBinary() throws {
        let repo = try installedRepo()
        try repo.write("b.txt", "b\n")
        let out = try TestRepository.capture("/usr/bin/env", ["git", "commit", "-q", "-m", "x"], in: repo.url,
                                             environment: ["KEYSEAL": "/nonexistent/keyseal"])
        XCTAssertNotEqual(out.status, 0)
        XCTAssertTrue(out.stderr.contains("keyseal binary was not found"), out.stderr)
    }

    /// `hooks/` holds copies of the generated scripts (Hooks.swift is their one source): each is the
    /// text `keyseal hooks install` writes and `keyseal hooks show` prints, and begins with the shared
    /// preamble.
    func testShippedHookFilesMatchWhatInstallWrites() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let repo = try TestRepository()
        for hook in HookScript.allCases {
            let shipped = try String(contentsOf: root.appendingPathComponent("hooks/\(hook.rawValue)"), encoding: .utf8)
            XCTAssertEqual(shipped, hook.text,
                           "hooks/\(hook.rawValue) is stale: regenerate it with `swift run keyseal hooks show \(hook.rawValue) > hooks/\(hook.rawValue)`")
            XCTAssertTrue(shipped.hasPrefix(hook.preamble))
            XCTAssertTrue(shipped.hasSuffix("fi\nexit 0\n"), shipped)
            let shown = try KeysealBinary.run(["hooks", "show", hook.rawValue], in: repo.url)
            XCTAssertEqual(shown.status, 0, shown.stderr)
            XCTAssertEqual(shown.stdout, shipped)
        }
        XCTAssertEqual(HookScript.preCommit.preamble.replacingOccurrences(of: "commit", with: "push")
                        .replacingOccurrences(of: "a push whose staged changes", with: "a push whose new commits"),
                       HookScript.prePush.preamble, "the two preambles differ only in the words naming the hook")
    }

    // MARK: - config

    func testConfigErrorsNameFileLineAndKey() throws {
        let repo = try installedRepo()
        try Data("disabled_rules = \"jwt\"\n".utf8).write(to: repo.url.appendingPathComponent(".keyseal.toml"))
        let out = try KeysealBinary.run(["staged"], in: repo.url)
        XCTAssertEqual(out.status, 2)
        XCTAssertTrue(out.stderr.contains(".keyseal.toml:1"), out.stderr)
        XCTAssertTrue(out.stderr.contains("disabled_rules"), out.stderr)

        try Data("[allowlist\npaths = [\n".utf8).write(to: repo.url.appendingPathComponent(".keyseal.toml"))
        let syntax = try KeysealBinary.run(["config", "check"], in: repo.url)
        XCTAssertEqual(syntax.status, 2)
        XCTAssertTrue(syntax.stderr.contains(".keyseal.toml:1"), syntax.stderr)
    }

    func testConfigCheckRunsCustomRuleExamplesAndWarnsOnUnknownKeys() throws {
        let repo = try TestRepository()
        let good = """
            colour = "blue"
            [[rules]]
            id = "acme-token"
            provider = "Acme"
            regex = '\\b(acme_[a-z0-9]{32})\\b'
            positives = ["token = acme_⟪lo:32⟫", "ACME=acme_⟪lo:32⟫"]
            negatives = ["acme_short"]
            """
        try Data(good.utf8).write(to: repo.url.appendingPathComponent(".keyseal.toml"))
        let ok = try KeysealBinary.run(["config", "check"], in: repo.url)
        XCTAssertEqual(ok.status, 0, ok.stdout + ok.stderr)
        XCTAssertTrue(ok.stderr.contains("unknown key 'colour'"), ok.stderr)

        try repo.write("acme.cfg", "token = acme_\(String(repeating: "k3", count: 16))\n")
        let found = try KeysealBinary.run(["staged"], in: repo.url)
        XCTAssertEqual(found.status, 1, "custom rules apply to staged scans")
        XCTAssertTrue(found.stderr.contains("acme-token"), found.stderr)

        let bad = good.replacingOccurrences(of: "negatives = [\"acme_short\"]", with: "negatives = [\"acme_⟪lo:32⟫\"]")
        try Data(bad.utf8).write(to: repo.url.appendingPathComponent(".keyseal.toml"))
        let failing = try KeysealBinary.run(["config", "check"], in: repo.url)
        XCTAssertEqual(failing.status, 1)
        XCTAssertTrue(failing.stdout.contains("matches its negative example"), failing.stdout)

        // A misspelt kind or an unclosed ⟪ makes the file invalid: exit 2, naming the rule and the example.
        for (template, problem) in [("acme_⟪low:32⟫", "unknown kind 'low'"), ("acme_⟪lo:32", "without its ⟫")] {
            let broken = good.replacingOccurrences(of: "negatives = [\"acme_short\"]", with: "negatives = [\"acme_short\", \"\(template)\"]")
            try Data(broken.utf8).write(to: repo.url.appendingPathComponent(".keyseal.toml"))
            let invalid = try KeysealBinary.run(["config", "check"], in: repo.url)
            XCTAssertEqual(invalid.status, 2, template)
            XCTAssertTrue(invalid.stderr.contains("rule 'acme-token': negative example 2: ") && invalid.stderr.contains(problem), invalid.stderr)
            let errors = invalid.stderr.split(separator: "\n").filter { !$0.hasPrefix("warning: ") }
            XCTAssertEqual(errors.count, 1, "one clear line, no usage text: \(invalid.stderr)")
        }
    }
}
