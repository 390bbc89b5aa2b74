import Foundation
import KeysealCore
import XCTest

/// Full-history scans of real repositories built by the test.
final class HistoryScanTests: XCTestCase {
    func scan(_ repo: TestRepository, since: String? = nil, maxBlobSize: Int = 25 << 20) throws -> ScanResult {
        try HistoryScan.scan(ScanOptions(path: repo.path, sinceCommit: since, threads: 2, maxBlobSize: maxBlobSize))
    }

    func testDeletedSecretIsFoundAndAttributedToTheCommitThatAddedIt() throws {
        let repo = try TestRepository()
        try repo.write("README.md", "hello\n")
        try repo.commit("start")
        let token = FakeSecret.github()
        try repo.write("config/app.env", "NAME=demo\nGITHUB_TOKEN=\(token)\n")
        let leak = try repo.commit("add config", author: "Leaky Dev")
        try repo.git(["rm", "-q", "config/app.env"])
        try repo.commit("remove config")

        let result = try scan(repo)
        XCTAssertEqual(result.findings.count, 1)
        let finding = try XCTUnwrap(result.findings.first)
        XCTAssertEqual(finding.rule, "github-pat")
        XCTAssertEqual(finding.commit, leak)
        XCTAssertEqual(finding.author, "Leaky Dev")
        XCTAssertEqual(finding.path, "config/app.env")
        XCTAssertEqual(finding.line, 2)
        XCTAssertEqual(finding.column, 14)
        XCTAssertEqual(finding.preview, "ghp_…")
        XCTAssertNil(finding.secret)
        XCTAssertEqual(result.summary.commits, 3)
        XCTAssertEqual(result.summary.secrets, 1)
    }

    func testSameSecretInManyPlacesIsOneSecretAndEachBlobIsScannedOnce() throws {
        let repo = try TestRepository()
        let token = FakeSecret.stripe()
        try repo.write("a.txt", "key=\(token)\n")
        try repo.commit("one")
        try repo.write("copy/b.txt", "key=\(token)\n")  // the same blob at a second path
        try repo.write("c.txt", "STRIPE=\(token)\n")  // another blob, same secret
        try repo.commit("two")
        try repo.git(["checkout", "-q", "-b", "side"])
        try repo.write("a.txt", "key=\(token)\n")  // unchanged content on another branch: nothing new
        try repo.commit("three")

        let result = try scan(repo)
        XCTAssertEqual(Set(result.findings.map(\.fingerprint)).count, 1)
        XCTAssertEqual(Set(result.findings.map(\.path)), ["a.txt", "copy/b.txt", "c.txt"])
        XCTAssertEqual(result.summary.blobsScanned, 2, "two distinct blobs hold the secret")
    }

    func testEarliestCommitWinsAcrossBranches() throws {
        let repo = try TestRepository()
        try repo.write("base.txt", "x\n")
        try repo.commit("base")
        try repo.git(["checkout", "-q", "-b", "feature"])
        let token = FakeSecret.github("branch")
        try repo.write("f.env", "T=\(token)\n")
        let first = try repo.commit("feature adds it")
        try repo.git(["checkout", "-q", "main"])
        try repo.write("f.env", "T=\(token)\n")
        try repo.commit("main adds the same file later")
        let result = try scan(repo)
        XCTAssertEqual(result.findings.map(\.commit), [first])
    }

    func testConflictResolutionInAMergeIsAttributedToTheMerge() throws {
        let repo = try TestRepository()
        try repo.write("settings.py", "MODE = 'a'\n")
        try repo.commit("base")
        try repo.git(["checkout", "-q", "-b", "other"])
        try repo.write("settings.py", "MODE = 'b'\n")
        try repo.commit("other side")
        try repo.git(["checkout", "-q", "main"])
        try repo.write("settings.py", "MODE = 'c'\n")
        try repo.commit("main side")
        let conflicted = try TestRepository.capture("/usr/bin/env", ["git", "merge", "-q", "other"], in: repo.url)
        XCTAssertNotEqual(conflicted.status, 0, "the merge must stop on the conflict")
        let token = FakeSecret.github("merge")
        try repo.write("settings.py", "MODE = 'b'\nTOKEN = '\(token)'\n")
        let merge = try repo.commit("merge other")
        let parents = try repo.git(["rev-list", "--parents", "-n", "1", merge]).split(separator: " ")
        XCTAssertEqual(parents.count, 3, "the resolution is committed as a merge with two parents")
        let result = try scan(repo)
        XCTAssertEqual(result.findings.count, 1)
        XCTAssertEqual(result.findings.first?.commit, merge)
        XCTAssertEqual(result.findings.first?.line, 2)
    }

