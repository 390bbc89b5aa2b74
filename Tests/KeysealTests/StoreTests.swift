import Foundation
import KeysealCore
import KeysealEngine
import KeysealStore
import XCTest

/// The findings store through the CLI, on real repositories.
final class StoreTests: XCTestCase {
    func scanJSON(_ repo: TestRepository, _ extra: [String] = [], environment: [String: String] = [:]) throws -> (Int32, [String: Any]) {
        let out = try KeysealBinary.run(["scan", "--quiet", "--format", "json"] + extra, in: repo.url, environment: environment)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any], out.stderr)
        return (out.status, json)
    }

    func summary(_ json: [String: Any]) -> [String: Any] { json["summary"] as? [String: Any] ?? [:] }
    func fingerprints(_ json: [String: Any]) -> [String] {
        ((json["findings"] as? [[String: Any]]) ?? []).compactMap { $0["fingerprint"] as? String }.sorted()
    }

    func leakyRepo() throws -> (TestRepository, String) {
        let repo = try TestRepository()
        let token = FakeSecret.github("store")
        try repo.write("app.env", "TOKEN=\(token)\n")
        try repo.commit("leak")
        try repo.write("other.txt", "x\n")
        try repo.commit("more")
        return (repo, token)
    }

    var storePath: (TestRepository) -> URL { { $0.url.appendingPathComponent(".git/keyseal/store.sqlite") } }

    func testStoreIsInsideTheGitDirectoryAndNeverHoldsTheSecret() throws {
        let (repo, token) = try leakyRepo()
        let (status, _) = try scanJSON(repo)
        XCTAssertEqual(status, 1)
        let bytes = try Data(contentsOf: storePath(repo))
        XCTAssertNil(bytes.range(of: Data(token.utf8)), "the clear secret must not be in the store")
        XCTAssertNil(bytes.range(of: Data(token.dropFirst(4).utf8)))
        XCTAssertFalse(try repo.git(["status", "--porcelain"]).contains("keyseal"), "nothing in the work tree")
    }

    func testSecondScanReadsNothingAndNewCommitsReadOnlyNewBlobs() throws {
        let (repo, _) = try leakyRepo()
        let (_, first) = try scanJSON(repo)
        XCTAssertEqual(summary(first)["blobs_scanned"] as? Int, 2)
        let (status, second) = try scanJSON(repo)
        XCTAssertEqual(status, 1, "the same findings still fail the scan")
        XCTAssertEqual(summary(second)["blobs_scanned"] as? Int, 0)
        XCTAssertEqual(summary(second)["commits"] as? Int, 0)
        XCTAssertEqual(fingerprints(second), fingerprints(first))
        XCTAssertEqual((second["findings"] as? [[String: Any]])?.first?["commit"] as? String,
                       (first["findings"] as? [[String: Any]])?.first?["commit"] as? String)

        try repo.write("new.env", "STRIPE=\(FakeSecret.stripe("later"))\n")
        try repo.write("other.txt", "y\n")
        try repo.commit("two new blobs")
        let (_, third) = try scanJSON(repo)
        XCTAssertEqual(summary(third)["blobs_scanned"] as? Int, 2)
        XCTAssertEqual(summary(third)["commits"] as? Int, 1)
        XCTAssertEqual(fingerprints(third).count, 2)

        let (_, full) = try scanJSON(repo, ["--full"])
        XCTAssertEqual(summary(full)["blobs_scanned"] as? Int, 4)
        XCTAssertEqual(fingerprints(full), fingerprints(third))
    }

    func testConfidenceSurvivesTheStore() throws {
        let repo = try TestRepository()
        let valid = TokenChecksum.withValidChecksum("ghp_" + ExampleTemplate.expand("⟪an:30⟫", salt: "store-checksum"))
        try repo.write("a.env", "TOKEN=\(valid)\nOTHER=\(FakeSecret.github("no-checksum"))\n")
        try repo.commit("two tokens")
        for run in 1...2 {
            let (_, json) = try scanJSON(repo)
            let confidences = ((json["findings"] as? [[String: Any]]) ?? []).compactMap { $0["confidence"] as? String }.sorted()
            XCTAssertEqual(confidences, ["high", "low"], "run \(run)")
        }
    }

    func testChangedRulesRescan() throws {
        let (repo, _) = try leakyRepo()
        _ = try scanJSON(repo)
        try Data("disabled_rules = [\"jwt\"]\n".utf8).write(to: repo.url.appendingPathComponent(".keyseal.toml"))
        let (_, rescanned) = try scanJSON(repo)
        XCTAssertEqual(summary(rescanned)["blobs_scanned"] as? Int, 2, "a different rule set reads every blob again")
        XCTAssertEqual(fingerprints(rescanned).count, 1)
    }

    /// The secret allowlist filters matches before they are recorded: a new stopword reads every
    /// blob again, and the records key in the store's rows is a short digest, not the names.
    func testChangedSecretAllowlistRescansAndTheRecordsKeyIsShort() throws {
        let (repo, _) = try leakyRepo()
        _ = try scanJSON(repo)
        try Data("[allowlist]\nstopwords = [\"nothing-here\"]\n".utf8).write(to: repo.url.appendingPathComponent(".keyseal.toml"))
        let (_, rescanned) = try scanJSON(repo)
        XCTAssertEqual(summary(rescanned)["blobs_scanned"] as? Int, 2, "a different allowlist reads every blob again")
        let (_, unchanged) = try scanJSON(repo)
        XCTAssertEqual(summary(unchanged)["blobs_scanned"] as? Int, 0, "the same allowlist reads nothing again")
        let keys = try TestRepository.run("/usr/bin/env", ["python3", "-c", """
            import sqlite3,sys; c=sqlite3.connect(sys.argv[1])
            print(' '.join(sorted({r[0] for t in ('scans','scanned_blobs','scanned_commits') for r in c.execute('select rules_hash from '+t)})))
            """, storePath(repo).path], in: repo.url).split(separator: " ").map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) }
        XCTAssertEqual(keys.count, 2, "\(keys)")
        for key in keys { XCTAssertTrue(key.count == 16 && key.allSatisfy(\.isHexDigit), key) }
    }

    /// Enough blobs for the recorder to cut chunks while the scan runs (shrinking towards its
    /// end): every blob is recorded once, and a second scan reads none.
    func testEveryBlobIsRecordedAcrossShrinkingChunks() throws {
        let repo = try TestRepository()
        // Written directly and staged in one `git add`: a git process per file took over a minute.
        let folder = repo.url.appendingPathComponent("files")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for i in 0..<1500 { try Data("line \(i)\n".utf8).write(to: folder.appendingPathComponent("f\(i).txt")) }
        _ = try repo.git(["add", "files"])
        try repo.write("app.env", "TOKEN=\(FakeSecret.github("chunks"))\n")
        try repo.commit("many files")
        let (status, first) = try scanJSON(repo)
        XCTAssertEqual(status, 1)
        XCTAssertEqual(summary(first)["blobs_scanned"] as? Int, 1501)
        let rows = try TestRepository.run("/usr/bin/env", ["python3", "-c", """
            import sqlite3,sys; c=sqlite3.connect(sys.argv[1])
            print(c.execute('select count(*), count(distinct blob) from scanned_blobs').fetchone())
            """, storePath(repo).path], in: repo.url)
        XCTAssertEqual(rows.trimmingCharacters(in: .whitespacesAndNewlines), "(1501, 1501)")
        let (again, second) = try scanJSON(repo)
        XCTAssertEqual(again, 1)
        XCTAssertEqual(summary(second)["blobs_scanned"] as? Int, 0)
        XCTAssertEqual((second["findings"] as? [[String: Any]])?.count, 1, "the finding comes from the store")
    }

    func testNoStoreRecordsNothing() throws {
        let (repo, _) = try leakyRepo()
        _ = try scanJSON(repo, ["--no-store"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: storePath(repo).path))
    }

    func testTriageStopsFalsePositivesFailingScanStagedAndPush() throws {
        let (repo, token) = try leakyRepo()
        _ = try scanJSON(repo)
        let list = try KeysealBinary.run(["findings", "--format", "json"], in: repo.url)
        let secrets = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(secrets.count, 1)
        let fingerprint = try XCTUnwrap(secrets.first?["fingerprint"] as? String)
        XCTAssertEqual(secrets.first?["status"] as? String, "open")
        XCTAssertEqual(secrets.first?["occurrences"] as? Int, 1)

        let triage = try KeysealBinary.run(["triage", String(fingerprint.prefix(8)), "--status", "false-positive",
                                            "--note", "test fixture"], in: repo.url)
        XCTAssertEqual(triage.status, 0, triage.stderr)
        let (status, json) = try scanJSON(repo)
        XCTAssertEqual(status, 0, "a false positive no longer fails the scan")
        XCTAssertEqual((json["findings"] as? [[String: Any]])?.first?["status"] as? String, "false-positive")
        let open = try KeysealBinary.run(["findings", "--status", "open"], in: repo.url)
        XCTAssertTrue(open.stdout.contains("0 secret(s)"), open.stdout)

        // The same secret staged again elsewhere does not block a commit.
        try repo.write("copy.env", "TOKEN=\(token)\n")
        XCTAssertEqual(try KeysealBinary.run(["staged"], in: repo.url).status, 0)
        try repo.write("fresh.env", "TOKEN=\(FakeSecret.github("fresh"))\n")
        XCTAssertEqual(try KeysealBinary.run(["staged"], in: repo.url).status, 1, "another secret still blocks")
    }

    func testTriageErrors() throws {
        let (repo, _) = try leakyRepo()
        _ = try scanJSON(repo)
        let fingerprint = try XCTUnwrap(Triage.secrets(repository: repo.path, store: .inRepository, statuses: nil).first?.fingerprint)
        let other = (fingerprint.hasPrefix("0") ? "1" : "0") + "000"
        let none = try KeysealBinary.run(["triage", other, "--status", "accepted"], in: repo.url)
        XCTAssertEqual(none.status, 2)
        XCTAssertTrue(none.stderr.contains("no secret's fingerprint starts with \(other)"), none.stderr)
        let tooShort = try KeysealBinary.run(["triage", "ab", "--status", "accepted"], in: repo.url)
        XCTAssertEqual(tooShort.status, 2)
        XCTAssertTrue(tooShort.stderr.contains("at least 4"), tooShort.stderr)
        let badStatus = try KeysealBinary.run(["triage", "abcd", "--status", "ignored"], in: repo.url)
        XCTAssertEqual(badStatus.status, 2)
        XCTAssertThrowsError(try FindingStore(path: storePath(repo).path).triage(prefix: "", status: .accepted, note: nil))
    }

    /// Two secrets whose fingerprints share a prefix (seeded through `keyseal baseline import`, as a
    /// colleague's baseline would bring them): `keyseal triage <prefix>` refuses, lists both and
    /// changes neither; one more digit picks one.
    func testAmbiguousPrefixIsRefusedThroughTheCLI() throws {
        let (repo, _) = try leakyRepo()
        _ = try scanJSON(repo)
        let a = "abcd" + String(repeating: "1", count: 60), b = "abcd" + String(repeating: "2", count: 60)
        let baseline = """
            {"version": 1, "secrets": [
              {"fingerprint": "\(a)", "rule": "github-pat", "provider": "GitHub", "status": "open", "note": null},
              {"fingerprint": "\(b)", "rule": "github-pat", "provider": "GitHub", "status": "open", "note": null}]}
            """
        try Data(baseline.utf8).write(to: repo.url.appendingPathComponent("seed.json"))
        let seeded = try KeysealBinary.run(["baseline", "import", "seed.json"], in: repo.url)
        XCTAssertEqual(seeded.status, 0, seeded.stderr)

        let ambiguous = try KeysealBinary.run(["triage", "abcd", "--status", "accepted"], in: repo.url)
        XCTAssertEqual(ambiguous.status, 2, ambiguous.stderr)
        XCTAssertTrue(ambiguous.stderr.contains("matches 2 secrets"), ambiguous.stderr)
        XCTAssertTrue(ambiguous.stderr.contains(String(a.prefix(16))) && ambiguous.stderr.contains(String(b.prefix(16))), ambiguous.stderr)
        let statuses = try FindingStore(path: storePath(repo).path).statuses()
        XCTAssertEqual([statuses[a], statuses[b]], [.open, .open], "a refused triage changes nothing")

        let picked = try KeysealBinary.run(["triage", "abcd1", "--status", "accepted"], in: repo.url)
        XCTAssertEqual(picked.status, 0, picked.stderr)
        let after = try FindingStore(path: storePath(repo).path).statuses()
        XCTAssertEqual([after[a], after[b]], [.accepted, .open])
    }

    func testBaselineExportImportAndCommittedBaseline() throws {
        let (repo, token) = try leakyRepo()
        _ = try scanJSON(repo)
        let fingerprint = try XCTUnwrap(Triage.secrets(repository: repo.path, store: .inRepository, statuses: nil).first?.fingerprint)
        _ = try KeysealBinary.run(["triage", String(fingerprint.prefix(10)), "--status", "accepted"], in: repo.url)
        let export = try KeysealBinary.run(["baseline", "export"], in: repo.url)
        XCTAssertEqual(export.status, 0, export.stderr)
        let baseline = try String(contentsOf: repo.url.appendingPathComponent(".keyseal-baseline.json"), encoding: .utf8)
        XCTAssertTrue(baseline.contains(fingerprint))
        XCTAssertFalse(baseline.contains(token))
        XCTAssertFalse(baseline.contains("\"line\""), "no line numbers, so it does not churn")

        // A colleague's clone: no store, but the committed baseline.
        try repo.git(["add", ".keyseal-baseline.json"])
        try repo.commit("baseline")
        let fresh = repo.url.appendingPathComponent("other-store.sqlite").path
        let (status, _) = try scanJSON(repo, ["--store", fresh])
        XCTAssertEqual(status, 0, "the committed baseline is honoured")
        let imported = try KeysealBinary.run(["baseline", "import", ".keyseal-baseline.json", "--store", fresh], in: repo.url)
        XCTAssertEqual(imported.status, 0, imported.stderr)
        XCTAssertEqual(try FindingStore(path: fresh).statuses()[fingerprint], .accepted)
    }

    /// Two scans at once, made to overlap for certain: the first is held inside its first chunk's
    /// write transaction (keyseal-test-scan --pause-in-write) until the second has asked for the
    /// write lock; both must then finish, and the store hold each finding once.
    func testTwoScansAtOnceBothFinishAndAgree() throws {
        let repo = try TestRepository()
        for i in 0..<40 {
            try repo.write("d\(i)/f.env", "TOKEN=\(FakeSecret.github("c\(i)"))\nfiller \(i)\n")
            if i % 4 == 3 { try repo.commit("batch \(i)") }
        }
        let hooks = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-hook-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: hooks, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: hooks) }
        func marks(_ state: String) -> Set<String> {
            Set(((try? FileManager.default.contentsOfDirectory(atPath: hooks.path)) ?? [])
                .filter { $0.hasSuffix("." + state) }.map { String($0.dropLast(state.count + 1)) })
        }
        func waitFor(_ what: String, _ condition: () -> Bool) throws {
            let deadline = Date().addingTimeInterval(120)
            while !condition() {
                guard Date() < deadline else { throw TestFailure("gave up waiting for \(what)") }
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
        let binary = KeysealBinary.testScanPath
        let folder = repo.url
        let group = DispatchGroup()
        let statuses = StatusBox()
        func start() {
            group.enter()
            DispatchQueue.global().async {
                let out = try? TestRepository.capture(binary, [folder.path, "--chunk-size", "8", "--pause-in-write", hooks.path], in: folder)
                statuses.append(out?.status ?? -1)
                if out?.status != 1 { statuses.note(out?.stderr ?? "no output") }
                group.leave()
            }
        }
        start()
        try waitFor("the first scan to hold the write lock") { !marks("holding").isEmpty }
        let first = try XCTUnwrap(marks("holding").first)
        start()
        try waitFor("the second scan to ask for the write lock") { !marks("waiting").subtracting([first]).isEmpty }
        Thread.sleep(forTimeInterval: 0.3)  // let it reach BEGIN and wait in the busy handler
        let second = marks("waiting").subtracting([first])
        XCTAssertEqual(marks("writing").intersection(second), [], "the second scan cannot write while the first holds the lock")
        _ = FileManager.default.createFile(atPath: hooks.appendingPathComponent("release").path, contents: nil)
        group.wait()
        XCTAssertEqual(statuses.values.sorted(), [1, 1], statuses.notes.joined(separator: "\n"))
        XCTAssertFalse(marks("writing").intersection(second).isEmpty, "the second scan wrote once the first let go")
        let (_, after) = try scanJSON(repo)
        XCTAssertEqual(fingerprints(after).count, 40)
        XCTAssertEqual((after["findings"] as? [[String: Any]])?.count, 40, "no occurrence doubled")
        let store = try FindingStore(path: storePath(repo).path)
        XCTAssertEqual(try store.scanStatuses(), ["finished", "finished", "finished"])
    }

    func testScanKilledPartWayIsRepairedAndCompleted() throws {
        let repo = try TestRepository()
        for i in 0..<30 {
            try repo.write("k\(i).env", "TOKEN=\(FakeSecret.github("kill\(i)"))\n")
        }
        try repo.commit("thirty")
        let killed = try TestRepository.capture(KeysealBinary.testScanPath, [repo.path, "--chunk-size", "8", "--kill-after-chunks", "2"],
                                                in: repo.url)
        XCTAssertNotEqual(killed.status, 0)
        XCTAssertNotEqual(killed.status, 1, "killed, not finished")
        let (status, json) = try scanJSON(repo)
        XCTAssertEqual(status, 1)
        XCTAssertEqual(summary(json)["blobs_scanned"] as? Int, 14, "16 blobs were recorded before the kill; the rest is scanned now")
        XCTAssertEqual((json["findings"] as? [[String: Any]])?.count, 30, "no occurrence lost or doubled")
        XCTAssertEqual(try FindingStore(path: storePath(repo).path).scanStatuses(), ["interrupted", "finished"])
    }

    /// `store import` copies records, not scans: the first complete walk under other rules still
    /// drops the imported records of the old ones (the scans table alone would say there are none).
    func testImportedRecordsOfOtherRulesAreDroppedByACompleteWalk() throws {
        let (repo, _) = try leakyRepo()
        let old = repo.url.appendingPathComponent("old.sqlite").path
        let fresh = repo.url.appendingPathComponent("fresh.sqlite").path
        let config = repo.url.appendingPathComponent("other-rules.toml")
        try Data("disabled_rules = [\"jwt\"]\n".utf8).write(to: config)
        XCTAssertEqual(try scanJSON(repo, ["--store", old, "--config", config.path]).0, 1)
        let imported = try KeysealBinary.run(["store", "import", old, "--store", fresh], in: repo.url)
        XCTAssertEqual(imported.status, 0, imported.stderr)
        let hashes = """
            import sqlite3,sys; c=sqlite3.connect(sys.argv[1])
            print(sorted({r[0] for t in ('scanned_blobs','scanned_commits','occurrences') for r in c.execute('select rules_hash from '+t)}))
            """
        let before = try TestRepository.run("/usr/bin/env", ["python3", "-c", hashes, fresh], in: repo.url)
        XCTAssertEqual(before.filter { $0 == "," }.count, 0, "one rule set imported: \(before)")
        XCTAssertEqual(try scanJSON(repo, ["--store", fresh]).0, 1)
        let after = try TestRepository.run("/usr/bin/env", ["python3", "-c", hashes, fresh], in: repo.url)
        XCTAssertEqual(after.filter { $0 == "," }.count, 0, "the imported rule set's records are gone: \(after)")
        XCTAssertNotEqual(before, after)
    }

    /// The environment variables that once drove test hooks do nothing to the shipped binary.
    func testOldTestHookVariablesDoNotChangeKeyseal() throws {
        let repo = try TestRepository()
        for i in 0..<12 { try repo.write("k\(i).env", "TOKEN=\(FakeSecret.github("env\(i)"))\n") }
        try repo.commit("twelve")
        let (status, json) = try scanJSON(repo, [], environment: [
            "KEYSEAL_TEST_CHUNK_SIZE": "2", "KEYSEAL_TEST_KILL_AFTER_CHUNKS": "1", "KEYSEAL_TEST_PAUSE_IN_WRITE": repo.path,
        ])
        XCTAssertEqual(status, 1, "finished, not killed")
        XCTAssertEqual((json["findings"] as? [[String: Any]])?.count, 12)
        XCTAssertEqual(try FindingStore(path: storePath(repo).path).scanStatuses(), ["finished"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: repo.url.appendingPathComponent("paused").path))
    }

    func testStoreThatIsNotSQLiteIsAnErrorAndUntouched() throws {
        let (repo, _) = try leakyRepo()
        let path = storePath(repo)
        try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
        let junk = Data("this is my notes file, not a database\n".utf8)
        try junk.write(to: path)
        let out = try KeysealBinary.run(["scan", "--quiet"], in: repo.url)
        XCTAssertEqual(out.status, 2)
        XCTAssertTrue(out.stderr.contains("not a keyseal store"), out.stderr)
        XCTAssertEqual(try Data(contentsOf: path), junk)
    }

    func testNewerSchemaIsAnErrorAndUntouched() throws {
        let (repo, _) = try leakyRepo()
        _ = try scanJSON(repo)
        let path = storePath(repo).path
        let python = "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"update meta set value='99' where key='schema_version'\"); c.commit()"
        try TestRepository.run("/usr/bin/env", ["python3", "-c", python, path], in: repo.url)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let out = try KeysealBinary.run(["scan", "--quiet"], in: repo.url)
        XCTAssertEqual(out.status, 2)
        XCTAssertTrue(out.stderr.contains("newer"), out.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
    }

    /// A store written by the previous release (schema v3, no `detail` columns) is migrated in place:
    /// its triage survives and the next scan records into it.
    func testVersion3StoreIsMigrated() throws {
        let (repo, _) = try leakyRepo()
        let (_, first) = try scanJSON(repo)
        let path = storePath(repo).path
        let fingerprint = try XCTUnwrap(((first["findings"] as? [[String: Any]])?.first?["fingerprint"]) as? String)
        XCTAssertEqual(try KeysealBinary.run(["triage", fingerprint, "--status", "rotated"], in: repo.url).status, 0)
        let downgrade = """
            import sqlite3,sys; c=sqlite3.connect(sys.argv[1])
            c.execute("alter table blob_matches drop column detail"); c.execute("alter table occurrences drop column detail")
            c.execute("update meta set value='3' where key='schema_version'"); c.commit()
            """
        try TestRepository.run("/usr/bin/env", ["python3", "-c", downgrade, path], in: repo.url)
        let (_, again) = try scanJSON(repo, ["--full"])
        let findings = try XCTUnwrap(again["findings"] as? [[String: Any]])
        XCTAssertEqual(findings.first { $0["fingerprint"] as? String == fingerprint }?["status"] as? String, "rotated")
        let check = "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute(\"select value from meta where key='schema_version'\").fetchone()[0])"
        let version = try TestRepository.run("/usr/bin/env", ["python3", "-c", check, path], in: repo.url)
        XCTAssertEqual(version.trimmingCharacters(in: .whitespacesAndNewlines), String(FindingStore.schemaVersion))
    }

    // MARK: - Statuses

    /// Every status goes into the store and comes back as itself: through triage, the list of
    /// secrets (filtered by status), the status map hooks read, and a baseline export and import.
    func testEveryStatusRoundTripsThroughTheStore() throws {
        let (repo, _) = try leakyRepo()
        _ = try scanJSON(repo)
        let store = try FindingStore(path: storePath(repo).path)
        let fingerprint = try XCTUnwrap(try store.secrets().first?.fingerprint)
        for status in SecretStatus.allCases {
            XCTAssertEqual(try store.triage(prefix: String(fingerprint.prefix(8)), status: status, note: nil).status, status)
            XCTAssertEqual(try store.secrets().first?.status, status)
            XCTAssertEqual(try store.secrets(statuses: [status]).map(\.fingerprint), [fingerprint])
            XCTAssertEqual(try store.secrets(statuses: Set(SecretStatus.allCases).subtracting([status])), [])
            XCTAssertEqual(try store.statuses()[fingerprint], status)
            // Stored as the text reports and baselines use.
            let list = try KeysealBinary.run(["findings", "--format", "json", "--status", status.rawValue], in: repo.url)
            let secrets = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]], list.stderr)
            XCTAssertEqual(secrets.first?["status"] as? String, status.rawValue)
        }
        // A baseline carries a decision to another store.
        XCTAssertEqual(try store.triage(prefix: fingerprint, status: .falsePositive, note: "fixture").status, .falsePositive)
        let file = repo.url.appendingPathComponent("shared-baseline.json").path
        XCTAssertEqual(try Baseline.export(repository: repo.path, store: .inRepository, to: file), 1)
        let other = repo.url.appendingPathComponent("other.sqlite").path
        XCTAssertEqual(try Baseline.importFile(file, repository: repo.path, store: .path(other)), 1)
        let imported = try XCTUnwrap(try FindingStore(path: other).secrets().first)
        XCTAssertEqual(imported.status, .falsePositive)
        XCTAssertEqual(imported.note, "fixture")
    }

    /// A rescan with the store does not say "Scanned 0 commits … 0 blobs" as if nothing was
    /// checked: it says how many commits were scanned before and that their findings come from
    /// the store, and the JSON summary counts them.
    func testARescanSaysWhatCameFromTheStore() throws {
        let (repo, _) = try leakyRepo()
        _ = try scanJSON(repo)
        let text = try KeysealBinary.run(["scan", "--quiet"], in: repo.url)
        XCTAssertEqual(text.status, 1)
        XCTAssertTrue(text.stdout.contains("Scanned 0 new commit(s) on 1 refs (2 scanned before)"), text.stdout)
        XCTAssertTrue(text.stdout.contains("findings of earlier scans come from the store"), text.stdout)
        let (_, json) = try scanJSON(repo)
        XCTAssertEqual(summary(json)["commits_from_store"] as? Int, 2)
        XCTAssertEqual(fingerprints(json).count, 1, "the store's finding is still reported")
    }

    /// A rotated secret no longer fails CI: `scan` exits 0 once every open secret is rotated, and the
    /// hooks let the dead value pass; the baseline carries the decision with its date, so a fresh
    /// clone that has only the committed baseline passes too. An open secret still fails.
    func testARotatedSecretNoLongerFailsScanOrHooks() throws {
        let (repo, token) = try leakyRepo()
        let (first, json) = try scanJSON(repo)
        XCTAssertEqual(first, 1)
        let fingerprint = try XCTUnwrap(fingerprints(json).first)
        XCTAssertEqual(try KeysealBinary.run(["triage", fingerprint, "--status", "rotated", "--note", "revoked"], in: repo.url).status, 0)
        let (after, again) = try scanJSON(repo)
        XCTAssertEqual(after, 0, "only rotated secrets: the scan passes")
        XCTAssertEqual(fingerprints(again), [fingerprint], "still reported, with its status")
        let text = try KeysealBinary.run(["scan", "--quiet"], in: repo.url)
        XCTAssertTrue(text.stdout.contains("all triaged (rotated, false positive or accepted)"), text.stdout)
        // The dead value written again passes the pre-commit hook.
        try repo.write("copy.env", "TOKEN=\(token)\n")
        try repo.git(["add", "copy.env"])
        XCTAssertEqual(try KeysealBinary.run(["staged"], in: repo.url).status, 0)

        // The baseline carries it, with its note and date, to a fresh clone without a store.
        let exported = try KeysealBinary.run(["baseline", "export", "--out", ".keyseal-baseline.json"], in: repo.url)
        XCTAssertEqual(exported.status, 0, exported.stderr)
        let baseline = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: repo.url.appendingPathComponent(".keyseal-baseline.json"))) as? [String: Any])
        let entry = try XCTUnwrap((baseline["secrets"] as? [[String: Any]])?.first)
        XCTAssertEqual(entry["status"] as? String, "rotated")
        XCTAssertEqual(entry["note"] as? String, "revoked")
        XCTAssertTrue((entry["date"] as? String)?.hasPrefix("20") ?? false, "\(entry)")
        try repo.git(["add", ".keyseal-baseline.json"])
        try repo.commit("baseline")
        let clone = try TestRepository(initialise: false)
        try repo.git(["clone", "-q", repo.path, clone.path])
        let (cloneStatus, _) = try scanJSON(clone, ["--no-store"])
        XCTAssertEqual(cloneStatus, 0, "the committed baseline says it was rotated")

        // A second, open secret still fails.
        try repo.write("new.env", "STRIPE=\(FakeSecret.stripe("rotated-test"))\n")
        try repo.commit("another")
        XCTAssertEqual(try scanJSON(repo).0, 1)
    }

    /// `--status` is checked by ArgumentParser: a value that is not a status is a usage error (exit 2)
    /// naming the four, for the single value of `triage` and the comma-separated lists of `findings`
    /// and `checklist`; nothing runs. Help lists the values.
    func testInvalidStatusIsAUsageErrorNamingTheValues() throws {
        let (repo, _) = try leakyRepo()
        for command in [["findings", "--status", "bogus"], ["findings", "--status", "open,bogus"],
                        ["checklist", "--status", "bogus"], ["triage", "abcd", "--status", "bogus"],
                        ["findings", "--status", ""]] {
            let out = try KeysealBinary.run(command, in: repo.url)
            XCTAssertEqual(out.status, 2, "\(command): \(out.stderr)")
            XCTAssertTrue(out.stderr.hasPrefix("keyseal: Error: The value '\(command[command.count - 1])' is invalid for '--status <status>'. Please provide one of 'open', 'rotated', 'false-positive' or 'accepted'."),
                          "\(command): \(out.stderr)")
            XCTAssertFalse(out.stderr.contains("OPTIONS:"), "no help page, only the usage line: \(out.stderr)")
            XCTAssertEqual(out.stdout, "", "\(command)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: storePath(repo).path), "nothing ran")
        for command in ["findings", "checklist", "triage"] {
            let help = try KeysealBinary.run([command, "--help"], in: repo.url)
            XCTAssertTrue(help.stdout.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "  ", with: "")
                            .contains("(values: open, rotated, false-positive, accepted)"), help.stdout)
        }
        // Lists with spaces after the commas still work.
        _ = try scanJSON(repo)
        let spaced = try KeysealBinary.run(["findings", "--status", "rotated, open"], in: repo.url)
        XCTAssertEqual(spaced.status, 0, spaced.stderr)
        XCTAssertTrue(spaced.stdout.hasSuffix("1 secret(s)\n"), spaced.stdout)
    }

    /// A secret a baseline brings in before any scan has met it has no first-seen date (earlier
    /// versions stored and printed "9999"); the first scan that meets it sets the date. A store
    /// written with "9999" is migrated to no date.
    func testUnknownFirstSeenIsNoDate() throws {
        let (repo, _) = try leakyRepo()
        let unseen = "abcd" + String(repeating: "3", count: 60)
        let baseline = """
            {"version": 1, "secrets": [{"fingerprint": "\(unseen)", "rule": "github-pat", "provider": "GitHub", "status": "accepted"}]}
            """
        try Data(baseline.utf8).write(to: repo.url.appendingPathComponent("seed.json"))
        XCTAssertEqual(try KeysealBinary.run(["baseline", "import", "seed.json"], in: repo.url).status, 0)
        _ = try scanJSON(repo)
        let store = try FindingStore(path: storePath(repo).path)
        let secrets = try store.secrets()
        XCTAssertEqual(secrets.map(\.fingerprint).last, unseen, "not seen yet: listed last")
        XCTAssertNil(secrets.last?.firstSeen)
        XCTAssertNotNil(secrets.first?.firstSeen, "the scanned secret has its commit's date")
        let text = try KeysealBinary.run(["findings"], in: repo.url)
        XCTAssertFalse(text.stdout.contains("9999"), text.stdout)
        XCTAssertTrue(text.stdout.contains("0 occurrence(s), first seen unknown"), text.stdout)
        let json = try KeysealBinary.run(["findings", "--format", "json"], in: repo.url)
        XCTAssertFalse(json.stdout.contains("9999"), json.stdout)

        // A version 4 store with the old placeholder: migrated, the placeholder gone, the decision kept.
        let downgrade = """
            import sqlite3,sys; c=sqlite3.connect(sys.argv[1])
            c.executescript(\"\"\"
            create table old (fingerprint text primary key, rule text not null, provider text not null, description text not null,
              preview text not null, first_seen text not null, status text not null default 'open', note text, updated_at text, confidence text);
            insert into old select fingerprint, rule, provider, description, preview, coalesce(first_seen, '9999'), status, note, updated_at, confidence from secrets;
            drop table secrets; alter table old rename to secrets;
            update meta set value='4' where key='schema_version';
            \"\"\")
            c.commit()
            """
        try TestRepository.run("/usr/bin/env", ["python3", "-c", downgrade, storePath(repo).path], in: repo.url)
        let migrated = try FindingStore(path: storePath(repo).path).secrets()
        XCTAssertEqual(migrated.map(\.firstSeen), secrets.map(\.firstSeen))
        XCTAssertEqual(migrated.map(\.status), secrets.map(\.status))
        XCTAssertEqual(migrated.last?.status, .accepted)
    }

    func testUnwritableStoreLocationSuggestsNoStore() throws {
        let (repo, _) = try leakyRepo()
        let out = try KeysealBinary.run(["scan", "--quiet", "--store", "/proc/keyseal-test/store.sqlite"], in: repo.url)
        XCTAssertEqual(out.status, 2)
        XCTAssertTrue(out.stderr.contains("--no-store"), out.stderr)
    }
}

