import Foundation
import KeysealCore
import XCTest

/// Repositories in unusual or broken states, through the CLI (exit codes are part of the contract).
final class BadInputTests: XCTestCase {
    func testNotAGitRepositoryExitsTwoWithAClearMessage() throws {
        let folder = try TestRepository(initialise: false)
        let out = try KeysealBinary.run(["scan", folder.path, "--quiet"], in: folder.url,
                                        environment: ["GIT_CEILING_DIRECTORIES": folder.url.deletingLastPathComponent().path])
        XCTAssertEqual(out.status, 2)
        XCTAssertTrue(out.stderr.contains("not a git repository"), out.stderr)
    }

    func testEmptyRepositoryExitsZeroWithANote() throws {
        let repo = try TestRepository()
        let out = try KeysealBinary.run(["scan", "--quiet"], in: repo.url)
        XCTAssertEqual(out.status, 0, out.stderr)
        XCTAssertTrue(out.stdout.contains("no commits"), out.stdout)
    }

    func testBareRepositoryIsScanned() throws {
        let work = try TestRepository()
        try work.write("k.env", "T=\(FakeSecret.github("bare"))\n")
        try work.commit("leak")
        let bare = try TestRepository(initialise: false)
        try TestRepository.run("/usr/bin/env", ["git", "clone", "-q", "--bare", work.path, bare.path + "/r.git"], in: bare.url)
        let out = try KeysealBinary.run(["scan", "r.git", "--quiet", "-f", "json"], in: bare.url)
        XCTAssertEqual(out.status, 1, out.stderr)
        XCTAssertTrue(out.stdout.contains("\"github-pat\""))
    }

    func testShallowCloneScansWhatItHasAndNotesTheBoundary() throws {
        let work = try TestRepository()
        try work.write("old.env", "T=\(FakeSecret.github("deep"))\n")
        try work.commit("old")
        for i in 0..<3 {
            try work.write("n\(i).txt", "\(i)\n")
            try work.commit("c\(i)")
        }
        try work.write("new.env", "T=\(FakeSecret.github("shallow"))\n")
        try work.commit("new")
        let holder = try TestRepository(initialise: false)
        try TestRepository.run("/usr/bin/env", ["git", "clone", "-q", "--depth", "2", "file://" + work.path, holder.path + "/c"], in: holder.url)
        let result = try HistoryScan.scan(ScanOptions(path: holder.path + "/c", threads: 2))
        XCTAssertEqual(result.summary.commits, 2)
        XCTAssertTrue(result.summary.notes.contains { $0.contains("shallow") }, "\(result.summary.notes)")
        XCTAssertTrue(result.summary.notes.contains { $0.contains("git fetch --unshallow") && $0.contains("fetch-depth: 0") },
                      "the note says how to fetch the rest: \(result.summary.notes)")
        // The boundary commit is compared with the empty tree, so what it holds is still scanned.
        XCTAssertEqual(Set(result.findings.map(\.path)), ["new.env", "old.env"])
    }

    func testDetachedHeadIsScanned() throws {
        let repo = try TestRepository()
        try repo.write("a.txt", "a\n")
        let first = try repo.commit("a")
        try repo.git(["checkout", "-q", "--detach", first])
        try repo.write("d.env", "T=\(FakeSecret.github("detached"))\n")
        let detached = try repo.commit("on detached head")
        let result = try HistoryScan.scan(ScanOptions(path: repo.path, threads: 1))
        XCTAssertEqual(result.findings.map(\.commit), [detached])
    }

    /// A blob the object database lacks (a partial or damaged clone) does not stop a full scan: it
    /// is named as not scanned, and `--fail-on-unscanned` fails on it. A hook, which must never
    /// pass what it could not read, stops with an error naming the blob.
    func testMissingObjectIsNamedAsNotScannedAndAHookStops() throws {
        let repo = try TestRepository()
        try repo.write("a.env", "T=\(FakeSecret.github("corrupt"))\n")
        try repo.commit("a")
        let blob = try repo.git(["rev-parse", "HEAD:a.env"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let object = repo.url.appendingPathComponent(".git/objects/\(blob.prefix(2))/\(blob.dropFirst(2))")
        try FileManager.default.removeItem(at: object)
        let out = try KeysealBinary.run(["scan", "--quiet", "--no-store"], in: repo.url)
        XCTAssertEqual(out.status, 0, out.stdout + out.stderr)
        XCTAssertTrue(out.stdout.contains("1 missing from the object database"), out.stdout)
        XCTAssertTrue(out.stdout.contains("a.env"), out.stdout)
        let strict = try KeysealBinary.run(["scan", "--quiet", "--no-store", "--fail-on-unscanned"], in: repo.url)
        XCTAssertEqual(strict.status, 1, strict.stdout + strict.stderr)
        let hook = try KeysealBinary.run(["staged", "--files", "a.env"], in: repo.url)
        XCTAssertEqual(hook.status, 2, hook.stdout + hook.stderr)
        XCTAssertTrue(hook.stderr.contains(blob), hook.stderr)
    }

    func testCorruptObjectIsAClearError() throws {
        let repo = try TestRepository()
        try repo.write("a.txt", "hello\n")
        try repo.commit("a")
        let blob = try repo.git(["rev-parse", "HEAD:a.txt"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let object = repo.url.appendingPathComponent(".git/objects/\(blob.prefix(2))/\(blob.dropFirst(2))")
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: object.path)
        try Data("not zlib at all".utf8).write(to: object)
        let out = try KeysealBinary.run(["scan", "--quiet"], in: repo.url)
        XCTAssertEqual(out.status, 2, out.stdout + out.stderr)
        XCTAssertTrue(out.stderr.contains(blob), out.stderr)
    }

    func testBadSinceCommitAndBadOptionsExitTwo() throws {
        let repo = try TestRepository()
        try repo.write("a.txt", "a\n")
        try repo.commit("a")
        let since = try KeysealBinary.run(["scan", "--since-commit", "v9.9", "--quiet"], in: repo.url)
        XCTAssertEqual(since.status, 2)
        XCTAssertTrue(since.stderr.contains("v9.9"), since.stderr)
        XCTAssertEqual(try KeysealBinary.run(["scan", "--threads", "0"], in: repo.url).status, 2)
        XCTAssertEqual(try KeysealBinary.run(["scan", "--max-blob-size", "lots"], in: repo.url).status, 2)
        XCTAssertEqual(try KeysealBinary.run(["scan", "--format", "xml"], in: repo.url).status, 2)
        XCTAssertEqual(try KeysealBinary.run(["no-such-command"], in: repo.url).status, 2)
    }

    func testCleanRepositoryExitsZero() throws {
        let repo = try TestRepository()
        try repo.write("a.txt", "nothing to see\n")
        try repo.commit("a")
        let out = try KeysealBinary.run(["scan", "--quiet"], in: repo.url)
        XCTAssertEqual(out.status, 0, out.stderr)
        XCTAssertTrue(out.stdout.contains("No secrets found"))
    }
}
