import Foundation
import KeysealStore
import XCTest

/// An organisation's store on a real PostgreSQL server (a throwaway cluster, see PostgresServer):
/// the behaviours the SQLite store has (incremental scans, triage, baselines, checklists, scans
/// killed or run at once), and those of a store many repositories and runners share.
final class PostgresStoreTests: XCTestCase {
    var server: PostgresServer!
    var database = ""
    var url = ""

    override func setUpWithError() throws {
        server = try PostgresServer.require()
        (database, url) = try server.database()
    }

    /// keyseal with the store in KEYSEAL_STORE (as CI sets it) and the password in PGPASSWORD.
    func keyseal(_ arguments: [String], in folder: URL, store: String? = nil, extra: [String: String] = [:]) throws -> TestRepository.Output {
        var environment = server.environment
        environment["KEYSEAL_STORE"] = store ?? url
        environment.merge(extra, uniquingKeysWith: { _, new in new })
        let out = try KeysealBinary.run(arguments, in: folder, environment: environment)
        XCTAssertFalse(out.stdout.contains(server.password) || out.stderr.contains(server.password), "the password is never printed")
        return out
    }

    func scanJSON(_ repo: TestRepository, _ extra: [String] = []) throws -> (Int32, [String: Any]) {
        let out = try keyseal(["scan", "--quiet", "--no-audit", "--format", "json"] + extra, in: repo.url)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any], out.stderr)
        return (out.status, json)
    }

    func findings(_ json: [String: Any]) -> [[String: Any]] { json["findings"] as? [[String: Any]] ?? [] }
    func summary(_ json: [String: Any]) -> [String: Any] { json["summary"] as? [String: Any] ?? [:] }

    func repository(_ remote: String) throws -> TestRepository {
        let repo = try TestRepository()
        try repo.git(["remote", "add", "origin", remote])
        return repo
    }

    func count(_ table: String, _ condition: String = "true") throws -> Int {
        Int(try server.sql("SELECT count(*) FROM keyseal.\(table) WHERE \(condition)", database: database)) ?? -1
    }

    // MARK: - What the SQLite store does

    func testIncrementalScanTriageBaselineAndChecklist() throws {
        let repo = try repository("git@github.com:team/app.git")
        let token = FakeSecret.github("pg-store")
        try repo.write("app.env", "TOKEN=\(token)\n")
        try repo.commit("leak")
        let (status, first) = try scanJSON(repo)
        XCTAssertEqual(status, 1)
        XCTAssertEqual(findings(first).count, 1)
        XCTAssertEqual(try count("occurrences", "repository = 'github.com/team/app'"), 1, "the repository goes by its normalised remote URL")
        XCTAssertEqual(try count("secrets"), 1)
        XCTAssertEqual(try server.sql("SELECT count(*) FROM keyseal.secrets WHERE preview LIKE '%\(token.suffix(8))%'", database: database), "0",
                       "the store never holds the secret")

        try repo.write("other.txt", "x\n")
        try repo.commit("more")
        let (again, second) = try scanJSON(repo)
        XCTAssertEqual(again, 1)
        XCTAssertEqual(summary(second)["commits_scanned"] as? Int ?? summary(second)["commits"] as? Int, 1, "only the new commit")
        XCTAssertEqual(findings(second).count, 1, "the earlier finding comes from the store")

        let fingerprint = try XCTUnwrap(findings(first).first?["fingerprint"] as? String)
        let triage = try keyseal(["triage", String(fingerprint.prefix(10)), "--status", "rotated", "--note", "revoked"], in: repo.url)
        XCTAssertEqual(triage.status, 0, triage.stderr)
        let (afterTriage, _) = try scanJSON(repo)
        XCTAssertEqual(afterTriage, 0, "a rotated secret no longer fails the scan")
        let listed = try keyseal(["findings"], in: repo.url)
        XCTAssertTrue(listed.stdout.contains("rotated") && listed.stdout.contains("revoked"), listed.stdout)

        // A baseline carries the decision out of the store and into another.
        let exported = try keyseal(["baseline", "export"], in: repo.url)
        XCTAssertEqual(exported.status, 0, exported.stderr)
        let (_, other) = try server.database()
        let imported = try keyseal(["baseline", "import", ".keyseal-baseline.json"], in: repo.url, store: other)
        XCTAssertEqual(imported.status, 0, imported.stderr)
        let checklist = try keyseal(["checklist", "--format", "json"], in: repo.url, store: other)
        XCTAssertEqual(checklist.status, 0, checklist.stderr)
        let entries = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(checklist.stdout.utf8)) as? [String: Any])?["entries"] as? [[String: Any]])
        XCTAssertEqual(entries.map { $0["status"] as? String }, ["rotated"])
        XCTAssertFalse(checklist.stdout.contains(token))
    }

    func testScansRunAtOnceIntoOneStoreAllFinishAndAgree() throws {
        // Four repositories (two of them the same one under one name, as two runners of one job).
        var repos: [TestRepository] = []
        let shared = FakeSecret.github("pg-shared")
        for index in 0..<3 {
            let repo = try repository("https://github.com/team/r\(index).git")
            for file in 0..<12 { try repo.write("f\(file).env", "TOKEN=\(FakeSecret.github("pg-\(index)-\(file)"))\n") }
            try repo.write("shared.env", "TOKEN=\(shared)\n")
            try repo.commit("leaks")
            repos.append(repo)
        }
        let twin = try TestRepository()
        try twin.git(["pull", "-q", repos[0].path, "HEAD"])
        try twin.git(["remote", "add", "origin", "https://github.com/team/r0.git"])
        repos.append(twin)
        let statuses = StatusBox()
        let folders = repos.map(\.url)
        var environment = server.environment
        environment["KEYSEAL_STORE"] = url
        let given = environment
        DispatchQueue.concurrentPerform(iterations: folders.count) { index in
            let out = try? KeysealBinary.run(["scan", "--quiet", "--no-audit", "--format", "json"], in: folders[index], environment: given)
            statuses.append(out?.status ?? -1)
            if out?.status != 1 { statuses.note(out?.stderr ?? "no output") }
        }
        XCTAssertEqual(statuses.values, [1, 1, 1, 1], statuses.notes.joined(separator: "\n"))
        XCTAssertEqual(try count("secrets"), 37, "12 per repository and one they share")
        XCTAssertEqual(try count("occurrences"), 39, "13 in each of three repositories; the twin adds nothing")
        XCTAssertEqual(try count("scans", "status = 'finished'"), 4)
        let all = try keyseal(["findings", "--all-repositories", "--format", "json"], in: repos[0].url)
        let secrets = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(secrets.count, 37)
        XCTAssertEqual(secrets.filter { $0["repositories"] as? Int == 3 }.count, 1, "the shared secret is one secret in three repositories")
    }

    func testAScanKilledPartWayIsRepairedAndCompleted() throws {
        let repo = try repository("https://github.com/team/killed.git")
        for i in 0..<30 { try repo.write("k\(i).env", "TOKEN=\(FakeSecret.github("pgkill\(i)"))\n") }
        try repo.commit("thirty")
        var environment = server.environment
        environment["KEYSEAL_STORE"] = url
        let killed = try TestRepository.capture(KeysealBinary.testScanPath, [repo.path, "--chunk-size", "8", "--kill-after-chunks", "2",
                                                                              "--store", url], in: repo.url, environment: environment)
        XCTAssertNotEqual(killed.status, 0)
        XCTAssertNotEqual(killed.status, 1, "killed, not finished")
        let (status, json) = try scanJSON(repo)
        XCTAssertEqual(status, 1)
        XCTAssertEqual(summary(json)["blobs_scanned"] as? Int, 14, "16 blobs were recorded before the kill; the rest is scanned now")
        XCTAssertEqual(findings(json).count, 30, "no occurrence lost or doubled")
        XCTAssertEqual(try server.sql("SELECT string_agg(status, ',' ORDER BY id) FROM keyseal.scans", database: database), "interrupted,finished")
    }

    // MARK: - What a shared store adds

    func testTwoRepositoriesShareASecretAndTriageInOneReachesTheOthersHook() throws {
        let token = FakeSecret.github("pg-two-repos")
        let first = try repository("https://github.com/team/one.git")
        try first.write("a.env", "TOKEN=\(token)\n")
        try first.commit("leak")
        let second = try repository("git@github.com:team/two.git")
        try second.write("b.env", "KEY=\(token)\n")
        try second.commit("leak too")
        XCTAssertEqual(try scanJSON(first).0, 1)
        XCTAssertEqual(try scanJSON(second).0, 1)
        let all = try keyseal(["findings", "--all-repositories"], in: first.url)
        XCTAssertTrue(all.stdout.contains("2 occurrence(s) in 2 repositories"), all.stdout)
        XCTAssertTrue(all.stdout.hasSuffix("1 secret(s)\n"), all.stdout)

        let fingerprint = try XCTUnwrap(findings(try scanJSON(first).1).first?["fingerprint"] as? String)
        XCTAssertEqual(try keyseal(["triage", String(fingerprint.prefix(12)), "--status", "false-positive"], in: first.url).status, 0)
        // A developer in the other repository stages the same value again: the team's decision holds.
        try second.write("c.env", "KEY=\(token)\n")
        try second.git(["add", "c.env"])
        let hook = try keyseal(["staged"], in: second.url)
        XCTAssertEqual(hook.status, 0, hook.stdout + hook.stderr)
        var environment = server.environment
        environment["KEYSEAL_STORE"] = ""
        let alone = try KeysealBinary.run(["staged"], in: second.url, environment: environment)
        XCTAssertEqual(alone.status, 1, "without the organisation's store the hook knows no decision")
        XCTAssertEqual(try scanJSON(second).0, 0, "and its scans pass")
    }

    func testAForkScansOnlyItsNewBlobs() throws {
        let upstream = try repository("https://github.com/team/upstream.git")
        for i in 0..<10 { try upstream.write("f\(i).txt", "line \(i)\n") }
        try upstream.write("old.env", "TOKEN=\(FakeSecret.github("pg-upstream"))\n")
        try upstream.commit("upstream")
        XCTAssertEqual(try scanJSON(upstream).0, 1)
        let fork = try TestRepository()
        try fork.git(["pull", "-q", upstream.path, "HEAD"])
        try fork.git(["remote", "add", "origin", "https://github.com/someone/fork.git"])
        try fork.write("new.env", "TOKEN=\(FakeSecret.github("pg-fork"))\n")
        try fork.commit("fork")
        let (status, json) = try scanJSON(fork)
        XCTAssertEqual(status, 1)
        XCTAssertEqual(summary(json)["blobs_scanned"] as? Int, 1, "only the fork's new blob is read")
        XCTAssertEqual(summary(json)["blobs_from_store"] as? Int, 11)
        XCTAssertEqual(findings(json).count, 2, "the upstream secret is the fork's too")
        XCTAssertEqual(try count("occurrences", "repository = 'github.com/someone/fork'"), 2)
    }

    /// The server ends the scanner's connection while it writes (pg_terminate_backend): the
    /// transaction is rolled back, the connection made again and the chunk written once.
    func testAConnectionTerminatedMidScanIsRetriedWithNothingLostOrDoubled() throws {
        let repo = try repository("https://github.com/team/terminated.git")
        for i in 0..<30 { try repo.write("k\(i).env", "TOKEN=\(FakeSecret.github("pgterm\(i)"))\n") }
        try repo.commit("thirty")
        let pause = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-pg-pause-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: pause, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: pause) }
        var environment = server.environment
        environment["KEYSEAL_STORE"] = url
        let result = StatusBox()
        let group = DispatchGroup()
        group.enter()
        let (path, folder, given) = (repo.path, repo.url, environment)
        DispatchQueue.global().async { [url] in
            let out = try? TestRepository.capture(KeysealBinary.testScanPath, [path, "--chunk-size", "8", "--pause-in-write", pause.path,
                                                                                "--store", url], in: folder, environment: given)
            result.append(out?.status ?? -1)
            result.note(out?.stderr ?? "")
            group.leave()
        }
        let deadline = Date().addingTimeInterval(120)
        while !((try? FileManager.default.contentsOfDirectory(atPath: pause.path)) ?? []).contains(where: { $0.hasSuffix(".holding") }) {
            guard Date() < deadline else { throw TestFailure("the scan never reached its write") }
            Thread.sleep(forTimeInterval: 0.02)
        }
        let ended = try server.sql("""
            SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
            FROM (SELECT pid FROM pg_stat_activity WHERE datname = '\(database)' AND pid <> pg_backend_pid() OFFSET 0) scanner
            """)
        XCTAssertEqual(ended, "1", "the scanner's connection was ended")
        _ = FileManager.default.createFile(atPath: pause.appendingPathComponent("release").path, contents: nil)
        group.wait()
        XCTAssertEqual(result.values, [1], result.notes.joined(separator: "\n"))
        XCTAssertEqual(try count("occurrences"), 30, "nothing lost or doubled")
        XCTAssertEqual(try count("blob_matches"), 30)
        let (status, json) = try scanJSON(repo)
        XCTAssertEqual(status, 1)
        XCTAssertEqual(findings(json).count, 30)
        XCTAssertEqual(summary(json)["blobs_scanned"] as? Int, 0, "every blob was recorded once")
    }

    /// The server goes away mid-scan and stays away: the scan retries with backoff, then fails with
    /// a clear message (exit 2) and nothing half-written; the next scan repairs and completes.
    func testAServerGoneMidScanFailsClearlyAndTheNextScanRepairs() throws {
        let own = try PostgresServer()
        defer { own.stop() }
        let (ownDatabase, ownURL) = try own.database()
        let repo = try repository("https://github.com/team/gone.git")
        for i in 0..<30 { try repo.write("k\(i).env", "TOKEN=\(FakeSecret.github("pggone\(i)"))\n") }
        try repo.commit("thirty")
        let pause = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-pg-gone-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: pause, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: pause) }
        var environment = own.environment
        environment["KEYSEAL_STORE"] = ownURL
        let result = StatusBox()
        let group = DispatchGroup()
        group.enter()
        let (path, folder, given) = (repo.path, repo.url, environment)
        DispatchQueue.global().async {
            let out = try? TestRepository.capture(KeysealBinary.testScanPath, [path, "--chunk-size", "8", "--pause-in-write", pause.path,
                                                                                "--store", ownURL], in: folder, environment: given)
            result.append(out?.status ?? -1)
            result.note(out?.stderr ?? "")
            group.leave()
        }
        let deadline = Date().addingTimeInterval(120)
        while !((try? FileManager.default.contentsOfDirectory(atPath: pause.path)) ?? []).contains(where: { $0.hasSuffix(".holding") }) {
            guard Date() < deadline else { throw TestFailure("the scan never reached its write") }
            Thread.sleep(forTimeInterval: 0.02)
        }
        try own.halt()
        _ = FileManager.default.createFile(atPath: pause.appendingPathComponent("release").path, contents: nil)
        group.wait()
        XCTAssertEqual(result.values, [2], result.notes.joined(separator: "\n"))
        let message = result.notes.joined()
        XCTAssertTrue(message.contains("gave up after") || message.contains("cannot connect"), message)
        XCTAssertFalse(message.contains(own.password))
        try own.restart()
        XCTAssertEqual(try own.sql("SELECT count(*) FROM keyseal.blob_matches", database: ownDatabase), "0", "the chunk being written is not there at all")
        let out = try KeysealBinary.run(["scan", "--quiet", "--no-audit", "--format", "json"], in: repo.url, environment: environment)
        XCTAssertEqual(out.status, 1, out.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(findings(json).count, 30)
        XCTAssertEqual(try own.sql("SELECT count(*) FROM keyseal.occurrences", database: ownDatabase), "30")
        XCTAssertEqual(try own.sql("SELECT string_agg(status, ',' ORDER BY id) FROM keyseal.scans", database: ownDatabase), "interrupted,finished",
                       "the scan left running is marked by the next")
    }

    func testThePasswordIsNeverTakenFromArgvNorPrinted() throws {
        let repo = try repository("https://github.com/team/pw.git")
        try repo.write("a.txt", "x\n")
        try repo.commit("one")
        let withPassword = "postgres://postgres:\(server.password)@127.0.0.1:\(server.port)/\(database)"
        let argv = try KeysealBinary.run(["scan", "--store", withPassword], in: repo.url)
        XCTAssertEqual(argv.status, 2)
        XCTAssertTrue(argv.stderr.contains("PGPASSWORD"), argv.stderr)
        XCTAssertFalse(argv.stderr.contains(server.password) || argv.stdout.contains(server.password))
        // In the environment it is accepted, and never echoed, even in an error.
        let wrongPort = "postgres://postgres:\(server.password)@127.0.0.1:1/\(database)"
        let refused = try KeysealBinary.run(["findings"], in: repo.url, environment: ["KEYSEAL_STORE": wrongPort])
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("postgres://postgres:***@127.0.0.1:1/"), refused.stderr)
        XCTAssertFalse(refused.stderr.contains(server.password))
        let good = try KeysealBinary.run(["scan", "--quiet", "--no-audit"], in: repo.url,
                                         environment: ["KEYSEAL_STORE": withPassword])
        XCTAssertEqual(good.status, 0, good.stderr)
        let wrong = try KeysealBinary.run(["findings"], in: repo.url, environment: ["KEYSEAL_STORE": url, "PGPASSWORD": "not-it"])
        XCTAssertEqual(wrong.status, 2)
        XCTAssertTrue(wrong.stderr.contains("password authentication failed"), wrong.stderr)
        XCTAssertFalse(wrong.stderr.contains("not-it"))

        // Every spelling libpq reads a password from is refused on the command line, and none is
        // printed when libpq quotes the string in its error.
        let odd = "Zq7" + String(server.password.reversed())
        let spellings = [
            "postgres://postgres:\(odd)?x@127.0.0.1:1/\(database)",  // libpq takes "ODD?x" as the password
            "postgres://postgres:a/\(odd)@127.0.0.1:1/\(database)",
            "POSTGRES://postgres:\(odd)@127.0.0.1:1/\(database)",
            "postgres://127.0.0.1:1/\(database)?%70assword=\(odd)",
            "postgres://127.0.0.1:1/\(database)?sslpassword=\(odd)",
            "postgres://postgres:\(odd)@[::1]x/\(database)",
        ]
        for spelling in spellings {
            let inArgv = try KeysealBinary.run(["findings", "--store", spelling], in: repo.url)
            XCTAssertEqual(inArgv.status, 2, spelling)
            let inEnvironment = try KeysealBinary.run(["findings"], in: repo.url, environment: ["KEYSEAL_STORE": spelling])
            XCTAssertEqual(inEnvironment.status, 2, spelling)
            for out in [inArgv.stdout, inArgv.stderr, inEnvironment.stdout, inEnvironment.stderr] {
                XCTAssertFalse(out.contains(odd), "\(spelling): \(out)")
            }
        }
        // A libpq key=value string is refused, not taken for a file name (with the password in it).
        let keyValue = try KeysealBinary.run(["scan", "--quiet"], in: repo.url,
                                             environment: ["KEYSEAL_STORE": "host=127.0.0.1 dbname=\(database) password=\(odd)"])
        XCTAssertEqual(keyValue.status, 2)
        XCTAssertTrue(keyValue.stderr.contains("postgres://"), keyValue.stderr)
        XCTAssertFalse(keyValue.stderr.contains(odd))
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: repo.url.path).contains { $0.contains("dbname") })
    }

    func testARepositoryWithoutARemoteNeedsAName() throws {
        let repo = try TestRepository()
        try repo.write("a.txt", "x\n")
        try repo.commit("one")
        let unnamed = try keyseal(["scan", "--quiet", "--no-audit"], in: repo.url)
        XCTAssertEqual(unnamed.status, 2)
        XCTAssertTrue(unnamed.stderr.contains("--repository NAME"), unnamed.stderr)
        XCTAssertEqual(try keyseal(["scan", "--quiet", "--no-audit", "--repository", "git.example/team/app"], in: repo.url).status, 0)
        XCTAssertEqual(try count("scanned_commits", "repository = 'git.example/team/app'"), 1)
    }

    // MARK: - Org-wide views, schema, roles, moving in

    func testOrgChecklistAndRebuildNeedNoClone() throws {
        let token = FakeSecret.github("pg-tagged")
        let repo = try repository("https://github.com/team/released.git")
        try repo.write("config.env", "TOKEN=\(token)\n")
        try repo.commit("leak")
        try repo.git(["tag", "v1.0"])
        try repo.git(["update-ref", "refs/remotes/origin/main", "HEAD"])
        try repo.write("config.env", "TOKEN=from-the-vault\n")
        try repo.commit("fix")
        try repo.git(["tag", "v1.1"])
        XCTAssertEqual(try scanJSON(repo).0, 1)
        try FileManager.default.removeItem(at: repo.url)
        let elsewhere = FileManager.default.temporaryDirectory
        let checklist = try keyseal(["checklist", "--all-repositories", "--format", "json"], in: elsewhere)
        XCTAssertEqual(checklist.status, 0, checklist.stderr)
        let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(checklist.stdout.utf8)) as? [String: Any])
        let entry = try XCTUnwrap((document["entries"] as? [[String: Any]])?.first)
        XCTAssertEqual(entry["repositories"] as? [String], ["github.com/team/released"])
        XCTAssertEqual(entry["tags"] as? [String], ["github.com/team/released@v1.0", "github.com/team/released@v1.1"])
        XCTAssertEqual(entry["pushed"] as? Bool, true)
        XCTAssertEqual(entry["in_head"] as? Bool, false)
        let rebuild = try keyseal(["rebuild", "--all-repositories"], in: elsewhere)
        XCTAssertEqual(rebuild.status, 0, rebuild.stderr)
        let requests = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(rebuild.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(requests.map { $0["tag"] as? String }, ["v1.0", "v1.1"])
        XCTAssertEqual(Set(requests.compactMap { $0["repository"] as? String }), ["github.com/team/released"])
    }

    func testMigrateCheckAndANewerSchema() throws {
        let folder = FileManager.default.temporaryDirectory
        let before = try keyseal(["store", "check"], in: folder)
        XCTAssertEqual(before.status, 2)
        XCTAssertTrue(before.stderr.contains("keyseal store migrate"), before.stderr)
        let migrate = try keyseal(["store", "migrate"], in: folder)
        XCTAssertEqual(migrate.status, 0, migrate.stderr)
        XCTAssertTrue(migrate.stdout.contains("from version 0 to \(PostgresSchema.version)"), migrate.stdout)
        XCTAssertTrue(try keyseal(["store", "migrate"], in: folder).stdout.contains("already at version"))
        let check = try keyseal(["store", "check"], in: folder)
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertTrue(check.stdout.contains("triage:         yes"), check.stdout)
        try server.sql("UPDATE keyseal.meta SET value = '99' WHERE key = 'schema_version'", database: database)
        let newer = try keyseal(["findings", "--all-repositories"], in: folder)
        XCTAssertEqual(newer.status, 2)
        XCTAssertTrue(newer.stderr.contains("newer than this keyseal knows"), newer.stderr)
    }

    /// docs/postgres-roles.sql, as the README tells an admin to run it: a scanner records scans
    /// and reads triage but cannot triage; a lead triages.
    func testTheDocumentedRolesGiveScannersAndLeadsWhatTheyNeedAndNoMore() throws {
        let repo = try repository("https://github.com/team/roles.git")
        try repo.write("a.env", "TOKEN=\(FakeSecret.github("pg-roles"))\n")
        try repo.commit("leak")
        XCTAssertEqual(try keyseal(["store", "migrate"], in: repo.url).status, 0)
        let roles = try String(contentsOfFile: KeysealBinary.packageRoot + "/docs/postgres-roles.sql", encoding: .utf8)
        try server.sql(roles, database: database)
        let suffix = database
        try server.sql("""
            CREATE ROLE runner_\(suffix) LOGIN PASSWORD 'runner-pw' IN ROLE keyseal_scanner;
            CREATE ROLE lead_\(suffix) LOGIN PASSWORD 'lead-pw' IN ROLE keyseal_lead;
            """, database: database)
        let runner = "postgres://runner_\(suffix)@127.0.0.1:\(server.port)/\(database)"
        let lead = "postgres://lead_\(suffix)@127.0.0.1:\(server.port)/\(database)"
        let scan = try KeysealBinary.run(["scan", "--quiet", "--no-audit", "--format", "json"], in: repo.url,
                                         environment: ["KEYSEAL_STORE": runner, "PGPASSWORD": "runner-pw"])
        XCTAssertEqual(scan.status, 1, scan.stderr)
        let fingerprint = try XCTUnwrap(((try JSONSerialization.jsonObject(with: Data(scan.stdout.utf8)) as? [String: Any])?["findings"]
                                         as? [[String: Any]])?.first?["fingerprint"] as? String)
        let check = try KeysealBinary.run(["store", "check"], in: repo.url, environment: ["KEYSEAL_STORE": runner, "PGPASSWORD": "runner-pw"])
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertTrue(check.stdout.contains("record scans:   yes") && check.stdout.contains("triage:         no"), check.stdout)
        let refused = try KeysealBinary.run(["triage", String(fingerprint.prefix(12)), "--status", "false-positive"], in: repo.url,
                                            environment: ["KEYSEAL_STORE": runner, "PGPASSWORD": "runner-pw"])
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("permission denied"), refused.stderr)
        let triaged = try KeysealBinary.run(["triage", String(fingerprint.prefix(12)), "--status", "false-positive"], in: repo.url,
                                            environment: ["KEYSEAL_STORE": lead, "PGPASSWORD": "lead-pw"])
        XCTAssertEqual(triaged.status, 0, triaged.stderr)
        let again = try KeysealBinary.run(["scan", "--quiet", "--no-audit"], in: repo.url, environment: ["KEYSEAL_STORE": runner, "PGPASSWORD": "runner-pw"])
        XCTAssertEqual(again.status, 0, "the runner reads the lead's decision: " + again.stderr)

        // A scanner's password (every CI job holds it) cannot decide: no status or note on a new
        // secret's row, and no change of one.
        let forged = try psql(runner, password: "runner-pw", """
            INSERT INTO keyseal.secrets (fingerprint, rule, provider, description, preview, status)
            VALUES ('forged-\(suffix)', 'r', 'p', 'd', 'x', 'false-positive')
            """)
        XCTAssertNotEqual(forged.status, 0)
        XCTAssertTrue(forged.stderr.contains("permission denied"), forged.stderr)
        let plain = try psql(runner, password: "runner-pw", """
            INSERT INTO keyseal.secrets (fingerprint, rule, provider, description, preview) VALUES ('plain-\(suffix)', 'r', 'p', 'd', 'x')
            """)
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertNotEqual(try psql(runner, password: "runner-pw", "UPDATE keyseal.secrets SET note = 'x'").status, 0)

        // A crafted scans row (a pid no process has, on this host) is skipped, not trusted or trapped on.
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? ""
        for name in Set([host, ProcessInfo.processInfo.hostName]) {
            XCTAssertEqual(try psql(runner, password: "runner-pw", """
                INSERT INTO keyseal.scans (started_at, status, range, rules_hash, tool_version, pid, host)
                VALUES ('2024-01-01T00:00:00Z', 'running', 'all', 'x', 'x', 99999999999, '\(name)')
                """).status, 0)
        }
        try repo.write("b.txt", "more\n")
        _ = try repo.commit("more")
        let afterCraftedRow = try KeysealBinary.run(["scan", "--quiet", "--no-audit"], in: repo.url,
                                                    environment: ["KEYSEAL_STORE": runner, "PGPASSWORD": "runner-pw"])
        XCTAssertEqual(afterCraftedRow.status, 0, afterCraftedRow.stderr)

        // Readers (developers' hooks) read triage and nothing else.
        try server.sql("CREATE ROLE hooks_\(suffix) LOGIN PASSWORD 'hooks-pw' IN ROLE keyseal_reader;", database: database)
        let reader = "postgres://hooks_\(suffix)@127.0.0.1:\(server.port)/\(database)"
        let readerCheck = try KeysealBinary.run(["store", "check"], in: repo.url, environment: ["KEYSEAL_STORE": reader, "PGPASSWORD": "hooks-pw"])
        XCTAssertEqual(readerCheck.status, 0, readerCheck.stderr)
        XCTAssertTrue(readerCheck.stdout.contains("record scans:   no") && readerCheck.stdout.contains("read triage:    yes"), readerCheck.stdout)
        try repo.write("c.env", "TOKEN=\(FakeSecret.github("pg-roles"))\n")
        _ = try repo.git(["add", "c.env"])
        let hook = try KeysealBinary.run(["staged"], in: repo.url, environment: ["KEYSEAL_STORE": reader, "PGPASSWORD": "hooks-pw"])
        XCTAssertEqual(hook.status, 0, "the reader's hook passes what the lead marked a false positive: " + hook.stderr + hook.stdout)
        XCTAssertNotEqual(try psql(reader, password: "hooks-pw", "SELECT count(*) FROM keyseal.occurrences").status, 0)
    }

    /// psql as a role of the test database (its password in the environment, as keyseal takes it).
    private func psql(_ url: String, password: String, _ sql: String) throws -> TestRepository.Output {
        try PostgresServer.run(["/usr/bin/env", "PGPASSWORD=\(password)", "/usr/bin/psql", url, "-v", "ON_ERROR_STOP=1", "-c", sql],
                               in: URL(fileURLWithPath: NSTemporaryDirectory()), allowFailure: true)
    }

    func testImportCarriesASQLiteStoreAndItsTriageOnce() throws {
        let repo = try repository("https://github.com/team/moving.git")
        try repo.write("a.env", "TOKEN=\(FakeSecret.github("pg-import-a"))\n")
        try repo.write("b.env", "TOKEN=\(FakeSecret.github("pg-import-b"))\n")
        try repo.commit("leaks")
        try repo.git(["tag", "v1"])
        let local = try KeysealBinary.run(["scan", "--quiet", "--no-audit", "--format", "json"], in: repo.url)
        XCTAssertEqual(local.status, 1)
        let prints = (((try JSONSerialization.jsonObject(with: Data(local.stdout.utf8)) as? [String: Any])?["findings"] as? [[String: Any]]) ?? [])
            .compactMap { $0["fingerprint"] as? String }
        XCTAssertEqual(prints.count, 2)
        XCTAssertEqual(try KeysealBinary.run(["triage", String(prints[0].prefix(12)), "--status", "accepted", "--note", "sandbox"], in: repo.url).status, 0)
        let imported = try keyseal(["store", "import", ".git/keyseal/store.sqlite"], in: repo.url)
        XCTAssertEqual(imported.status, 0, imported.stderr)
        XCTAssertTrue(imported.stdout.contains("as github.com/team/moving"), imported.stdout)
        XCTAssertEqual(try count("occurrences", "repository = 'github.com/team/moving'"), 2)
        XCTAssertEqual(try server.sql("SELECT status || ' ' || note FROM keyseal.secrets WHERE fingerprint = '\(prints[0])'", database: database),
                       "accepted sandbox")
        let twice = try keyseal(["store", "import", ".git/keyseal/store.sqlite"], in: repo.url)
        XCTAssertEqual(twice.status, 0)
        let lines = twice.stdout.split(separator: "\n").filter { $0.contains("row(s) added") }
        XCTAssertFalse(lines.isEmpty)
        XCTAssertTrue(lines.allSatisfy { $0.contains(": 0 row(s) added") }, twice.stdout)
        XCTAssertEqual(try count("occurrences"), 2, "nothing doubled")
        // The shared store now knows everything: the next scan reads no blob and fails only on the open secret.
        let (status, json) = try scanJSON(repo)
        XCTAssertEqual(status, 1)
        XCTAssertEqual(summary(json)["blobs_scanned"] as? Int, 0)
        XCTAssertEqual(findings(json).filter { $0["status"] as? String == "accepted" }.count, 1)
        let rebuild = try keyseal(["rebuild", "--all-repositories"], in: FileManager.default.temporaryDirectory)
        XCTAssertTrue(rebuild.stdout.contains("\"tag\" : \"v1\""), rebuild.stdout)
    }
}
