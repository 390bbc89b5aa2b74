import Foundation
import KeysealCore
import XCTest

/// `keyseal pre-receive` in a bare repository's hooks, driven by real pushes (git's own
/// receive-pack, with its quarantine) from a client that has no hooks at all.
final class PreReceiveTests: XCTestCase {
    var server: TestRepository!
    var client: TestRepository!
    let secret = FakeSecret.stripe("pre-receive")

    override func setUpWithError() throws {
        server = try TestRepository(bare: true)
        client = try TestRepository()
        try client.write("README.md", "app\n")
        try client.commit("start")
        try client.git(["remote", "add", "origin", server.path])
        // History the server had before the hook is not judged again.
        XCTAssertEqual(try push(["origin", "main"]).status, 0)
        let install = try KeysealBinary.run(["hooks", "install", "--server", server.path], in: server.url)
        XCTAssertEqual(install.status, 0, install.stderr)
    }

    /// A push as a developer makes it; `--no-verify` skips only client hooks.
    func push(_ arguments: [String], options: String = "") throws -> TestRepository.Output {
        var env = ["KEYSEAL": KeysealBinary.path]
        if !options.isEmpty { env["KEYSEAL_PRE_RECEIVE_OPTIONS"] = options }
        return try TestRepository.capture("/usr/bin/env", ["git", "push", "--no-verify"] + arguments, in: client.url, environment: env)
    }

