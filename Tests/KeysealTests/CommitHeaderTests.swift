import CGit2
import Foundation
import XCTest

@testable import KeysealGit

/// The history walk reads each commit's tree, parents and committer time from the raw object, and
/// leaves anything but git's canonical header to libgit2: both must always give the same commit.
final class CommitHeaderTests: XCTestCase {
    /// Every commit of `path` (all refs), read both ways.
    func assertAgrees(_ path: String, readPacks: Bool = false, file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        let repository = try Repository(discovering: path)
        let odb = try repository.objectDatabase()
        defer { git_odb_free(odb) }
        let packs = readPacks ? PackObjects(repository: repository) : nil
        if readPacks { XCTAssertNotNil(packs, file: file, line: line) }
        let ids = try TestRepository.run("/usr/bin/git", ["-C", path, "rev-list", "--all"], in: URL(fileURLWithPath: path))
            .split(separator: "\n").compactMap { ObjectID(hex: String($0)) }
        for id in ids {
            let quick = try repository.commitForWalk(id, odb: odb, packs: packs)
            let full = try repository.commit(id)
            XCTAssertEqual(quick.tree, full.tree, "\(id)", file: file, line: line)
            XCTAssertEqual(quick.parents, full.parents, "\(id)", file: file, line: line)
            XCTAssertEqual(quick.time, full.time, "\(id)", file: file, line: line)
        }
        return ids.count
    }

