import Foundation
import KeysealCore
import KeysealEngine
import XCTest

final class ReportTests: XCTestCase {
    var repo: TestRepository!
    var token = FakeSecret.github("report")
    var keyID = FakeSecret.awsKeyID("report")

    override func setUpWithError() throws {
        repo = try TestRepository()
        try repo.write("deploy/app.env", "GITHUB_TOKEN=\(token)\n")
        try repo.write("dir with space/é.yaml", "aws_access_key_id: \(keyID)\n")
        try repo.commit("leak")
    }

    func run(_ arguments: [String]) throws -> TestRepository.Output {
        try KeysealBinary.run(arguments + ["--quiet"], in: repo.url)
    }

    func testJSONShapeIsTheDocumentedOne() throws {
        let out = try run(["scan", "--format", "json"])
        XCTAssertEqual(out.status, 1)
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(document["version"] as? Int, 1)
        XCTAssertEqual((document["tool"] as? [String: Any])?["name"] as? String, "keyseal")
        let summary = try XCTUnwrap(document["summary"] as? [String: Any])
        for key in ["commits", "blobs_scanned", "bytes_scanned", "blobs_binary", "archives", "blobs_skipped_large", "findings", "secrets"] {
            XCTAssertNotNil(summary[key] as? Int, "summary.\(key)")
        }
        let findings = try XCTUnwrap(document["findings"] as? [[String: Any]])
        XCTAssertEqual(findings.count, 2)
        for finding in findings {
            for key in ["rule", "provider", "fingerprint", "preview", "commit", "author", "email", "date", "path"] {
                XCTAssertNotNil(finding[key] as? String, "finding.\(key)")
            }
            XCTAssertNotNil(finding["line"] as? Int)
            XCTAssertNotNil(finding["column"] as? Int)
            XCTAssertNil(finding["secret"])
            XCTAssertEqual((finding["fingerprint"] as? String)?.count, 64)
        }
    }

    func testNoClearSecretInAnyFormatUnlessAsked() throws {
        for format in ReportFormat.allCases.map(\.rawValue) {
            let out = try run(["scan", "--format", format])
            XCTAssertEqual(out.status, 1)
            XCTAssertFalse(out.stdout.contains(token), format)
            XCTAssertFalse(out.stdout.contains(keyID), format)
            XCTAssertFalse(out.stderr.contains(token), format)
            let shown = try run(["scan", "--format", format, "--show-secrets"])
            XCTAssertTrue(shown.stdout.contains(token), format)
        }
    }

