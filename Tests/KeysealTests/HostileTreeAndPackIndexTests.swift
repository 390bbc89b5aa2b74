import CZlib
import Crypto
import Foundation
import XCTest

@testable import KeysealGit

/// Repositories built to break the git layer: a tree nested 60,000 levels deep (a recursive walk
/// overflows the stack; libgit2's diff needs memory in the square of the depth) and a stray pack
/// index whose fan-out points outside the file.
final class HostileTreeAndPackIndexTests: XCTestCase {
    /// Writes objects into one pack (git's format: a header per object, zlib-deflated bodies, a SHA-1
    /// trailer) that `git index-pack` then indexes: 60,000 objects in one file and one process.
    final class PackWriter {
        private var body: [UInt8] = []
        private var count = 0
        static let digits = Array("0123456789abcdef".utf8)

        static func hex(_ bytes: [UInt8]) -> String {
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count * 2)
            for byte in bytes { out.append(digits[Int(byte >> 4)]); out.append(digits[Int(byte & 15)]) }
            return String(decoding: out, as: UTF8.self)
        }

        /// Adds an object; returns its raw id.
        func add(_ kind: String, _ content: [UInt8]) throws -> [UInt8] {
            let type: UInt8 = kind == "commit" ? 1 : kind == "tree" ? 2 : 3
            var size = content.count
            var header: UInt8 = type << 4 | UInt8(size & 0x0f)
            size >>= 4
            while size > 0 {
                body.append(header | 0x80)
                header = UInt8(size & 0x7f)
                size >>= 7
            }
            body.append(header)
            var length = compressBound(uLong(content.count))
            var deflated = [UInt8](repeating: 0, count: Int(length))
            guard compress2(&deflated, &length, content, uLong(content.count), 1) == Z_OK else { throw TestFailure("compress2 failed") }
            body += deflated.prefix(Int(length))
            count += 1
            return Array(Insecure.SHA1.hash(data: Array("\(kind) \(content.count)\0".utf8) + content))
        }

        func tree(_ entries: [(mode: String, name: String, id: [UInt8])]) throws -> [UInt8] {
            try add("tree", entries.flatMap { Array("\($0.mode) \($0.name)\0".utf8) + $0.id })
        }