    func serverRef(_ name: String) -> String? {
        (try? server.git(["rev-parse", "--verify", "-q", name]))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testASecretInAMiddleCommitIsRefusedWhileQuarantinedAndRefsStay() throws {
        let before = serverRef("main")
        try client.write("docs/a.md", "a\n")
        try client.commit("docs")
        try client.write("config/prod.env", "STRIPE_KEY=\(secret)\n")
        let leak = try client.commit("add prod config")
        try client.write("docs/b.md", "b\n")
        try client.commit("more docs")
        let out = try push(["origin", "main"])
        XCTAssertNotEqual(out.status, 0, out.stderr)
        XCTAssertTrue(out.stderr.contains("remote: keyseal: push refused: 1 secret in 3 new commit(s)"), out.stderr)
        XCTAssertTrue(out.stderr.contains("config/prod.env:1") && out.stderr.contains(String(leak.prefix(10))), out.stderr)
        XCTAssertTrue(out.stderr.contains("git rebase -i \(leak.prefix(10))^"), out.stderr)
        XCTAssertFalse(out.stdout.contains(secret) || out.stderr.contains(secret), "no clear secret in remote: output")
        XCTAssertEqual(serverRef("main"), before, "a refused push changes no ref")
        // The blob was only ever in git's quarantine, which git drops when the hook refuses: keyseal read it there.
        let blob = try client.git(["rev-parse", "\(leak):config/prod.env"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let inServer = try TestRepository.capture("/usr/bin/env", ["git", "cat-file", "-e", blob], in: server.url)
        XCTAssertNotEqual(inServer.status, 0, "the refused push's objects must not be in the server's store")
    }

    func testANewBranchScansOnlyItsNewCommitsAndDeletionsPass() throws {
        for index in 1...4 {
            try client.write("file\(index).txt", "\(index)\n")
            try client.commit("commit \(index)")
        }
        XCTAssertEqual(try push(["origin", "main"]).status, 0)
        try client.git(["checkout", "-q", "-b", "feature"])
        try client.write("feature.txt", "f\n")
        try client.commit("feature 1")
        try client.write("feature.txt", "f2\n")
        try client.commit("feature 2")
        let report = client.url.appendingPathComponent("pre-receive.json").path
        let out = try push(["origin", "feature"], options: "-o \(report)")
        XCTAssertEqual(out.status, 0, out.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any])
        XCTAssertEqual((json["summary"] as? [String: Any])?["commits"] as? Int, 2, "only the branch's own commits")
        let deletion = try push(["origin", ":feature"])
        XCTAssertEqual(deletion.status, 0, deletion.stderr)
        XCTAssertNil(serverRef("refs/heads/feature"))
    }

    func testRemovingASecretThatPredatesTheHookPasses() throws {
        // The secret reached the server before the hook was installed: removing it must not be refused.
        try TestRepository.run("/bin/mv", [server.url.appendingPathComponent("hooks/pre-receive").path,
                                           server.url.appendingPathComponent("hooks/pre-receive.off").path], in: server.url)
        try client.write("prod.env", "STRIPE_KEY=\(secret)\n")
        try client.commit("old leak")
        XCTAssertEqual(try push(["origin", "main"]).status, 0)
        try TestRepository.run("/bin/mv", [server.url.appendingPathComponent("hooks/pre-receive.off").path,
                                           server.url.appendingPathComponent("hooks/pre-receive").path], in: server.url)
        try client.git(["rm", "-q", "prod.env"])
        try client.commit("remove the leak")
        let out = try push(["origin", "main"])
        XCTAssertEqual(out.status, 0, out.stderr)
    }

    func testRenamingOrEditingAFileThatAlreadyHeldASecretPassesButANewSecretInItDoesNot() throws {
        // The hook scans each new blob once and diffs line by line (with rename detection) only the
        // commits whose blobs hold a match: a secret the server already had must still not count.
        try TestRepository.run("/bin/mv", [server.url.appendingPathComponent("hooks/pre-receive").path,
                                           server.url.appendingPathComponent("hooks/pre-receive.off").path], in: server.url)
        let lines = (1...30).map { "setting_\($0) = \($0)" }.joined(separator: "\n")
        try client.write("old.env", "STRIPE_KEY=\(secret)\n\(lines)\n")
        try client.write("config/README", "settings\n")
        try client.commit("old leak")
        XCTAssertEqual(try push(["origin", "main"]).status, 0)
        try TestRepository.run("/bin/mv", [server.url.appendingPathComponent("hooks/pre-receive.off").path,
                                           server.url.appendingPathComponent("hooks/pre-receive").path], in: server.url)
        try client.git(["mv", "old.env", "config/renamed.env"])
        try client.commit("rename")
        try client.write("config/renamed.env", "STRIPE_KEY=\(secret)\n\(lines)\nsetting_31 = 31\n")
        try client.commit("edit another line")
        let passed = try push(["origin", "main"])
        XCTAssertEqual(passed.status, 0, passed.stderr)
        let other = FakeSecret.stripe("pre-receive-new")
        try client.write("config/renamed.env", "STRIPE_KEY=\(secret)\n\(lines)\nsetting_31 = 31\nSTRIPE_NEW=\(other)\n")
        try client.commit("new key")
        let refused = try push(["origin", "main"])
        XCTAssertNotEqual(refused.status, 0, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("push refused: 1 secret in 1 new commit(s)"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("config/renamed.env:33"), refused.stderr)
    }

    func testATriagedFalsePositivePassesAndWarnOnlyRecords() throws {
        try client.write("fixtures/stripe.env", "STRIPE_KEY=\(secret)\n")
        try client.commit("test fixture")
        // Warn-only: passes, says what it would refuse, and records the secret for triage.
        let warned = try push(["origin", "main"], options: "--warn-only")
        XCTAssertEqual(warned.status, 0, warned.stderr)
        XCTAssertTrue(warned.stderr.contains("WARNING (warn-only mode): this push would be refused"), warned.stderr)
        let listed = try KeysealBinary.run(["findings", "--format", "json"], in: server.url)
        let secrets = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]], listed.stderr)
        let fingerprint = try XCTUnwrap(secrets.first?["fingerprint"] as? String)
        // The same secret pushed again on another branch is refused, until an admin triages it.
        try client.git(["checkout", "-q", "-b", "again"])
        try client.write("fixtures/copy.env", "STRIPE_KEY=\(secret)\n")
        try client.commit("copy the fixture")
        XCTAssertNotEqual(try push(["origin", "again"]).status, 0)
        let triage = try KeysealBinary.run(["triage", String(fingerprint.prefix(12)), "--status", "false-positive", "--note", "test fixture"],
                                           in: server.url)
        XCTAssertEqual(triage.status, 0, triage.stderr)
        let out = try push(["origin", "again"])
        XCTAssertEqual(out.status, 0, out.stderr)
    }