    func testReportFileIsWrittenAndSummaryGoesToStderr() throws {
        let out = try run(["scan", "--format", "json", "--report", "out.json"])
        XCTAssertEqual(out.status, 1)
        XCTAssertTrue(out.stdout.isEmpty)
        XCTAssertTrue(out.stderr.contains("2 secret(s)"), out.stderr)
        let data = try Data(contentsOf: repo.url.appendingPathComponent("out.json"))
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: data))
        let unwritable = try run(["scan", "--format", "json", "--report", "/nonexistent/dir/out.json"])
        XCTAssertEqual(unwritable.status, 2)
    }

    /// A report sent to something that is not a regular file (a FIFO here; /dev/null in real use) is
    /// written into it, not renamed over it: an atomic rename once replaced /dev/null with a file.
    func testReportIntoAFIFOIsWrittenInPlace() throws {
        let fifo = repo.url.appendingPathComponent("report.fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let received = ReceivedData()
        let reader = Thread {
            received.data = FileHandle(forReadingAtPath: fifo)?.readDataToEndOfFile() ?? Data()
            received.done.signal()
        }
        reader.start()
        let out = try run(["scan", "--format", "json", "--report", fifo])
        XCTAssertEqual(out.status, 1, out.stderr)
        XCTAssertEqual(received.done.wait(timeout: .now() + 30), .success)
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: received.data))
        var status = stat()
        XCTAssertEqual(stat(fifo, &status), 0)
        XCTAssertEqual(status.st_mode & S_IFMT, S_IFIFO, "still a FIFO, not a file")
    }

    func testTextReportGroupsBySecretWithoutColourWhenPiped() throws {
        let out = try run(["scan"])
        XCTAssertEqual(out.status, 1)
        XCTAssertFalse(out.stdout.contains("\u{1B}["))
        XCTAssertTrue(out.stdout.contains("github-pat (GitHub)"))
        XCTAssertTrue(out.stdout.contains("deploy/app.env:1:14"))
        XCTAssertTrue(out.stdout.contains("2 secret(s) in 2 place(s)"))
    }

    func testSARIFIsValidAgainstTheOfficialSchema() throws {
        let out = try run(["scan", "--format", "sarif", "--report", "keyseal.sarif"])
        XCTAssertEqual(out.status, 1)
        let sarif = repo.url.appendingPathComponent("keyseal.sarif").path
        let schema = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/sarif-2.1.0.json").path
        let check = """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1])); doc = json.load(open(sys.argv[2]))
            jsonschema.validate(doc, schema)
            results = doc["runs"][0]["results"]
            assert len(results) == 2, results
            assert all(r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1 for r in results)
            uris = sorted(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results)
            assert uris == ["deploy/app.env", "dir%20with%20space/%C3%A9.yaml"], uris
            print("valid")
            """
        let python = try XCTUnwrap(Self.pythonWithJSONSchema(), "no python3 with jsonschema: run ./install.sh --deps-only")
        let result = try TestRepository.capture(python, ["-c", check, schema, sarif], in: repo.url)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "valid")

        // And the same check must fail on a document that breaks the schema.
        let broken = repo.url.appendingPathComponent("broken.sarif")
        try Data(#"{"version": "2.1.0", "runs": [{"results": []}]}"#.utf8).write(to: broken)
        let rejected = try TestRepository.capture(python, ["-c", check, schema, broken.path], in: repo.url)
        XCTAssertNotEqual(rejected.status, 0)
    }

    static func pythonWithJSONSchema() -> String? {
        for candidate in ["/usr/bin/env python3", "/usr/bin/python3"] {
            let parts = candidate.split(separator: " ").map(String.init)
            if let out = try? TestRepository.capture(parts[0], Array(parts.dropFirst()) + ["-c", "import jsonschema"],
                                                     in: URL(fileURLWithPath: "/")), out.status == 0 {
                return parts.count > 1 ? Self.resolve(parts[1]) : parts[0]
            }
        }
        return nil
    }

    static func resolve(_ name: String) -> String {
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let path = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return name
    }

    func testRulesCommandListsEveryRule() throws {
        let out = try KeysealBinary.run(["rules", "--format", "json"], in: repo.url)
        XCTAssertEqual(out.status, 0)
        let entries = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [[String: Any]])
        let rules = entries.filter { $0["kind"] as? String == "content" }
        let listed = rules.map { "\($0["id"] ?? "-") | \($0["provider"] ?? "-") | \($0["description"] ?? "-")" }
        XCTAssertEqual(listed, BuiltInRules.all.map { "\($0.id) | \($0.provider) | \($0.description)" }, "every built-in rule, in order")
        XCTAssertEqual(entries.filter { $0["kind"] as? String == "audit" }.compactMap { $0["id"] as? String }, AuditRules.all.map(\.id),
                       "then every audit rule")

        let text = try KeysealBinary.run(["rules"], in: repo.url)
        XCTAssertEqual(text.status, 0)
        let lines = text.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, BuiltInRules.all.count + AuditRules.all.count + 1)
        XCTAssertEqual(lines.last.map(String.init),
                       "\(BuiltInRules.all.count) rules, \(Set(BuiltInRules.all.map(\.provider)).count) providers; \(AuditRules.all.count) audit rules")
    }
}

/// What the FIFO reader thread received.
final class ReceivedData: @unchecked Sendable {
    var data = Data()
    let done = DispatchSemaphore(value: 0)
}