    func testCleanMergeAddsNoOccurrence() throws {
        let repo = try TestRepository()
        try repo.write("a.txt", "a\n")
        try repo.commit("base")
        try repo.git(["checkout", "-q", "-b", "side"])
        try repo.write("side.env", "T=\(FakeSecret.github("side"))\n")
        let added = try repo.commit("side adds")
        try repo.git(["checkout", "-q", "main"])
        try repo.write("b.txt", "b\n")
        try repo.commit("main moves")
        try repo.git(["merge", "-q", "--no-edit", "side"])
        let parents = try repo.git(["rev-list", "--parents", "-n", "1", "HEAD"]).split(separator: " ")
        XCTAssertEqual(parents.count, 3, "a real merge commit, not a fast-forward")
        let result = try scan(repo)
        XCTAssertEqual(result.findings.map(\.commit), [added])
    }

    func testRenamedFileStillReportsItsNewPath() throws {
        let repo = try TestRepository()
        try repo.write("old/name.env", "TOKEN=\(FakeSecret.github("rename"))\n")
        try repo.commit("add")
        try FileManager.default.createDirectory(at: repo.url.appendingPathComponent("new"), withIntermediateDirectories: true)
        try repo.git(["mv", "old/name.env", "new/name.env"])
        try repo.commit("rename")
        let result = try scan(repo)
        XCTAssertEqual(Set(result.findings.map(\.path)), ["old/name.env", "new/name.env"])
        XCTAssertEqual(result.summary.blobsScanned, 1)
    }

    func testSymlinkTargetsAreScannedAndGitlinksCounted() throws {
        let repo = try TestRepository()
        let target = "https://deploy:\(FakeSecret.password("link"))@git.internal.test/repo.git"
        try FileManager.default.createSymbolicLink(atPath: repo.url.appendingPathComponent("mirror").path,
                                                   withDestinationPath: target)
        try repo.git(["add", "mirror"])
        try repo.git(["update-index", "--add", "--cacheinfo", "160000,\(String(repeating: "ab", count: 20)),vendor/lib"])
        try repo.commit("symlink and submodule")
        let result = try scan(repo)
        XCTAssertEqual(result.findings.map(\.rule), ["basic-auth-url"])
        XCTAssertEqual(result.findings.first?.path, "mirror")
        XCTAssertEqual(result.summary.gitlinksSkipped, 1)
    }

    /// A binary blob (NULs around it) holding `TOKEN=<token>` in a printable run.
    static func binaryHolding(_ token: String) -> Data {
        Data([0, 1, 2, 0, 7] + Array("TOKEN=\(token)".utf8) + [0, 1, 2, 0])
    }

    func testBinaryBlobsAreScannedByPrintableRunsAndLargeBlobsSkipped() throws {
        let repo = try TestRepository()
        let token = FakeSecret.github("bin")
        try repo.write("blob.bin", Self.binaryHolding(token))
        try repo.write("big.txt", String(repeating: "x", count: 3000) + "\nT=\(FakeSecret.github("big"))\n")
        try repo.commit("add")
        let result = try scan(repo, maxBlobSize: 2048)
        XCTAssertEqual(result.findings.map(\.path), ["blob.bin"])
        XCTAssertEqual(result.findings.first?.byteOffset, 11, "5 bytes of header, then TOKEN=")
        XCTAssertEqual(result.findings.first?.byteLength, token.utf8.count, "the secret's own length in the file")
        XCTAssertEqual(result.findings.first?.line, 0)
        XCTAssertEqual(result.summary.blobsBinary, 1)
        XCTAssertEqual(result.summary.blobsSkippedLarge, 1)
        XCTAssertEqual(result.summary.blobsScanned, 1)
    }