    /// Commits git writes, merges among them, and commits written by hand with headers git would
    /// not write (each either read as libgit2 reads it, or left to libgit2).
    func testQuickReadAgreesWithLibgit2() throws {
        let repo = try TestRepository()
        try repo.write("a", "1\n")
        let first = try repo.commit("one")
        try repo.git(["checkout", "-q", "-b", "side"])
        try repo.write("b", "2\n")
        try repo.commit("two")
        try repo.git(["checkout", "-q", "main"])
        try repo.write("c", "3\n")
        try repo.commit("three")
        try repo.git(["merge", "-q", "--no-edit", "side"], environment: ["GIT_COMMITTER_DATE": "@1700000100 +0130"])
        let tree = try repo.git(["rev-parse", "HEAD^{tree}"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let shapes = [
            "tree \(tree)\nparent \(first)\nauthor A <a@x> 1 +0000\nauthor B <b@x> 2 +0000\ncommitter C <c@x> 1700000000 -0700\n\nm\n",
            "tree \(tree)\nauthor A <a@x> 1 +0000\ncommitter C <c@x> -5 +0000\n\nnegative\n",
            "tree \(tree)\nauthor A <a@x> 1 +0000\ncommitter C <c> d@x> 1700000000 +0000\n\ntwo closers\n",
            "tree \(tree)\nauthor A <a@x> 1 +0000\ncommitter C <c@x> 1700000000\n\nno zone\n",
            "tree \(tree)\nauthor A <a@x> 1 +0000\ncommitter C <c@x>  1700000000 +0000\n\ntwo spaces\n",
            "tree \(tree.uppercased())\nauthor A <a@x> 1 +0000\ncommitter C <c@x> 1700000000 +0000\n\nupper case\n",
            "tree \(tree)\nencoding latin1\nauthor A <a@x> 1 +0000\ncommitter C <c@x> 1700000000 +0000\n\nheader between\n",
            "tree \(tree)\nauthor A <a@x> 1 +0000\ncommitter C <c@x> 99999999999999999999 +0000\n\nhuge time\n",
            "tree \(tree)\nauthor nobody\ncommitter C <c@x> 1700000000 +0000\n\nauthor without an email\n",
            "tree \(tree)\nauthor A <a@x> x +0000\ncommitter C <c@x> 1700000000 +0000\n\nauthor time not a number\n",
            "tree \(tree)\nauthor A <a@x> 1 +0000\ncommitter C> 1700000000 +0000\n\ncommitter without '<'\n",
        ]
        var refs = 0
        for shape in shapes {
            let file = repo.url.appendingPathComponent("raw-commit")
            try Data(shape.utf8).write(to: file)
            guard let id = try? repo.git(["hash-object", "-t", "commit", "-w", "--literally", file.path])
                .trimmingCharacters(in: .whitespacesAndNewlines) else { continue }
            try FileManager.default.removeItem(at: file)
            // A commit libgit2 cannot parse either way is not kept (the walk would stop on it either way).
            let repository = try Repository(discovering: repo.path)
            guard let parsed = ObjectID(hex: id), (try? repository.commit(parsed)) != nil else { continue }
            try repo.git(["update-ref", "refs/heads/shape-\(refs)", id])
            refs += 1
        }
        XCTAssertGreaterThan(refs, 4)
        XCTAssertEqual(try assertAgrees(repo.path), 4 + refs)
        // Packed: commits stored whole are read from the pack, each as libgit2 reads it.
        try repo.git(["repack", "-adq"])
        XCTAssertEqual(try assertAgrees(repo.path, readPacks: true), 4 + refs)
        let repository = try Repository(discovering: repo.path)
        let packs = try XCTUnwrap(PackObjects(repository: repository))
        let head = try XCTUnwrap(ObjectID(hex: try repo.git(["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)))
        let raw = try XCTUnwrap(packs.whole(head, type: 1) { [UInt8]($0) })
        XCTAssertEqual(String(decoding: raw, as: UTF8.self), try repo.git(["cat-file", "commit", head.hex]))
        XCTAssertNil(packs.whole(head, type: 2) { _ in 0 }, "a commit is no tree")
        // Both ways were taken: the canonical shapes read quickly, the others by libgit2.
        let quick = shapes.map { shape in
            Array(shape.utf8).withUnsafeBytes { Repository.parseCommitHeader($0, id: ObjectID(hex: String(repeating: "0", count: 40))!) != nil }
        }
        XCTAssertEqual(quick, [true, false, true, false, false, false, false, false, false, false, false])
    }
}

/// Every ref is history to scan unless it is not history at all (a tag of a tree or a blob, a
/// symbolic ref to nothing): a branch at a commit libgit2 cannot parse stops the scan, never passes
/// in silence.
final class RefTipTests: XCTestCase {
    func testRefsThatAreNotHistoryAreSkippedAndBrokenOnesStopTheScan() throws {
        let repo = try TestRepository()
        try repo.write("a.env", "x\n")
        try repo.commit("one")
        let blob = try repo.git(["rev-parse", "HEAD:a.env"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let tree = try repo.git(["rev-parse", "HEAD^{tree}"]).trimmingCharacters(in: .whitespacesAndNewlines)
        try repo.git(["tag", "-a", "-m", "a blob", "blob-tag", blob])
        try repo.git(["tag", "tree-tag", tree])
        try repo.git(["symbolic-ref", "refs/heads/unborn-link", "refs/heads/nothing-here"])
        let clean = try KeysealBinary.run(["scan", "--no-store", "--quiet"], in: repo.url)
        XCTAssertEqual(clean.status, 0, clean.stderr)

        // A branch at a commit whose author line libgit2 refuses (no email): git log shows it.
        let file = repo.url.appendingPathComponent("raw-commit")
        try Data("tree \(tree)\nauthor nobody\ncommitter C <c@x> 1700000000 +0000\n\nbroken\n".utf8).write(to: file)
        let broken = try repo.git(["hash-object", "-t", "commit", "-w", "--literally", file.path]).trimmingCharacters(in: .whitespacesAndNewlines)
        try FileManager.default.removeItem(at: file)
        try repo.git(["update-ref", "refs/heads/broken", broken])
        let scan = try KeysealBinary.run(["scan", "--no-store", "--quiet"], in: repo.url)
        XCTAssertEqual(scan.status, 2, scan.stdout + scan.stderr)
        XCTAssertTrue(scan.stderr.contains("refs/heads/broken"), scan.stderr)
    }
}
