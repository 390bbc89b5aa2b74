import Foundation
import XCTest

@testable import KeysealGit

/// The history walk compares trees as git stores them (entry bytes against entry bytes). These tests
/// hold it to git's own account of two trees, and to libgit2's rules for what a tree entry may be.
final class TreeDifferTests: XCTestCase {
    /// A small deterministic generator, so a failure can be replayed.
    struct Generator {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
    }

    /// (path, blob) pairs `git ls-tree -r` lists for `commit`: files and symlinks, not gitlinks.
    func listed(_ repo: TestRepository, _ commit: String) throws -> Set<String> {
        let out = try repo.git(["ls-tree", "-r", "-z", commit])
        var pairs = Set<String>()
        for record in out.split(separator: "\0") {
            // "<mode> <type> <id>\t<path>"
            guard let tab = record.firstIndex(of: "\t") else { continue }
            let fields = record[..<tab].split(separator: " ")
            guard fields.count == 3, fields[1] == "blob" else { continue }
            pairs.insert("\(record[record.index(after: tab)...])\t\(fields[2])")
        }
        return pairs
    }

    /// Random histories (names that sort around '/', '.', '-', files replaced by folders and back,
    /// executable bits, symlinks, deletions): for every commit, what the differ reports is exactly
    /// what the commit's tree lists and its parent's does not.
    func testDiffAgreesWithGitOnRandomHistories() throws {
        let names = ["a", "a.b", "a-b", "a0", "ab", "b", "a b", "z"]
        for seed in 1...3 {
            var random = Generator(state: UInt64(seed))
            let repo = try TestRepository()
            var commits: [String] = []
            for step in 0..<24 {
                for _ in 0...random.next(4) {
                    var parts: [String] = []
                    for _ in 0...random.next(3) { parts.append(names[random.next(names.count)]) }
                    let relative = parts.joined(separator: "/")
                    let url = repo.url.appendingPathComponent(relative)
                    switch random.next(6) {
                    case 0:  // delete whatever is there, file or folder
                        try? FileManager.default.removeItem(at: url)
                    case 1:  // a symlink
                        try? FileManager.default.removeItem(at: url)
                        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                        try? FileManager.default.createSymbolicLink(atPath: url.path, withDestinationPath: "target-\(step)")
                    case 2:  // flip the executable bit of a file
                        if let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
                           attributes[.type] as? FileAttributeType == .typeRegular {
                            let mode = (attributes[.posixPermissions] as? Int ?? 0o644) ^ 0o111
                            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
                        }
                    default:  // write a file, replacing a folder or a link in its way
                        var blocked = url.deletingLastPathComponent()
                        while blocked.path.count > repo.url.path.count {
                            // lstat: a symlink in the way is removed, not followed.
                            if let type = (try? FileManager.default.attributesOfItem(atPath: blocked.path))?[.type] as? FileAttributeType,
                               type != .typeDirectory {
                                try FileManager.default.removeItem(at: blocked)
                            }
                            blocked.deleteLastPathComponent()
                        }
                        try? FileManager.default.removeItem(at: url)
                        try repo.write(relative, "step \(step) seed \(seed) \(random.next(3))\n")
                    }
                }
                try repo.write("always", "\(step)\n")
                commits.append(try repo.commit("step \(step)"))
            }

            let repository = try Repository(discovering: repo.path)
            let differ = TreeDiffer(repo: repository)
            var previous: Set<String> = []
            var parentTree: ObjectID?
            for commit in commits {
                // Safe: git printed this id.
                let tree = try repository.commit(ObjectID(hex: commit)!).tree
                let now = try listed(repo, commit)
                var reported = Set<String>()
                try differ.diff(old: parentTree, new: tree) { blob, path in
                    reported.insert("\(String(decoding: path, as: UTF8.self))\t\(blob.hex)")
                }
                XCTAssertEqual(reported, now.subtracting(previous), "seed \(seed), commit \(commit)")
                previous = now
                parentTree = tree
            }
        }
    }

    typealias PackWriter = HostileTreeAndPackIndexTests.PackWriter