/// Exit statuses gathered from several threads.
final class StatusBox: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Int32] = []
    private var messages: [String] = []
    func append(_ value: Int32) { lock.lock(); storage.append(value); lock.unlock() }
    func note(_ message: String) { lock.lock(); messages.append(message); lock.unlock() }
    var values: [Int32] { lock.lock(); defer { lock.unlock() }; return storage }
    var notes: [String] { lock.lock(); defer { lock.unlock() }; return messages }
}

/// Blobs and commits go into SQLite as one JSON array per statement (`json_each`): whatever a string
/// holds, it comes back as it went in.
final class StoreBatchTests: XCTestCase {
    func testIdsRoundTripThroughOneStatement() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-batch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try FindingStore(path: folder.appendingPathComponent("store.sqlite").path)
        let hex = (0..<5000).map { String(format: "%040x", $0 &* 2654435761) }
        let odd = ["quote\"inside", "back\\slash", "tab\there", "line\nbreak", "nul\u{1}", "ünïcödé", "", "\u{1F511}"]
        try store.recordBlobs((hex + odd).map { ($0, []) }, secrets: [], rulesHash: "rules")
        XCTAssertEqual(try store.scannedBlobs(among: hex + odd + ["absent"], rulesHash: "rules"), Set(hex + odd))
        // Recording the same blobs again changes nothing.
        try store.recordBlobs(hex.prefix(10).map { ($0, []) }, secrets: [], rulesHash: "rules")
        XCTAssertEqual(try store.scannedBlobs(among: hex + odd, rulesHash: "rules").count, hex.count + odd.count)
    }
}
