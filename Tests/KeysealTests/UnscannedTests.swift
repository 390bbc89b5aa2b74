import Foundation
import XCTest

/// What keyseal could not scan in full is never passed as clean: `scan` counts it (and
/// `--fail-on-unscanned` fails on it), the hooks refuse it unless its path is allowlisted. Through
/// the real binary, in real repositories.
final class UnscannedTests: XCTestCase {
    var env: [String: String] { ["KEYSEAL": KeysealBinary.path] }
    var keep: [TestRepository] = []

    /// A custom rule whose regex backtracks without end on letters not followed by a digit.
    static let nestedRule = """
        [[rules]]
        id = "nested-token"
        provider = "Acme"
        regex = 'key=((?:[a-z]+)+[0-9])'
        positives = ["key=abcdefgh7"]

        """

    /// Lines a nested-quantifier rule hits the limit on, each followed by a real match.
    static func limitLines(_ count: Int) -> String {
        var text = ""
        for i in 0..<count {
            var secret = ""
            for k in 0..<10 { secret.append(Character(Unicode.Scalar(UInt8(97 + (i * 3 + k * 7) % 26)))) }
            text += "x key=" + String(repeating: "a", count: 40) + "! then key=" + secret + "7\n"
        }
        return text
    }

    /// Zips nested `depth` deep around a clean text file: one past the archive depth bound at 4.
    static func nestedZip(_ depth: Int) -> Data {
        var inner = Data("X=1\n".utf8)
        var name = "a.env"
        for level in 1...depth {
            inner = EncodedAndContainedTests.zip([(name, inner, false)])
            name = "level\(level).zip"
        }
        return inner
    }