    func testSinceCommitScansOnlyNewerCommits() throws {
        let repo = try TestRepository()
        try repo.write("old.env", "T=\(FakeSecret.github("old"))\n")
        try repo.commit("old leak")
        try repo.git(["tag", "v1.2"])
        try repo.write("new.env", "T=\(FakeSecret.github("new"))\n")
        let newer = try repo.commit("new leak")
        let result = try scan(repo, since: "v1.2")
        XCTAssertEqual(result.findings.map(\.commit), [newer])
        XCTAssertEqual(result.summary.commits, 1)
        XCTAssertThrowsError(try scan(repo, since: "no-such-tag")) { error in
            XCTAssertTrue("\(error)".contains("no-such-tag"), "\(error)")
        }
    }

    func testNonUTF8PathsAndContentsAndCRLF() throws {
        let repo = try TestRepository()
        let token = FakeSecret.github("latin1")
        var content = Data([0x63, 0x61, 0x66, 0xe9, 0x0d, 0x0a])  // "café" in Latin-1, CRLF
        content.append(Data("TOKEN=\(token)\r\n".utf8))
        let name = String(decoding: [0x72, 0xe9, 0x73, 0x75, 0x6d, 0xe9], as: UTF8.self)  // invalid UTF-8 → U+FFFD
        let rawName = URL(fileURLWithPath: repo.path).appendingPathComponent("data")
        try FileManager.default.createDirectory(at: rawName, withIntermediateDirectories: true)
        // Create a file whose name bytes are Latin-1, through the C API (Foundation would re-encode it).
        let path = Array(rawName.path.utf8) + [0x2f, 0x72, 0xe9, 0x73, 0x75, 0x6d, 0xe9, 0]
        let fd = path.withUnsafeBufferPointer { $0.baseAddress!.withMemoryRebound(to: CChar.self, capacity: path.count) { open($0, O_CREAT | O_WRONLY, 0o644) } }
        XCTAssertGreaterThanOrEqual(fd, 0)
        content.withUnsafeBytes { _ = Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        try repo.git(["add", "data"])
        try repo.commit("latin-1")
        let result = try scan(repo)
        XCTAssertEqual(result.findings.count, 1)
        let finding = try XCTUnwrap(result.findings.first)
        XCTAssertEqual(finding.line, 2)
        XCTAssertEqual(finding.column, 7)
        XCTAssertEqual(finding.path, "data/" + name)
        let json = try ReportWriter.render(result, format: .json)
        XCTAssertNoThrow(try JSONSerialization.jsonObject(with: json))
    }

    func testFiftyMegabyteFileIsSkippedByDefaultAndScannedWhenAllowed() throws {
        let repo = try TestRepository()
        var big = Data(count: 50 << 20)
        big.withUnsafeMutableBytes { raw in
            for i in stride(from: 0, to: raw.count, by: 64) { raw[i] = 0x0a }
            for i in 0..<raw.count where raw[i] == 0 { raw[i] = 0x61 }
        }
        big.append(Data("TOKEN=\(FakeSecret.github("huge"))\n".utf8))
        try repo.write("huge.log", big)
        try repo.commit("huge")
        let skipped = try scan(repo)
        XCTAssertEqual(skipped.summary.blobsSkippedLarge, 1)
        XCTAssertTrue(skipped.findings.isEmpty)
        let scanned = try scan(repo, maxBlobSize: 64 << 20)
        XCTAssertEqual(scanned.findings.count, 1)
        XCTAssertEqual(scanned.findings.first?.line, (50 << 20) / 64 + 1)
    }

    /// SARIF's byte region for a binary finding gives the secret's length (it said 1 whatever the
    /// length), from the scan and from the store's record of it on the next (incremental) scan.
    func testSARIFByteRegionHasTheSecretsLength() throws {
        let repo = try TestRepository()
        let token = FakeSecret.github("sarif")
        try repo.write("blob.bin", Self.binaryHolding(token))
        try repo.commit("add")
        for round in ["first scan", "from the store"] {
            let out = try KeysealBinary.run(["scan", "--format", "sarif", "--quiet", "--no-audit"], in: repo.url)
            XCTAssertEqual(out.status, 1, out.stderr)
            let sarif = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
            let results = try XCTUnwrap((sarif["runs"] as? [[String: Any]])?.first?["results"] as? [[String: Any]])
            let location = try XCTUnwrap((results.first?["locations"] as? [[String: Any]])?.first?["physicalLocation"] as? [String: Any])
            let region = try XCTUnwrap(location["region"] as? [String: Any])
            XCTAssertEqual(region["byteOffset"] as? Int, 11, round)
            XCTAssertEqual(region["byteLength"] as? Int, token.utf8.count, round)
        }
    }
}