    /// A repository whose one commit's root tree is `entries`, with `blob` the id files may name.
    func repository(root: (_ objects: PackWriter, _ blob: [UInt8]) throws -> [UInt8]) throws -> (TestRepository, String) {
        let repo = try TestRepository()
        try repo.write("README", "hello\n")
        try repo.commit("base")
        let objects = PackWriter()
        let blob = try objects.add("blob", Array("TOKEN=\(FakeSecret.github("raw-tree"))\n".utf8))
        let tree = try root(objects, blob)
        try objects.finish(into: repo)
        let date = "@1700000000 +0000"
        let commit = try repo.git(["commit-tree", PackWriter.hex(tree), "-m", "crafted"],
                                  environment: ["GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try repo.git(["update-ref", "refs/heads/crafted", commit])
        return (repo, commit)
    }

    /// Modes git never writes are read as libgit2 reads them: a tree's type bits make a folder, an
    /// execute bit an executable, anything else a file. Each such file is scanned.
    func testUnusualModesAreReadAsLibgit2ReadsThem() throws {
        let (repo, _) = try repository { objects, blob in
            let inner = try objects.tree([("100644", "deep.env", blob)])
            return try objects.tree([("644", "old-style.env", blob), ("100664", "group.env", blob),
                                     ("40755", "folder", inner), ("100700", "tool.sh", blob)])
        }
        let scan = try KeysealBinary.run(["scan", "--no-store", "--quiet", "--format", "json"], in: repo.url)
        XCTAssertEqual(scan.status, 1, scan.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(scan.stdout.utf8)) as? [String: Any], scan.stderr)
        let paths = Set((json["findings"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String })
        XCTAssertEqual(paths, ["old-style.env", "group.env", "folder/deep.env", "tool.sh"])
    }

    /// A submodule link and a file may name the same id in crafted trees: a file that replaces a link
    /// of its id is new (its blob was never scanned as a link), and a mode with the commit type and
    /// group or other execute bits is a link, as libgit2 reads it (only the owner's bit makes an executable).
    func testLinksAndFilesOfOneIdAreTold() throws {
        let repo = try TestRepository()
        try repo.write("README", "hello\n")
        try repo.commit("base")
        let objects = PackWriter()
        let blob = try objects.add("blob", Array("TOKEN=\(FakeSecret.github("link-then-file"))\n".utf8))
        let linkTree = try objects.tree([("160000", "secret.env", blob), ("160001", "odd-link", blob)])
        let fileTree = try objects.tree([("100644", "secret.env", blob), ("160001", "odd-link", blob)])
        try objects.finish(into: repo)
        let date = "@1700000000 +0000"
        func commitTree(_ tree: [UInt8], parent: String?) throws -> String {
            try repo.git(["commit-tree", PackWriter.hex(tree)] + (parent.map { ["-p", $0] } ?? []) + ["-m", "x"],
                         environment: ["GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let link = try commitTree(linkTree, parent: nil)
        let file = try commitTree(fileTree, parent: link)
        try repo.git(["update-ref", "refs/heads/crafted", file])
        let scan = try KeysealBinary.run(["scan", "--no-store", "--quiet", "--format", "json"], in: repo.url)
        XCTAssertEqual(scan.status, 1, scan.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(scan.stdout.utf8)) as? [String: Any], scan.stderr)
        let findings = json["findings"] as? [[String: Any]] ?? []
        XCTAssertEqual(Set(findings.compactMap { $0["path"] as? String }), ["secret.env"])
        XCTAssertEqual(Set(findings.compactMap { $0["commit"] as? String }), [file])
        let summary = json["summary"] as? [String: Any] ?? [:]
        XCTAssertEqual(summary["blobs_missing"] as? Int, 0, "160001 is a link, not a file to read")
    }

    /// A tree that does not parse stops the scan with an error naming the tree (exit 2), never a
    /// clean result.
    func testMalformedTreesStopTheScan() throws {
        let id = [UInt8](repeating: 0x11, count: 20)
        let shapes: [(String, [UInt8])] = [
            ("mode not octal", Array("100694 a\0".utf8) + id),
            ("no mode", Array(" a\0".utf8) + id),
            ("mode too large", Array("1777777 a\0".utf8) + id),
            ("no space", Array("100644".utf8)),
            ("empty name", Array("100644 \0".utf8) + id),
            ("no NUL", Array("100644 abc".utf8)),
            ("id cut short", Array("100644 a\0".utf8) + id.prefix(19)),
        ]
        for (shape, bytes) in shapes {
            let (repo, _) = try repository { objects, blob in
                let bad = try objects.add("tree", bytes)
                return try objects.tree([("100644", "leak.env", blob), ("40000", "sub", bad)])
            }
            let scan = try KeysealBinary.run(["scan", "--no-store", "--quiet"], in: repo.url)
            XCTAssertEqual(scan.status, 2, "\(shape): \(scan.stderr)")
            XCTAssertTrue(scan.stderr.contains("failed to parse tree"), "\(shape): \(scan.stderr)")
        }
    }

    /// git's order: a file sorts before a folder of the same name ("a" < "a.b" < "a/" < "a0"), and the
    /// differ pairs entries by that order, so a file replaced by a folder (and back) is new.
    func testOrderAroundSlash() {
        func order(_ a: String, _ aTree: Bool, _ b: String, _ bTree: Bool) -> Int {
            Array(a.utf8).withUnsafeBytes { x in Array(b.utf8).withUnsafeBytes { y in TreeDiffer.compare(x, aTree, y, bTree) } }
        }
        XCTAssertEqual(order("a", false, "a", true), -1)
        XCTAssertEqual(order("a", true, "a", false), 1)
        XCTAssertEqual(order("a", true, "a", true), 0)
        XCTAssertEqual(order("a.b", false, "a", true), -1)  // '.' < '/'
        XCTAssertEqual(order("a0", false, "a", true), 1)  // '0' > '/'
        XCTAssertEqual(order("a", false, "ab", false), -1)
        XCTAssertEqual(order("ab", true, "a", false), 1)
        XCTAssertEqual(order("a/", false, "a", true), 1)  // a name holding '/' (never written by git)
    }
}