    static func json(_ output: TestRepository.Output) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any], output.stdout + output.stderr)
    }

    func staged(_ repo: TestRepository) throws -> TestRepository.Output {
        try KeysealBinary.run(["staged"], in: repo.url)
    }

    // MARK: - scan

    func testScanCountsWhatItDidNotScanByReason() throws {
        let repo = try TestRepository()
        try repo.write(".keyseal.toml", "max_blob_size = \"1K\"\n" + Self.nestedRule)
        try repo.write("data/big.txt", String(repeating: "x", count: 2000))
        try repo.write("dist/nested.zip", Self.nestedZip(4))
        try repo.write("src/limits.txt", Self.limitLines(3))
        try repo.write("src/ok.txt", "fine\n")
        try repo.commit("add")
        let out = try KeysealBinary.run(["scan", "--quiet", "--no-store", "--no-audit", "-f", "json"], in: repo.url)
        XCTAssertEqual(out.status, 1, "the rule's real matches are findings: \(out.stderr)")
        let summary = try XCTUnwrap(try Self.json(out)["summary"] as? [String: Any])
        XCTAssertEqual(summary["blobs_skipped_large"] as? Int, 1)
        XCTAssertEqual(summary["archives_truncated"] as? Int, 1)
        XCTAssertEqual(summary["blobs_regex_limit"] as? Int, 1)
        XCTAssertEqual(summary["regex_limit_hits"] as? [String: Int], ["nested-token": 3])
        XCTAssertEqual(summary["blobs_decoded_in_part"] as? Int, 0)
        XCTAssertEqual(summary["blobs_not_fully_scanned"] as? Int, 3)
        let listed = try XCTUnwrap(summary["not_fully_scanned"] as? [[String: Any]])
        XCTAssertEqual(listed.map { $0["path"] as? String }, ["data/big.txt", "dist/nested.zip", "src/limits.txt"])
        XCTAssertEqual(listed.map { $0["reasons"] as? [String] }, [["too-large"], ["archive-truncated"], ["regex-limit"]])
        XCTAssertEqual(listed[0]["size"] as? Int, 2000)
        XCTAssertEqual(listed[2]["rules"] as? [String], ["nested-token"])
        let findings = try XCTUnwrap(try Self.json(out)["findings"] as? [[String: Any]])
        XCTAssertEqual(findings.filter { $0["rule"] as? String == "nested-token" && $0["path"] as? String == "src/limits.txt" }.count, 3,
                       "each line's real match is found after the start that hit the limit")

        let text = try KeysealBinary.run(["scan", "--quiet", "--no-store", "--no-audit"], in: repo.url)
        XCTAssertTrue(text.stdout.contains("Not fully scanned: 3 blob(s)"), text.stdout)
        XCTAssertTrue(text.stdout.contains("data/big.txt"), text.stdout)
        XCTAssertTrue(text.stdout.contains("nested-token 3 time(s)"), text.stdout)
    }

    /// A blob history names but the object database lacks (a partial clone, a damaged repository)
    /// does not end the scan: the rest is scanned, the secret in another file found, and the missing
    /// blob counted and listed as not fully scanned (so `--fail-on-unscanned` fails on it).
    func testAMissingBlobIsListedAndTheRestIsScanned() throws {
        let repo = try TestRepository()
        try repo.write("lost.txt", "text the object database will lose\n")
        try repo.write("config.env", "GITHUB_TOKEN=\(FakeSecret.github("missing"))\n")
        try repo.commit("add")
        let lost = try repo.git(["rev-parse", "HEAD:lost.txt"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let object = repo.url.appendingPathComponent(".git/objects/\(lost.prefix(2))/\(lost.dropFirst(2))")
        try FileManager.default.removeItem(at: object)

        let out = try KeysealBinary.run(["scan", "--quiet", "--no-store", "--no-audit", "-f", "json"], in: repo.url)
        XCTAssertEqual(out.status, 1, "the token in the other file is found: \(out.stderr)")
        let summary = try XCTUnwrap(try Self.json(out)["summary"] as? [String: Any])
        XCTAssertEqual(summary["blobs_missing"] as? Int, 1)
        XCTAssertEqual(summary["blobs_not_fully_scanned"] as? Int, 1)
        let listed = try XCTUnwrap(summary["not_fully_scanned"] as? [[String: Any]])
        XCTAssertEqual(listed.map { $0["path"] as? String }, ["lost.txt"])
        XCTAssertEqual(listed.map { $0["reasons"] as? [String] }, [["missing"]])

        let text = try KeysealBinary.run(["scan", "--quiet", "--no-store", "--no-audit", "--fail-on-unscanned"], in: repo.url)
        XCTAssertEqual(text.status, 1)
        XCTAssertTrue(text.stdout.contains("1 missing from the object database"), text.stdout)
        XCTAssertTrue(text.stdout.contains("lost.txt"), text.stdout)
    }

    func testFailOnUnscannedFailsTheScanUntilThePathIsAllowed() throws {
        let repo = try TestRepository()
        try repo.write(".keyseal.toml", "max_blob_size = \"1K\"\n")
        try repo.write("assets/blob.bin", String(repeating: "y", count: 5000))
        try repo.commit("add")
        let plain = try KeysealBinary.run(["scan", "--quiet", "--no-store", "--no-audit"], in: repo.url)
        XCTAssertEqual(plain.status, 0, "without the flag, a count and no failure: \(plain.stdout)")
        XCTAssertTrue(plain.stdout.contains("Not fully scanned: 1 blob(s)"), plain.stdout)

        let failing = try KeysealBinary.run(["scan", "--quiet", "--no-store", "--no-audit", "--fail-on-unscanned"], in: repo.url)
        XCTAssertEqual(failing.status, 1, failing.stdout + failing.stderr)
        XCTAssertTrue(failing.stdout.contains("Failing: 1 blob(s) not fully scanned, and --fail-on-unscanned is set."), failing.stdout)
        XCTAssertTrue(failing.stdout.contains("assets/blob.bin"), failing.stdout)
        let json = try KeysealBinary.run(["scan", "--quiet", "--no-store", "--no-audit", "--fail-on-unscanned", "-f", "json"], in: repo.url)
        XCTAssertEqual(json.status, 1)
        // With the store, a second scan does not pass what the first could not scan.
        for run in 1...2 {
            let stored = try KeysealBinary.run(["scan", "--quiet", "--no-audit", "--fail-on-unscanned"], in: repo.url)
            XCTAssertEqual(stored.status, 1, "run \(run): \(stored.stdout)")
            XCTAssertTrue(stored.stdout.contains("assets/blob.bin"), "run \(run): \(stored.stdout)")
        }
        // A larger limit on the command line scans it.
        let raised = try KeysealBinary.run(["scan", "--quiet", "--no-store", "--no-audit", "--fail-on-unscanned",
                                            "--max-blob-size", "1M"], in: repo.url)
        XCTAssertEqual(raised.status, 0, raised.stdout)

        try Data("max_blob_size = \"1K\"\n[allowlist]\npaths = [\"assets/**\"]\n".utf8)
            .write(to: repo.url.appendingPathComponent(".keyseal.toml"))
        let allowed = try KeysealBinary.run(["scan", "--quiet", "--no-store", "--no-audit", "--fail-on-unscanned", "-f", "json"],
                                            in: repo.url)
        XCTAssertEqual(allowed.status, 0, allowed.stdout)
        let summary = try XCTUnwrap(try Self.json(allowed)["summary"] as? [String: Any])
        XCTAssertEqual(summary["blobs_skipped_large"] as? Int, 1, "still counted as skipped")
        XCTAssertEqual(summary["blobs_not_fully_scanned"] as? Int, 0, "but its path is allowed")
    }

    // MARK: - hooks

    func testStagedRefusesAFileOverTheSizeLimitUntilAllowedOrTheLimitIsRaised() throws {
        let repo = try TestRepository()
        try repo.write(".keyseal.toml", "max_blob_size = \"1K\"\n")
        try repo.write("data/dump.sql", String(repeating: "z", count: 3 * 1024 * 1024 + 10))
        let out = try staged(repo)
        XCTAssertEqual(out.status, 1, "a note is not enough: \(out.stderr)")
        XCTAssertTrue(out.stderr.contains("commit blocked: 1 file not fully scanned"), out.stderr)
        XCTAssertTrue(out.stderr.contains("data/dump.sql  not fully scanned: larger than the blob size limit"), out.stderr)
        XCTAssertTrue(out.stderr.contains("paths = [\"data/dump.sql\"]"), out.stderr)
        XCTAssertTrue(out.stderr.contains("max_blob_size = \"4M\""), out.stderr)

        try Data("max_blob_size = \"4M\"\n".utf8).write(to: repo.url.appendingPathComponent(".keyseal.toml"))
        XCTAssertEqual(try staged(repo).status, 0)
        try Data("max_blob_size = \"1K\"\n[allowlist]\npaths = [\"data/dump.sql\"]\n".utf8)
            .write(to: repo.url.appendingPathComponent(".keyseal.toml"))
        XCTAssertEqual(try staged(repo).status, 0)
    }

    func testGitCommitIsRefusedForAFileOverTheSizeLimit() throws {
        let repo = try TestRepository()
        try repo.write("README.md", "x\n")
        try repo.commit("start")
        XCTAssertEqual(try KeysealBinary.run(["hooks", "install", "--pre-commit"], in: repo.url).status, 0)
        try repo.write(".keyseal.toml", "max_blob_size = \"1K\"\n")
        try repo.write("big.txt", String(repeating: "q", count: 4096))
        let out = try TestRepository.capture("/usr/bin/env", ["git", "commit", "-q", "-m", "big"], in: repo.url, environment: env)
        XCTAssertNotEqual(out.status, 0, out.stderr)
        XCTAssertTrue(out.stderr.contains("big.txt  not fully scanned"), out.stderr)
        XCTAssertEqual(try repo.git(["rev-list", "--count", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines), "1")
    }

    func testStagedRefusesAnArchiveCutShortByTheDepthBound() throws {
        let repo = try TestRepository()
        try repo.write("vendor/deep.zip", Self.nestedZip(4))
        let out = try staged(repo)
        XCTAssertEqual(out.status, 1, out.stderr)
        XCTAssertTrue(out.stderr.contains("vendor/deep.zip  not fully scanned: an archive opened only in part"), out.stderr)
        XCTAssertFalse(out.stderr.contains("max_blob_size"), "the size limit has nothing to do with it: \(out.stderr)")
        // Three deep is within the bound.
        try repo.write("vendor/deep.zip", Self.nestedZip(3))
        XCTAssertEqual(try staged(repo).status, 0)
        try repo.write("vendor/deep.zip", Self.nestedZip(4))
        try repo.write(".keyseal.toml", "[allowlist]\npaths = [\"vendor/**\"]\n")
        XCTAssertEqual(try staged(repo).status, 0)
    }

    /// The hit-budget file: a few million `\/` lines, then a token. It used to report nothing.
    func testHitBudgetFileIsScannedToItsEnd() throws {
        let repo = try TestRepository()
        var bytes = [UInt8]()
        bytes.reserveCapacity(3 * 4_500_000 + 100)
        for _ in 0..<4_500_000 { bytes += [0x5c, 0x2f, 0x0a] }
        var data = Data(bytes)
        try repo.write("api/escaped.json", data)
        let clean = try staged(repo)
        XCTAssertEqual(clean.status, 0, "decoding partly is no gap in the clear text: \(clean.stderr)")
        XCTAssertTrue(clean.stderr.contains("api/escaped.json: encoded text (base64, percent, JSON escapes) decoded only in part"), clean.stderr)

        data.append(Data("token=\(FakeSecret.github("budget"))\n".utf8))
        try repo.write("api/escaped.json", data)
        let out = try staged(repo)
        XCTAssertEqual(out.status, 1, out.stderr)
        XCTAssertTrue(out.stderr.contains("github-pat"), out.stderr)
        XCTAssertTrue(out.stderr.contains("api/escaped.json:4500001"), out.stderr)
    }

    func testStagedRefusesAFileARuleHitTheRegexLimitIn() throws {
        let repo = try TestRepository()
        try repo.write(".keyseal.toml", Self.nestedRule)
        try repo.write("notes/limits.txt", Self.limitLines(2))
        let out = try staged(repo)
        XCTAssertEqual(out.status, 1, out.stderr)
        XCTAssertTrue(out.stderr.contains("notes/limits.txt:1"), "the real match is found: \(out.stderr)")
        XCTAssertTrue(out.stderr.contains("notes/limits.txt:2"), out.stderr)
        XCTAssertTrue(out.stderr.contains("notes/limits.txt  not fully scanned: a rule stopped at PCRE2's match limit (nested-token)"),
                      out.stderr)
        XCTAssertTrue(out.stderr.contains("keyseal config check"), out.stderr)
    }

    func testPrePushRefusesAFileNotFullyScannedUntilAllowed() throws {
        let remote = try TestRepository(bare: true)
        keep.append(remote)
        let repo = try TestRepository()
        try repo.write("README.md", "x\n")
        try repo.commit("start")
        try repo.git(["remote", "add", "origin", remote.path])
        try repo.git(["push", "-q", "origin", "main"])
        XCTAssertEqual(try KeysealBinary.run(["hooks", "install", "--pre-push"], in: repo.url).status, 0)
        try repo.write(".keyseal.toml", "max_blob_size = \"1K\"\n")
        try repo.write("media/clip.dat", String(repeating: "m", count: 8000))
        let big = try repo.commit("add a clip")
        let out = try TestRepository.capture("/usr/bin/env", ["git", "push", "-q", "origin", "main"], in: repo.url, environment: env)
        XCTAssertNotEqual(out.status, 0, out.stderr)
        XCTAssertTrue(out.stderr.contains("blocked: 1 file not fully scanned in 1 new commit(s)"), out.stderr)
        XCTAssertTrue(out.stderr.contains("media/clip.dat  not fully scanned: larger than the blob size limit"), out.stderr)
        XCTAssertTrue(out.stderr.contains("commit \(big.prefix(10))"), out.stderr)
        XCTAssertTrue(out.stderr.contains("paths = [\"media/clip.dat\"]"), out.stderr)

        try Data("max_blob_size = \"1K\"\n[allowlist]\npaths = [\"media/**\"]\n".utf8)
            .write(to: repo.url.appendingPathComponent(".keyseal.toml"))
        let allowed = try TestRepository.capture("/usr/bin/env", ["git", "push", "-q", "origin", "main"], in: repo.url, environment: env)
        XCTAssertEqual(allowed.status, 0, allowed.stderr)
    }

    // MARK: - config check and sizes

    func testConfigCheckWarnsWhenARuleHitsTheRegexLimitOnItsOwnExamples() throws {
        let folder = try TestRepository(initialise: false)
        let file = folder.url.appendingPathComponent("limits.toml")
        let catastrophic = "key=" + String(repeating: "a", count: 40) + "! key=abcdef7"
        try Data(Self.nestedRule.replacingOccurrences(of: "[\"key=abcdefgh7\"]", with: "[\"\(catastrophic)\"]").utf8).write(to: file)
        let out = try KeysealBinary.run(["config", "check", file.path], in: folder.url)
        XCTAssertEqual(out.status, 0, "the example is still found: \(out.stdout) \(out.stderr)")
        XCTAssertTrue(out.stderr.contains("warning: nested-token: its regex hit PCRE2's match limit 1 time(s) on its own examples"),
                      out.stderr)

        try Data(Self.nestedRule.utf8).write(to: file)
        let quiet = try KeysealBinary.run(["config", "check", file.path], in: folder.url)
        XCTAssertEqual(quiet.status, 0)
        XCTAssertFalse(quiet.stderr.contains("match limit"), quiet.stderr)
    }

    func testSizesThatOverflowOrAreNotSizesAreClearErrors() throws {
        let repo = try TestRepository()
        try repo.write("a.txt", "a\n")
        try repo.commit("a")
        for bad in ["99999999999G", "-5M", "", "lots", "1.5G", "4G", "0", "99999999999999999999999"] {
            let out = try KeysealBinary.run(["scan", "--quiet", "--no-store", "--max-blob-size=\(bad)"], in: repo.url)
            XCTAssertEqual(out.status, 2, "\(bad): \(out.stderr)")
            XCTAssertTrue(out.stderr.contains("--max-blob-size"), "\(bad): \(out.stderr)")
            XCTAssertFalse(out.stderr.contains("Fatal error"), "\(bad): \(out.stderr)")
        }
        XCTAssertEqual(try KeysealBinary.run(["scan", "--quiet", "--no-store", "--max-blob-size", "25M"], in: repo.url).status, 0)

        for bad in ["\"99999999999G\"", "-1", "\"\"", "\"garbage\"", "\"5G\""] {
            try Data("max_blob_size = \(bad)\n".utf8).write(to: repo.url.appendingPathComponent(".keyseal.toml"))
            for command in [["scan", "--quiet", "--no-store"], ["staged"]] {
                let out = try KeysealBinary.run(command, in: repo.url)
                XCTAssertEqual(out.status, 2, "\(command[0]) with \(bad): \(out.stderr)")
                XCTAssertTrue(out.stderr.contains(".keyseal.toml:1 [max_blob_size]"), "\(bad): \(out.stderr)")
            }
        }
        try Data("max_blob_size = \"99999999999G\"\n".utf8).write(to: repo.url.appendingPathComponent(".keyseal.toml"))
        let overflow = try KeysealBinary.run(["scan", "--quiet", "--no-store"], in: repo.url)
        XCTAssertTrue(overflow.stderr.contains("must be above 0 and below 4G"), overflow.stderr)
    }
}