    func testATimeBudgetSpentFailsClosedUnlessTheAdminChosePass() throws {
        try client.write("a.txt", "a\n")
        try client.commit("a")
        let refused = try push(["origin", "main"], options: "--timeout 0.000001")
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("push refused: the scan did not finish within its time budget"), refused.stderr)
        let passed = try push(["origin", "main"], options: "--timeout 0.000001 --on-timeout pass")
        XCTAssertEqual(passed.status, 0, passed.stderr)
        XCTAssertTrue(passed.stderr.contains("WARNING: the scan did not finish within its time budget"), passed.stderr)
    }

    /// `git push -o keyseal.bypass=REASON`: refused unless the server enables it; when enabled, the
    /// push goes through and the bypass is recorded with the pusher and the reason.
    func testTheBypassPushOptionIsTheAdminsToEnableAndIsRecorded() throws {
        try server.git(["config", "receive.advertisePushOptions", "true"])
        try client.write("prod.env", "STRIPE_KEY=\(secret)\n")
        try client.commit("hotfix config")
        let refused = try push(["-o", "keyseal.bypass=INC-42 outage", "origin", "main"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("keyseal.bypass is not enabled on this server"), refused.stderr)
        let accepted = try push(["-o", "keyseal.bypass=INC-42 outage", "origin", "main"], options: "--allow-bypass")
        XCTAssertEqual(accepted.status, 0, accepted.stderr)
        XCTAssertTrue(accepted.stderr.contains("BYPASS accepted"), accepted.stderr)
        XCTAssertFalse(accepted.stderr.contains(secret))
        let listed = try KeysealBinary.run(["findings", "--format", "json"], in: server.url)
        let secrets = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]], listed.stderr)
        let note = try XCTUnwrap(secrets.first?["note"] as? String, "\(secrets)")
        XCTAssertTrue(note.contains("keyseal.bypass") && note.contains("INC-42 outage"), note)
        XCTAssertEqual(secrets.first?["status"] as? String, "open", "a bypassed secret still has to be rotated")
    }

    /// Over the network, through `git daemon` on loopback (its receive-pack runs the hook in the
    /// daemon's environment, as a server does).
    func testAPushOverGitDaemonIsRefusedAndACleanOnePasses() throws {
        let base = server.url.deletingLastPathComponent()
        let name = server.url.lastPathComponent
        var daemon: Process?
        var port = 0
        for _ in 0..<5 where daemon == nil {
            port = Int.random(in: 20_000...60_000)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["git", "daemon", "--reuseaddr", "--listen=127.0.0.1", "--port=\(port)", "--export-all",
                                 "--enable=receive-pack", "--base-path=\(base.path)", base.path]
            var env = ProcessInfo.processInfo.environment
            env["KEYSEAL"] = KeysealBinary.path
            env["GIT_CONFIG_NOSYSTEM"] = "1"
            process.environment = env
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Ready when it answers; a port already taken ends the process instead.
            for _ in 0..<50 {
                if !process.isRunning { break }
                let probe = try TestRepository.capture("/usr/bin/env", ["git", "ls-remote", "git://127.0.0.1:\(port)/\(name)"], in: client.url)
                if probe.status == 0 { daemon = process; break }
                Thread.sleep(forTimeInterval: 0.1)
            }
            if daemon == nil { process.terminate(); process.waitUntilExit() }
        }
        let running = try XCTUnwrap(daemon, "git daemon did not start")
        defer { running.terminate(); running.waitUntilExit() }
        let url = "git://127.0.0.1:\(port)/\(name)"
        try client.write("deploy.env", "STRIPE_KEY=\(secret)\n")
        try client.commit("deploy config")
        let refused = try TestRepository.capture("/usr/bin/env", ["git", "push", "--no-verify", url, "main"], in: client.url)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("remote: keyseal: push refused"), refused.stderr)
        XCTAssertFalse(refused.stderr.contains(secret))
        try client.git(["reset", "-q", "--hard", "HEAD~1"])
        try client.write("notes.txt", "fine\n")
        try client.commit("notes")
        let passed = try TestRepository.capture("/usr/bin/env", ["git", "push", "--no-verify", url, "main"], in: client.url)
        XCTAssertEqual(passed.status, 0, passed.stderr)
    }

    /// Hostile input costs time linear in its size: one 8 MB line, a million short lines, remote
    /// URLs of megabytes of `@` and slashes (trailing slashes were quadratic), and many push options.
    func testHookInputParsersAreLinear() throws {
        XCTAssertThrowsError(try ReceiveUpdate.parse(String(repeating: "a", count: 8 << 20)))
        let line = String(repeating: "0", count: 40) + " " + String(repeating: "1", count: 40) + " refs/heads/x\n"
        XCTAssertEqual(try ReceiveUpdate.parse(String(repeating: line, count: 100_000)).count, 100_000)
        XCTAssertThrowsError(try PushUpdate.parse(String(repeating: " \n", count: 1_000_000) + "x"))
        let url = "https://" + String(repeating: "p@", count: 2 << 20) + "host/" + String(repeating: "a/", count: 1 << 20) + "x.git///"
        XCTAssertEqual(RepositoryName.normalise(remoteURL: url)?.hasPrefix("host/a/a/"), true)
        XCTAssertEqual(RepositoryName.normalise(remoteURL: url)?.hasSuffix("/a/x"), true)
        XCTAssertNil(RepositoryName.normalise(remoteURL: String(repeating: "/", count: 4 << 20)))
        var environment = ["GIT_PUSH_OPTION_COUNT": "999999999"]
        for index in 0..<2000 { environment["GIT_PUSH_OPTION_\(index)"] = "x=" + String(repeating: "y", count: 1000) }
        XCTAssertNil(GuardScanner.bypassReason(environment: environment))
        environment["GIT_PUSH_OPTION_999"] = "keyseal.bypass=" + String(repeating: "r", count: 1 << 20)
        XCTAssertEqual(GuardScanner.bypassReason(environment: environment)?.count, 500, "a reason is kept to 500 characters")
    }

    func testBadInputIsAnErrorThatRefuses() throws {
        let out = try KeysealBinary.run(["pre-receive"], in: server.url, stdin: Data("not a ref update\n".utf8))
        XCTAssertEqual(out.status, 2, out.stderr)
        let timeout = try KeysealBinary.run(["pre-receive", "--timeout", "-1"], in: server.url, stdin: Data())
        XCTAssertEqual(timeout.status, 2, timeout.stderr)
    }

    /// An existing server hook is kept and runs after keyseal's; uninstall restores it.
    func testInstallChainsAnExistingServerHook() throws {
        let server = try TestRepository(bare: true)
        let hook = server.url.appendingPathComponent("hooks/pre-receive")
        try Data("#!/bin/sh\ncat > /dev/null\necho custom-hook-ran >&2\n".utf8).write(to: hook)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook.path)
        XCTAssertEqual(try KeysealBinary.run(["hooks", "install", "--server", server.path], in: server.url).status, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: hook.path + ".keyseal-chained"))
        try client.git(["remote", "add", "second", server.path])
        let out = try push(["second", "main"])
        XCTAssertEqual(out.status, 0, out.stderr)
        XCTAssertTrue(out.stderr.contains("custom-hook-ran"), out.stderr)
        XCTAssertEqual(try KeysealBinary.run(["hooks", "uninstall", "--server", server.path], in: server.url).status, 0)
        XCTAssertTrue(try String(contentsOf: hook, encoding: .utf8).contains("custom-hook-ran"))
    }

    /// The script in hooks/ is the one `hooks install --server` writes.
    func testTheShippedScriptIsTheInstalledOne() throws {
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("hooks/pre-receive")
        XCTAssertEqual(try String(contentsOf: shipped, encoding: .utf8), HookScript.preReceive.text)
    }
}
