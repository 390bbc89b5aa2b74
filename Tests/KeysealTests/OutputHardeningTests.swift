import Foundation
import KeysealCore
import KeysealStore
import XCTest

/// What keyseal prints, records and sends when the input is hostile: webhook URLs with
/// credentials, redirects, option-like tag names, control sequences in commits, foreign databases,
/// unwritable reports.
final class OutputHardeningTests: XCTestCase {
    /// A repository with a secret in two tags (v1.0, v1.1).
    func taggedRepo() throws -> TestRepository {
        let repo = try TestRepository()
        try repo.write("config/prod.env", "STRIPE_KEY=\(FakeSecret.stripe("hardening"))\n")
        try repo.commit("add prod config")
        try repo.git(["tag", "v1.0"])
        try repo.write("README.md", "app\n")
        try repo.commit("readme")
        try repo.git(["tag", "v1.1"])
        return repo
    }

    /// Every byte of the store and its side files, to look for what must not be there.
    func storeBytes(_ repo: TestRepository) throws -> Data {
        let folder = repo.url.appendingPathComponent(".git/keyseal")
        var all = Data()
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            all += try Data(contentsOf: folder.appendingPathComponent(name))
        }
        return all
    }

    func python(_ script: String, _ arguments: [String], in directory: URL) throws -> String {
        try TestRepository.run("/usr/bin/env", ["python3", "-c", script] + arguments, in: directory)
    }

    // MARK: - Item 6: webhook credentials

    func testWebhookCredentialsAreNeitherPrintedNorStored() throws {
        let repo = try taggedRepo()
        let server = try LoopbackHTTPServer(statuses: [200])
        let user = "hookuser" + UUID().uuidString.prefix(8)
        let password = "pw" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let token = "tok" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let url = "http://\(user):\(password)@127.0.0.1:\(server.port)/hook?token=\(token)"
        let secrets = [user, password, token]

        let first = try KeysealBinary.run(["rebuild", "--webhook", url, "--apply"], in: repo.url)
        XCTAssertEqual(first.status, 0, first.stdout + first.stderr)
        XCTAssertEqual(server.requests.count, 2, "one request per tag")
        XCTAssertTrue(first.stdout.contains("2 sent"), first.stdout)
        let again = try KeysealBinary.run(["rebuild", "--webhook", url, "--apply"], in: repo.url)
        XCTAssertEqual(again.status, 0)
        XCTAssertEqual(server.requests.count, 2, "the same URL: already requested")
        XCTAssertTrue(again.stdout.contains("already requested"), again.stdout)
        XCTAssertTrue(again.stdout.contains("webhook http://127.0.0.1:\(server.port)/hook"), again.stdout)

        // A URL that differs only in its query is another target.
        let otherToken = "tok" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let other = try KeysealBinary.run(["rebuild", "--webhook", "http://127.0.0.1:\(server.port)/hook?token=\(otherToken)", "--apply"],
                                          in: repo.url)
        XCTAssertEqual(other.status, 0, other.stdout)
        XCTAssertEqual(server.requests.count, 4)

        // A failed request (nothing listens) says where, without the credentials either.
        let closed = try LoopbackHTTPServer(statuses: [200])
        let closedURL = "http://\(user):\(password)@127.0.0.1:\(closed.port)/hook?token=\(token)"
        closed.stop()
        let failed = try KeysealBinary.run(["rebuild", "--webhook", closedURL, "--apply", "--retries", "0"], in: repo.url)
        XCTAssertEqual(failed.status, 1, failed.stdout + failed.stderr)
        XCTAssertTrue(failed.stdout.contains("FAILED"), failed.stdout)
        // And a usage error about the URL does not echo it.
        let bad = try KeysealBinary.run(["rebuild", "--webhook", "ftp://\(user):\(password)@127.0.0.1/x?token=\(token)"], in: repo.url)
        XCTAssertEqual(bad.status, 2)

        let store = try storeBytes(repo)
        for output in [first, again, other, failed, bad] {
            for secret in secrets {
                XCTAssertFalse(output.stdout.contains(secret), "stdout holds \(secret): \(output.stdout)")
                XCTAssertFalse(output.stderr.contains(secret), "stderr holds \(secret): \(output.stderr)")
            }
        }
        for secret in secrets + [otherToken] {
            XCTAssertNil(store.range(of: Data(secret.utf8)), "the store holds \(secret)")
        }
    }

    /// A store written before this change recorded the full URL: those requests still count as
    /// sent, and the full URL leaves the store.
    func testRequestsRecordedUnderTheFullURLStillCountAndTheURLIsScrubbed() throws {
        let repo = try taggedRepo()
        let server = try LoopbackHTTPServer(statuses: [200])
        let password = "pw" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let url = "http://ci:\(password)@127.0.0.1:\(server.port)/hook?token=t\(password.suffix(6))"
        XCTAssertEqual(try KeysealBinary.run(["rebuild", "--webhook", url, "--apply"], in: repo.url).status, 0)
        XCTAssertEqual(server.requests.count, 2)
        // What an older keyseal wrote: the target is "webhook <full URL>".
        let store = repo.url.appendingPathComponent(".git/keyseal/store.sqlite").path
        _ = try python("import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('update rebuild_requests set target=?', ('webhook ' + sys.argv[2],)); c.commit(); c.close()",
                       [store, url], in: repo.url)
        XCTAssertNotNil(try storeBytes(repo).range(of: Data(password.utf8)), "the legacy record is in place")

        let again = try KeysealBinary.run(["rebuild", "--webhook", url, "--apply"], in: repo.url)
        XCTAssertEqual(again.status, 0, again.stdout + again.stderr)
        XCTAssertEqual(server.requests.count, 2, "requests recorded under the old key count as sent")
        XCTAssertTrue(again.stdout.contains("already requested"), again.stdout)
        XCTAssertNil(try storeBytes(repo).range(of: Data(password.utf8)), "the full URL left the store")
    }

    // MARK: - Item 7: redirects

    func testRedirectsAreRefusedAndNotRecorded() throws {
        for status in [302, 307] {
            let repo = try taggedRepo()
            let elsewhere = try LoopbackHTTPServer(statuses: [200])
            let server = try LoopbackHTTPServer(statuses: [status, status, 200], location: "http://127.0.0.1:\(elsewhere.port)/steal")
            let env = ["KEYSEAL_HOOK_KEY": "key-\(UUID().uuidString)"]
            let out = try KeysealBinary.run(["rebuild", "--webhook", server.url, "--signing-key-env", "KEYSEAL_HOOK_KEY", "--apply",
                                             "--backoff", "0.01"], in: repo.url, environment: env)
            XCTAssertEqual(out.status, 1, "\(status): " + out.stdout + out.stderr)
            XCTAssertTrue(out.stdout.contains("FAILED: HTTP \(status): redirect refused"), out.stdout)
            XCTAssertTrue(out.stdout.contains("0 sent"), out.stdout)
            XCTAssertEqual(server.requests.count, 2, "\(status): one attempt per tag, a redirect is not retried")
            XCTAssertTrue(elsewhere.requests.isEmpty, "\(status): the signed request went to the redirect's target")

            // Nothing was recorded as sent: the next run sends both.
            let retry = try KeysealBinary.run(["rebuild", "--webhook", server.url, "--signing-key-env", "KEYSEAL_HOOK_KEY", "--apply"],
                                              in: repo.url, environment: env)
            XCTAssertEqual(retry.status, 0, retry.stdout)
            XCTAssertTrue(retry.stdout.contains("2 sent"), retry.stdout)
            XCTAssertEqual(server.requests.count, 4)
            XCTAssertTrue(elsewhere.requests.isEmpty)
        }
    }

    // MARK: - Item 11: option injection through --exec

    func testExecRefusesOptionLikeTagsAndPassesTheEnvironment() throws {
        let repo = try taggedRepo()
        // `git tag` refuses such a name, but a fetch brings whatever the remote has.
        let hostile = "--upload-pack=touch${IFS}PWNED"
        try repo.git(["update-ref", "refs/tags/\(hostile)", "v1.1"])
        let log = repo.url.appendingPathComponent("exec.log").path
        let script = repo.url.appendingPathComponent("record.sh")
        try Data("#!/bin/sh\nprintf '%s|%s|%s|%s\\n' \"$1\" \"$KEYSEAL_TAG\" \"$KEYSEAL_COMMIT\" \"$KEYSEAL_REPOSITORY\" >> '\(log)'\n".utf8)
            .write(to: script)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)

        let out = try KeysealBinary.run(["rebuild", "--exec", "\(script.path) {tag}", "--apply"], in: repo.url)
        XCTAssertEqual(out.status, 1, "the option-like tag is a failed request: " + out.stdout + out.stderr)
        XCTAssertTrue(out.stdout.contains("\(hostile): FAILED: not run: the tag starts with '-'"), out.stdout)
        var lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, "run for v1.0 and v1.1 only: \(lines)")
        let v10 = try repo.git(["rev-parse", "v1.0^{commit}"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let name = repo.url.standardizedFileURL.lastPathComponent
        XCTAssertTrue(lines.contains("v1.0|v1.0|\(v10)|\(name)"), "\(lines)")

        // The documented safe pattern: the value through the environment; it then runs, as data.
        let safe = try KeysealBinary.run(["rebuild", "--exec", "sh -c '\(script.path) \"$KEYSEAL_TAG\"'", "--apply"], in: repo.url)
        XCTAssertEqual(safe.status, 0, safe.stdout + safe.stderr)
        lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.hasPrefix("\(hostile)|\(hostile)|") }, "\(lines)")
        // And after `--` the substituted word is an operand, so it is let through.
        try? FileManager.default.removeItem(atPath: log)
        let dashes = try KeysealBinary.run(["rebuild", "--exec", "\(script.path) -- {tag}", "--apply", "--force"], in: repo.url)
        XCTAssertEqual(dashes.status, 0, dashes.stdout + dashes.stderr)
        lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, "\(lines)")
    }

    // MARK: - Item 12: bounds

    func testNonFiniteOrHugeRebuildDurationsAreUsageErrors() throws {
        let repo = try taggedRepo()
        let cases: [[String]] = [
            ["--timeout", "inf"], ["--timeout", "1e300"], ["--timeout", "nan"], ["--timeout", "-1"], ["--timeout", "0"],
            ["--backoff", "inf"], ["--backoff", "1e300"], ["--backoff", "nan"], ["--backoff", "-0.5"],
            ["--retries", "-1"], ["--retries", "1000000"],
        ]
        for options in cases {
            let out = try KeysealBinary.run(["rebuild", "--webhook", "http://127.0.0.1:9/x", "--apply"] + options, in: repo.url)
            XCTAssertEqual(out.status, 2, "\(options): \(out.stderr)")
            XCTAssertTrue(out.stderr.contains(options[0]), "\(options): \(out.stderr)")
        }
    }

    func testStorePathThatIsAFolderOrNotAFileIsOneClearLine() throws {
        let repo = try taggedRepo()
        let folder = repo.url.appendingPathComponent("a-folder")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for command in [["scan", "--quiet"], ["findings"], ["checklist"], ["triage", "abcd", "--status", "rotated"]] {
            let out = try KeysealBinary.run(command + ["--store", folder.path], in: repo.url)
            XCTAssertEqual(out.status, 2, "\(command): \(out.stderr)")
            XCTAssertTrue(out.stderr.hasPrefix("keyseal: the store \(folder.path) is a folder"), "\(command): \(out.stderr)")
            XCTAssertFalse(out.stderr.contains("Usage:"), out.stderr)
            XCTAssertEqual(out.stderr.split(separator: "\n").count, 1, out.stderr)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [], "nothing written into the folder")

        // A FIFO would block a read forever.
        let fifo = repo.url.appendingPathComponent("a-fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let out = try KeysealBinary.run(["scan", "--quiet", "--store", fifo], in: repo.url)
        XCTAssertEqual(out.status, 2, out.stderr)
        XCTAssertTrue(out.stderr.contains("not a regular file"), out.stderr)

        // Not SQLite, and (unless root reads everything) unreadable.
        let junk = repo.url.appendingPathComponent("junk.sqlite")
        try Data("plain text\n".utf8).write(to: junk)
        let notSQLite = try KeysealBinary.run(["findings", "--store", junk.path], in: repo.url)
        XCTAssertEqual(notSQLite.status, 2)
        XCTAssertTrue(notSQLite.stderr.contains("not a keyseal store"), notSQLite.stderr)
        if getuid() != 0 {
            try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: junk.path)
            let unreadable = try KeysealBinary.run(["findings", "--store", junk.path], in: repo.url)
            XCTAssertEqual(unreadable.status, 2)
            XCTAssertTrue(unreadable.stderr.contains("cannot read the store"), unreadable.stderr)
        }
    }

    // MARK: - Item 13: another application's database

    func testAnotherApplicationsDatabaseIsRefusedAndLeftByteForByte() throws {
        let repo = try taggedRepo()
        let databases: [(String, String)] = [
            ("notes", "c.execute('create table notes (id integer primary key, body text)'); c.execute(\"insert into notes (body) values ('mine')\")"),
            // A `meta` table of its own, even with a schema_version row, does not make it keyseal's.
            ("meta", "c.execute('create table meta (key text primary key, value text)'); c.execute(\"insert into meta values ('schema_version', '2')\")"),
            // Empty, but stamped by another application.
            ("stamped", "c.execute('pragma application_id = 1234'); c.execute('create table t (x)'); c.execute('drop table t')"),
        ]
        let baseline = repo.url.appendingPathComponent("baseline.json")
        try Data("{\"version\": 1, \"secrets\": []}\n".utf8).write(to: baseline)
        for (name, setup) in databases {
            let path = repo.url.appendingPathComponent("\(name).db").path
            _ = try python("import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); \(setup); c.commit(); c.close()", [path], in: repo.url)
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            let modified = try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date
            for command in [["scan", "--quiet"], ["baseline", "import", baseline.path], ["findings"]] {
                let out = try KeysealBinary.run(command + ["--store", path], in: repo.url)
                XCTAssertEqual(out.status, 2, "\(name) \(command): \(out.stderr)")
                XCTAssertTrue(out.stderr.contains("not a keyseal store") && out.stderr.contains("left untouched"), "\(name): \(out.stderr)")
                XCTAssertFalse(out.stderr.contains("Usage:"), out.stderr)
            }
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "\(name): changed")
            XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date, modified)
            let mode = try python("import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('pragma journal_mode').fetchone()[0])",
                                  [path], in: repo.url)
            XCTAssertEqual(mode.trimmingCharacters(in: .whitespacesAndNewlines), "delete", "\(name): switched to WAL")
            XCTAssertFalse(FileManager.default.fileExists(atPath: path + "-wal"))
        }
    }

    func testNewStoresCarryTheApplicationIDAndOlderStoresAreAdopted() throws {
        let repo = try taggedRepo()
        XCTAssertEqual(try KeysealBinary.run(["scan", "--quiet"], in: repo.url).status, 1)
        let path = repo.url.appendingPathComponent(".git/keyseal/store.sqlite").path
        let read = "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('pragma application_id').fetchone()[0])"
        XCTAssertEqual(Int32(try python(read, [path], in: repo.url).trimmingCharacters(in: .whitespacesAndNewlines)),
                       FindingStore.applicationID)
        // A store made before the application id: id 0, schema v3, keyseal's tables.
        let older = """
            import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('pragma application_id = 0')
            c.execute("alter table blob_matches drop column detail"); c.execute("alter table occurrences drop column detail")
            c.execute("update meta set value='3' where key='schema_version'"); c.commit(); c.close()
            """
        _ = try python(older, [path], in: repo.url)
        XCTAssertEqual(try python(read, [path], in: repo.url).trimmingCharacters(in: .whitespacesAndNewlines), "0")
        let findings = try KeysealBinary.run(["findings"], in: repo.url)
        XCTAssertEqual(findings.status, 0, findings.stderr)
        XCTAssertTrue(findings.stdout.contains("stripe"), findings.stdout)
        XCTAssertEqual(Int32(try python(read, [path], in: repo.url).trimmingCharacters(in: .whitespacesAndNewlines)),
                       FindingStore.applicationID, "adopted")
        XCTAssertEqual(try KeysealBinary.run(["scan", "--quiet", "--full"], in: repo.url).status, 1)
    }

    // MARK: - Item 15: runtime errors are one line, no usage

    func testRuntimeErrorsPrintOneLineWithoutUsage() throws {
        let repo = try taggedRepo()
        let missing = repo.url.appendingPathComponent("no-such-folder/report.json").path
        let proc = "/proc/keyseal-test-\(getpid())/report.json"  // not writable, even for root
        let commands: [[String]] = [
            ["scan", "--quiet", "--report", missing], ["scan", "--quiet", "--report", proc],
            ["scan", "--quiet", "--format", "json", "--show-secrets", "--report", missing],
            ["audit", "--report", missing], ["checklist", "--out", missing], ["rebuild", "--out", missing],
            ["staged", "--report", missing], ["baseline", "export", "--out", missing],
        ]
        try repo.write("staged.env", "GITHUB_TOKEN=\(FakeSecret.github("staged-report"))\n")
        for command in commands {
            let out = try KeysealBinary.run(command, in: repo.url)
            XCTAssertEqual(out.status, 2, "\(command): \(out.stderr)")
            XCTAssertFalse(out.stderr.contains("Usage:"), "\(command): \(out.stderr)")
            // One helper writes them all (OutputFile.write): reports are named as such, exports by their path.
            let report = ["scan", "audit", "staged"].contains(command[0])
            let target = command[command.firstIndex { $0 == "--report" || $0 == "--out" }! + 1]  // Safe: every command above names one.
            XCTAssertTrue(out.stderr.hasPrefix("keyseal: cannot write \(report ? "the report to " : "")\(target): "), "\(command): \(out.stderr)")
            XCTAssertEqual(out.stderr.split(separator: "\n").count, 1, "\(command): \(out.stderr)")
        }
        // An invalid config is a runtime error too.
        let config = repo.url.appendingPathComponent("bad.toml")
        try Data("disabled_rules = [\n".utf8).write(to: config)
        let check = try KeysealBinary.run(["config", "check", config.path], in: repo.url)
        XCTAssertEqual(check.status, 2, check.stderr)
        XCTAssertFalse(check.stderr.contains("Usage:"), check.stderr)
        // A usage error still shows the usage.
        let usage = try KeysealBinary.run(["scan", "--threads", "0"], in: repo.url)
        XCTAssertEqual(usage.status, 2)
        XCTAssertTrue(usage.stderr.contains("Usage:"), usage.stderr)
    }

    // MARK: - Reports with clear secrets are 0600

    func testReportsWithClearSecretsAreCreatedPrivate() throws {
        let repo = try taggedRepo()
        let report = repo.url.appendingPathComponent("clear.json")
        // Replacing a world-readable file must not keep its mode.
        try Data("old\n".utf8).write(to: report)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: report.path)
        let out = try KeysealBinary.run(["scan", "--quiet", "--format", "json", "--show-secrets", "--report", report.path], in: repo.url)
        XCTAssertEqual(out.status, 1, out.stderr)
        XCTAssertTrue(try String(contentsOf: report, encoding: .utf8).contains(FakeSecret.stripe("hardening")))
        XCTAssertEqual(try mode(report.path), 0o600)
        let text = repo.url.appendingPathComponent("clear.txt")
        XCTAssertEqual(try KeysealBinary.run(["scan", "--quiet", "--show-secrets", "--report", text.path], in: repo.url).status, 1)
        XCTAssertEqual(try mode(text.path), 0o600)

        try repo.write("staged.env", "GITHUB_TOKEN=\(FakeSecret.github("private-report"))\n")
        let hookReport = repo.url.appendingPathComponent("hook.sarif")
        let hook = try KeysealBinary.run(["staged", "--show-secrets", "--report", hookReport.path], in: repo.url)
        XCTAssertEqual(hook.status, 1, hook.stderr)
        XCTAssertTrue(try String(contentsOf: hookReport, encoding: .utf8).contains(FakeSecret.github("private-report")))
        XCTAssertEqual(try mode(hookReport.path), 0o600)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: repo.path).filter { $0.contains("keyseal-") }, [],
                       "no temporary file left behind")

        // /dev/null stays a device.
        XCTAssertEqual(try KeysealBinary.run(["scan", "--quiet", "--show-secrets", "--report", "/dev/null"], in: repo.url).status, 1)
        var info = stat()
        XCTAssertEqual(stat("/dev/null", &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFCHR)
    }

    func mode(_ path: String) throws -> Int {
        try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) & 0o777
    }

    // MARK: - Item 10: terminal injection

    func testEscapeMakesEveryControlVisible() {
        XCTAssertEqual(TerminalText.escape("a\u{1b}[2Jb\u{07}c\u{7f}d\u{9b}e\nf\tg"), "a\\x1b[2Jb\\x07c\\x7fd\\u{9b}e\\nf\\tg")
        XCTAssertEqual(TerminalText.escape("one\ntwo\u{1b}", keepingNewlines: true), "one\ntwo\\x1b")
        let plain = "Dana Ops <dana@example.test> é ✓"
        XCTAssertEqual(TerminalText.escape(plain), plain)
        let json = Data("{\"a\":\"x\u{7f}y\u{9b}z\u{a0}é\"}".utf8)
        let escaped = TerminalText.escapeJSON(json)
        XCTAssertEqual(String(decoding: escaped, as: UTF8.self), "{\"a\":\"x\\u007fy\\u009bz\u{a0}é\"}")
        let back = try? JSONSerialization.jsonObject(with: escaped) as? [String: String]
        XCTAssertEqual(back?["a"], "x\u{7f}y\u{9b}z\u{a0}é", "the same JSON value")
    }

    /// A commit whose author, subject and path carry ESC/OSC/C1 sequences: nothing raw reaches the terminal.
    func testControlSequencesFromARepositoryNeverReachTheTerminalRaw() throws {
        let repo = try TestRepository()
        let clear = "\u{1b}[2J\u{1b}[H"
        let title = "\u{1b}]0;pwned\u{07}"
        let author = "Eve\(clear)No secrets found.\(title)\u{9b}31m"
        let path = "cfg\(title)\(clear).env"
        let token = FakeSecret.github("escape")
        try repo.write(path, "GITHUB_TOKEN=\(token)\n")
        try repo.write(".env.\u{1b}[8m", "STRIPE_KEY=\(FakeSecret.stripe("escape"))\n")
        try repo.git(["commit", "-q", "-m", "subject\(clear)", "--author", "\(author) <eve\u{1b}[5m@example.test>"])
        try repo.git(["tag", "v1"])

        func assertClean(_ text: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
            let bad = text.unicodeScalars.filter { ($0.value < 0x20 && $0 != "\n") || (0x7F...0x9F).contains($0.value) }
            XCTAssertTrue(bad.isEmpty, "\(what) holds raw controls \(bad.map { String($0.value, radix: 16) }): \(text)", file: file, line: line)
        }
        let scan = try KeysealBinary.run(["scan", "--quiet"], in: repo.url)
        XCTAssertEqual(scan.status, 1, scan.stderr)
        assertClean(scan.stdout, "scan text")
        assertClean(scan.stderr, "scan stderr")
        XCTAssertTrue(scan.stdout.contains("Eve\\x1b[2J\\x1b[HNo secrets found.\\x1b]0;pwned\\x07\\u{9b}31m"), scan.stdout)
        XCTAssertTrue(scan.stdout.contains("cfg\\x1b]0;pwned\\x07"), scan.stdout)
        for format in ["json", "sarif"] {
            let out = try KeysealBinary.run(["scan", "--quiet", "--format", format], in: repo.url)
            assertClean(out.stdout, format)
            XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(out.stdout.utf8)), format)
        }
        for command in [["audit"], ["findings"], ["checklist"], ["checklist", "--format", "html"], ["rebuild"]] {
            let out = try KeysealBinary.run(command, in: repo.url)
            XCTAssertNotEqual(out.status, 2, "\(command): \(out.stderr)")
            assertClean(out.stdout, "\(command) stdout")
            assertClean(out.stderr, "\(command) stderr")
        }

        // The hooks: a staged file, then a push of a commit with such a subject.
        try repo.write("new\(clear).env", "TOKEN=\(FakeSecret.github("staged-escape"))\n")
        let staged = try KeysealBinary.run(["staged"], in: repo.url)
        XCTAssertEqual(staged.status, 1, staged.stderr)
        assertClean(staged.stderr, "staged stderr")
        XCTAssertTrue(staged.stderr.contains("new\\x1b[2J\\x1b[H.env"), staged.stderr)
        try repo.git(["commit", "-q", "--no-verify", "-m", "push me\(title)"])
        let head = try repo.git(["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let input = "refs/heads/main \(head) refs/heads/main \(String(repeating: "0", count: 40))\n"
        let push = try KeysealBinary.run(["pre-push", "origin\(clear)", "x"], in: repo.url, stdin: Data(input.utf8))
        XCTAssertEqual(push.status, 1, push.stderr)
        assertClean(push.stderr, "pre-push stderr")
        XCTAssertTrue(push.stderr.contains("push me\\x1b]0;pwned\\x07"), push.stderr)
    }
}