        /// Writes the pack into `repository` and indexes it.
        func finish(into repository: TestRepository) throws {
            var pack: [UInt8] = Array("PACK".utf8) + [0, 0, 0, 2]
            pack += withUnsafeBytes(of: UInt32(count).bigEndian) { Array($0) }
            pack += body
            let trailer = Array(Insecure.SHA1.hash(data: pack))
            pack += trailer
            let folder = repository.url.appendingPathComponent(".git/objects/pack")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let file = folder.appendingPathComponent("pack-\(Self.hex(trailer)).pack")
            try Data(pack).write(to: file)
            try repository.git(["index-pack", file.path])
        }
    }

    static let depth = 60_000

    /// A commit whose tree holds `leak.env` (with a token) under `depth` nested folders named `a`;
    /// `below` is the tree the root's `a` names.
    func deepRepository() throws -> (repo: TestRepository, deep: String, below: [UInt8]) {
        let repo = try TestRepository()
        try repo.write("README", "hello\n")
        try repo.commit("base")
        let objects = PackWriter()
        let token = FakeSecret.github("deep-tree")
        let blob = try objects.add("blob", Array("TOKEN=\(token)\n".utf8))
        var below = try objects.tree([("100644", "leak.env", blob)])
        for _ in 1..<Self.depth { below = try objects.tree([("40000", "a", below)]) }
        let root = try objects.tree([("40000", "a", below)])
        try objects.finish(into: repo)
        let deep = try commitTree(repo, root, parent: nil, message: "deep")
        try repo.git(["update-ref", "refs/heads/deep", deep])
        return (repo, deep, below)
    }

    func commitTree(_ repo: TestRepository, _ tree: [UInt8], parent: String?, message: String) throws -> String {
        let date = "@1700000000 +0000"
        return try repo.git(["commit-tree", PackWriter.hex(tree)] + (parent.map { ["-p", $0] } ?? []) + ["-m", message],
                            environment: ["GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date])
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func prePush(_ repo: TestRepository, ref: String, local: String, remote: String) throws -> TestRepository.Output {
        try KeysealBinary.run(["pre-push", "origin", "https://example.test/r.git"], in: repo.url,
                              stdin: Data("refs/heads/\(ref) \(local) refs/heads/\(ref) \(remote)\n".utf8))
    }

    func testTreeSixtyThousandLevelsDeepIsScannedAndHooksDoNotCrash() throws {
        let (repo, deep, below) = try deepRepository()
        let expectedPath = String(repeating: "a/", count: Self.depth) + "leak.env"

        // The scan walks it (no stack overflow) and finds the token at the bottom.
        let scan = try KeysealBinary.run(["scan", "--no-store", "--quiet", "--format", "json"], in: repo.url)
        XCTAssertEqual(scan.status, 1, scan.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(scan.stdout.utf8)) as? [String: Any], scan.stderr)
        let findings = json["findings"] as? [[String: Any]] ?? []
        XCTAssertEqual(findings.map { $0["rule"] as? String }, ["github-pat"])
        XCTAssertEqual(findings.first?["path"] as? String, expectedPath)

        // A push of it: compared without libgit2's diff, the token is found.
        let zeros = String(repeating: "0", count: 40)
        let push = try prePush(repo, ref: "deep", local: deep, remote: zeros)
        XCTAssertEqual(push.status, 1, push.stderr)
        XCTAssertTrue((push.stdout + push.stderr).contains("github-pat"), push.stderr)

        // A later commit that only adds a file beside it: the deep subtree is unchanged, nothing is new
        // (libgit2's diff would expand both deep trees: 35 s and 7 GB).
        let objects = PackWriter()
        let note = try objects.add("blob", Array("nothing\n".utf8))
        let childTree = try objects.tree([("40000", "a", below), ("100644", "z.txt", note)])
        try objects.finish(into: repo)
        let child = try commitTree(repo, childTree, parent: deep, message: "child")
        try repo.git(["update-ref", "refs/heads/child", child])
        let later = try prePush(repo, ref: "child", local: child, remote: deep)
        XCTAssertEqual(later.status, 0, later.stderr)

        // With HEAD on it: the scan (which also audits HEAD's files) still works; `staged` refuses
        // with a clear error instead of handing libgit2 a tree it cannot diff.
        try repo.git(["symbolic-ref", "HEAD", "refs/heads/deep"])
        let headScan = try KeysealBinary.run(["scan", "--no-store", "--quiet"], in: repo.url)
        XCTAssertEqual(headScan.status, 1, headScan.stderr)
        let staged = try KeysealBinary.run(["staged"], in: repo.url)
        XCTAssertEqual(staged.status, 2, staged.stderr)
        XCTAssertTrue(staged.stderr.contains("nests more than"), staged.stderr)
        XCTAssertEqual(staged.stderr.split(separator: "\n").count, 1, "one clear line: " + staged.stderr)
    }

    /// A tree bomb: each of 40 levels names the level below twice, so the tree expands to 2^40 paths
    /// (a walk that expands every path never ends). The scan, the audit of HEAD and the pre-push hook
    /// finish and find the token; `staged` refuses with one clear line.
    func testTreeBombIsScannedInBoundedWork() throws {
        let repo = try TestRepository()
        try repo.write("README", "hello\n")
        try repo.commit("base")
        let objects = PackWriter()
        let token = FakeSecret.github("tree-bomb")
        let blob = try objects.add("blob", Array("TOKEN=\(token)\n".utf8))
        var level = try objects.tree([("100644", "leak.env", blob)])
        for _ in 0..<40 { level = try objects.tree([("40000", "x", level), ("40000", "y", level)]) }
        try objects.finish(into: repo)
        let bomb = try commitTree(repo, level, parent: nil, message: "bomb")
        try repo.git(["update-ref", "refs/heads/bomb", bomb])
        try repo.git(["symbolic-ref", "HEAD", "refs/heads/bomb"])

        let scan = try KeysealBinary.run(["scan", "--no-store", "--quiet", "--format", "json"], in: repo.url)
        XCTAssertEqual(scan.status, 1, scan.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(scan.stdout.utf8)) as? [String: Any], scan.stderr)
        let findings = json["findings"] as? [[String: Any]] ?? []
        XCTAssertFalse(findings.isEmpty)
        XCTAssertTrue(findings.allSatisfy { $0["rule"] as? String == "github-pat" })
        XCTAssertLessThanOrEqual(findings.count, 1 << 16, "paths are bounded, not 2^40")
        let notes = (json["summary"] as? [String: Any])?["notes"] as? [String] ?? []
        XCTAssertTrue(notes.contains { $0.contains("tree bomb") }, "\(notes)")

        let zeros = String(repeating: "0", count: 40)
        let push = try prePush(repo, ref: "bomb", local: bomb, remote: zeros)
        XCTAssertEqual(push.status, 1, push.stderr)
        XCTAssertTrue((push.stdout + push.stderr).contains("github-pat"), push.stderr)

        let staged = try KeysealBinary.run(["staged"], in: repo.url)
        XCTAssertEqual(staged.status, 2, staged.stderr)
        XCTAssertTrue(staged.stderr.contains("entries"), staged.stderr)
    }

    // MARK: - Pack indexes

    /// A version-2 index for one object whose fan-out climbs to 2 billion before falling to 1: every
    /// bucket but the last points far past the end of the 1,100-byte file.
    func craftedIndex() -> Data {
        var bytes: [UInt8] = [0xff, 0x74, 0x4f, 0x63, 0, 0, 0, 2]
        func u32(_ value: UInt32) { bytes += withUnsafeBytes(of: value.bigEndian) { Array($0) } }
        for slot in 0..<255 { u32(UInt32(slot + 1) * 0x0080_0000) }
        u32(1)
        bytes += [UInt8](repeating: 0x11, count: 20) + [0, 0, 0, 0] + [0, 0, 0, 12] + [UInt8](repeating: 0, count: 40)
        return Data(bytes)
    }

    func testStrayPackIndexWithAbsurdFanOutIsIgnored() throws {
        let repo = try TestRepository()
        let token = FakeSecret.github("stray-idx")
        try repo.write("app.env", "TOKEN=\(token)\n")
        try repo.commit("leak")
        let packs = repo.url.appendingPathComponent(".git/objects/pack")
        try FileManager.default.createDirectory(at: packs, withIntermediateDirectories: true)
        try craftedIndex().write(to: packs.appendingPathComponent("pack-\(String(repeating: "ab", count: 20)).idx"))

        XCTAssertEqual(try repo.git(["log", "--oneline"]).split(separator: "\n").count, 1, "git ignores the stray index")
        let scan = try KeysealBinary.run(["scan", "--no-store", "--quiet", "--format", "json"], in: repo.url)
        XCTAssertEqual(scan.status, 1, scan.stderr)
        XCTAssertTrue(scan.stdout.contains("github-pat"), scan.stdout)

        // Packed objects beside it: the real index is used, the stray one still ignored.
        try repo.git(["gc", "-q"])
        let packed = try KeysealBinary.run(["scan", "--no-store", "--quiet", "--format", "json"], in: repo.url)
        XCTAssertEqual(packed.status, 1, packed.stderr)
        XCTAssertTrue(packed.stdout.contains("github-pat"), packed.stdout)
    }

    func testPackIndexValidation() throws {
        func valid(_ data: Data) -> Bool { data.withUnsafeBytes(PackOrder.isValid) }
        XCTAssertFalse(valid(craftedIndex()), "fan-out that decreases")

        // A real index from git is accepted.
        let repo = try TestRepository()
        for i in 0..<5 {
            try repo.write("f\(i).txt", "content \(i)\n")
            try repo.commit("c\(i)")
        }
        try repo.git(["gc", "-q"])
        let packs = repo.url.appendingPathComponent(".git/objects/pack")
        let name = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: packs.path).first { $0.hasSuffix(".idx") })
        let real = try Data(contentsOf: packs.appendingPathComponent(name))
        XCTAssertTrue(valid(real))

        // Damage: a count larger than the file holds, a truncated file, a wrong version, trailing junk.
        var bigCount = real
        let last = 8 + 255 * 4
        bigCount.replaceSubrange(last..<last + 4, with: [0x00, 0x10, 0x00, 0x00])
        XCTAssertFalse(valid(bigCount), "the last fan-out value claims a million objects")
        XCTAssertFalse(valid(real.prefix(real.count - 41)))
        XCTAssertFalse(valid(real.prefix(1000)))
        var version3 = real
        version3[7] = 3
        XCTAssertFalse(valid(version3))
        let count = real.count
        let objects = Int(real[last]) << 24 | Int(real[last + 1]) << 16 | Int(real[last + 2]) << 8 | Int(real[last + 3])
        XCTAssertFalse(valid(real + Data(count: objects * 8 + 8)), "more large offsets than objects")
        XCTAssertFalse(valid(real + Data(count: objects * 8)), "as many large offsets as objects (libgit2 allows one fewer)")
        XCTAssertEqual(count, 8 + 1024 + objects * 28 + 40)
        // Names out of order, or outside their fan-out bucket: a binary search would miss what
        // libgit2 finds.
        var swapped = real
        let names = 8 + 1024
        let first = swapped.subdata(in: names..<names + 20), second = swapped.subdata(in: names + 20..<names + 40)
        swapped.replaceSubrange(names..<names + 20, with: second)
        swapped.replaceSubrange(names + 20..<names + 40, with: first)
        XCTAssertFalse(valid(swapped), "names not sorted")
        var misplaced = real
        misplaced[names] = misplaced[names] == 0xff ? 0xfe : misplaced[names] + 1  // the fan-out counts it in the bucket below
        XCTAssertFalse(valid(misplaced), "a name outside its fan-out bucket")
    }
}
