import Foundation
import KeysealCore
import XCTest

/// The reports CI systems read: SARIF as GitHub code scanning uses it, GitLab's secret detection
/// report, JUnit XML, CSV, and keyseal's own JSON against its published schema. Each is checked with
/// an independent reader (python's jsonschema, xml.etree and csv), against real scans.
final class CIFormatTests: XCTestCase {
    var repo: TestRepository!
    let token = FakeSecret.github("ci-head")
    let stripe = FakeSecret.stripe("ci-history")
    let keyID = FakeSecret.awsKeyID("ci-docs")
    var leakCommit = ""

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let reportSchema = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/keyseal-report.schema.json").path

    /// Three secrets: one still in HEAD (`deploy/.env`, open), one only in history (its line in
    /// `config/settings.py` replaced by an innocent one, triaged rotated), one in HEAD triaged a
    /// false positive (`docs/example.md`).
    override func setUpWithError() throws {
        repo = try TestRepository()
        try repo.write("deploy/.env", "GITHUB_TOKEN=\(token)\n")
        try repo.write("config/settings.py", "# settings\nSTRIPE_KEY = \"\(stripe)\"\n")
        try repo.write("docs/example.md", "Example: aws_access_key_id = \(keyID)\n")
        leakCommit = try repo.commit("leak")
        try repo.write("config/settings.py", "# settings\nSTRIPE_KEY = os.environ[\"STRIPE_KEY\"]\n")
        try repo.commit("read the key from the environment")
    }

    func run(_ arguments: [String]) throws -> TestRepository.Output {
        try KeysealBinary.run(arguments + ["--quiet"], in: repo.url)
    }

    /// Scans once (to fill the store), then triages the history-only secret rotated and the docs
    /// one a false positive, with notes.
    func triage() throws {
        XCTAssertEqual(try run(["scan", "--format", "json"]).status, 1)
        let list = try KeysealBinary.run(["findings", "--format", "json"], in: repo.url)
        let secrets = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        func fingerprint(_ rule: String) throws -> String {
            try XCTUnwrap(secrets.first { ($0["rule"] as? String) == rule }?["fingerprint"] as? String, rule)
        }
        let stripeRule = try XCTUnwrap(secrets.first { ($0["provider"] as? String) == "Stripe" }?["rule"] as? String)
        for (rule, status, note) in [(stripeRule, "rotated", "revoked and re-issued on 2024-05-01"),
                                     ("aws-access-key-id", "false-positive", "AWS's documented example key")] {
            let out = try KeysealBinary.run(["triage", String(try fingerprint(rule).prefix(12)), "--status", status, "--note", note],
                                            in: repo.url)
            XCTAssertEqual(out.status, 0, out.stderr)
        }
    }

    /// Runs a python check with the file paths as arguments; the check prints "ok".
    func python(_ check: String, _ arguments: [String]) throws {
        let python = try XCTUnwrap(ReportTests.pythonWithJSONSchema(), "no python3 with jsonschema: run ./install.sh --deps-only")
        let result = try TestRepository.capture(python, ["-c", check] + arguments, in: repo.url)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "ok", result.stderr)
    }

    func report(_ name: String) -> String { repo.url.appendingPathComponent(name).path }

    func contents(_ name: String) throws -> String { try String(contentsOfFile: report(name), encoding: .utf8) }

    // MARK: SARIF

    func testSARIFForGitHubCodeScanning() throws {
        try triage()
        let out = try run(["scan", "--format", "sarif", "--report", "keyseal.sarif"])
        XCTAssertEqual(out.status, 1, "the GitHub token is open")
        let check = """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1])); doc = json.load(open(sys.argv[2])); leak = sys.argv[3]; token_length = int(sys.argv[4])
            jsonschema.validate(doc, schema)
            run = doc["runs"][0]
            assert run["automationDetails"]["id"] == "keyseal/scan/", run["automationDetails"]
            rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
            for r in rules.values():
                assert r["help"]["text"] and r["help"]["markdown"], r["id"]
                assert r["helpUri"].startswith("http"), r
                assert r["properties"]["precision"] in ("very-high", "high", "medium", "low"), r
                assert 0.0 < float(r["properties"]["security-severity"]) <= 10.0, r
            github = rules["github-pat"]
            assert "Revoke and re-issue" in github["help"]["markdown"], github["help"]["markdown"]
            assert "Remove it from history" in github["help"]["markdown"]
            assert github["properties"]["security-severity"] == "8.9", github["properties"]
            assert github["properties"]["precision"] == "very-high", "github-pat verifies a checksum"
            severities = {r["properties"]["security-severity"] for r in rules.values()}
            assert len(severities) > 1, "not one severity for everything: %s" % severities
            by_rule = {}
            for r in run["results"]:
                by_rule.setdefault(r["ruleId"], []).append(r)
                assert r["partialFingerprints"]["primaryLocationLineHash"].endswith(":1"), r
            secrets = [r for r in run["results"] if not r["ruleId"].startswith("audit-")]
            audits = [r for r in run["results"] if r["ruleId"].startswith("audit-")]
            assert len(secrets) == 3, secrets
            assert audits and all("keyseal/v1" in r["partialFingerprints"] for r in audits), audits

            head = by_rule["github-pat"][0]
            loc = head["locations"][0]["physicalLocation"]
            assert loc["artifactLocation"]["uri"] == "deploy/.env", loc
            region = loc["region"]
            assert region["startLine"] == 1 and region["startColumn"] == 14, region
            assert region["endLine"] == 1 and region["endColumn"] == 14 + token_length, region
            assert head["suppressions"] == [], "open, checked against the store"
            assert head["level"] == "error"

            history = [r for r in secrets if r["properties"].get("inHead") is False]
            assert len(history) == 1, secrets
            history = history[0]
            uri = history["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            assert uri == ".git/keyseal-history/%s/config/settings.py" % leak, uri
            assert history["message"]["text"].startswith("History only (commit %s)" % leak[:10]), history["message"]
            assert history["locations"][0]["message"]["text"].find(leak) >= 0
            [suppression] = history["suppressions"]
            assert suppression["kind"] == "external" and suppression["status"] == "accepted", suppression
            assert suppression["justification"] == "rotated: revoked and re-issued on 2024-05-01", suppression

            docs = by_rule["aws-access-key-id"][0]
            assert docs["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "docs/example.md"
            assert docs["suppressions"][0]["justification"].startswith("false-positive: AWS"), docs["suppressions"]
            print("ok")
            """
        try python(check, [Self.fixtures.appendingPathComponent("sarif-2.1.0.json").path, report("keyseal.sarif"),
                           leakCommit, String(token.count)])
        XCTAssertFalse(try contents("keyseal.sarif").contains(token))
    }

    func testSARIFOfTheAuditAloneHasItsOwnCategoryAndFingerprints() throws {
        let out = try KeysealBinary.run(["audit", "--format", "sarif", "--report", "audit.sarif"], in: repo.url)
        XCTAssertEqual(out.status, 1)
        let check = """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1])); doc = json.load(open(sys.argv[2]))
            jsonschema.validate(doc, schema)
            run = doc["runs"][0]
            assert run["automationDetails"]["id"] == "keyseal/audit/", run["automationDetails"]
            assert run["results"], "the tracked .env file"
            for r in run["results"]:
                assert r["partialFingerprints"]["primaryLocationLineHash"], r
            print("ok")
            """
        try python(check, [Self.fixtures.appendingPathComponent("sarif-2.1.0.json").path, report("audit.sarif")])
    }

    // MARK: GitLab

    static let gitLabCheck = """
        import json, sys, jsonschema
        schema = json.load(open(sys.argv[1])); doc = json.load(open(sys.argv[2]))
        jsonschema.Draft7Validator(schema).validate(doc)
        assert doc["version"] == schema["self"]["version"], doc["version"]
        assert doc["scan"]["type"] == "secret_detection"
        print(json.dumps(doc["vulnerabilities"]), file=sys.stderr)
        """

    func testGitLabSecretDetectionReportFollowsGitLabsSchema() throws {
        try triage()
        let out = try run(["scan", "--format", "gitlab", "--report", "gl-secret-detection-report.json"])
        XCTAssertEqual(out.status, 1)
        let check = Self.gitLabCheck + "\n" + """
            leak = sys.argv[3]
            vulns = doc["vulnerabilities"]
            secrets = [v for v in vulns if v["identifiers"][0]["type"] == "keyseal_rule_id"]
            audits = [v for v in vulns if v["identifiers"][0]["type"] == "keyseal_audit_rule_id"]
            assert len(secrets) == 3 and audits, vulns
            assert len({v["id"] for v in vulns}) == len(vulns), "ids are unique"
            by_file = {v["location"]["file"]: v for v in secrets}
            head = by_file["deploy/.env"]
            assert head["severity"] == "High" and head["location"]["commit"]["sha"] == leak, head
            assert head["location"]["start_line"] == 1
            assert "Revoke and re-issue" in head["solution"]
            assert head["details"]["in_head"]["value"] is True
            assert "raw_source_code_extract" not in head
            rotated = by_file["config/settings.py"]
            assert rotated["severity"] == "Info", rotated
            assert rotated["description"].startswith("History only"), rotated["description"]
            assert rotated["details"]["status"]["value"] == "rotated"
            assert rotated["details"]["triage_note"]["value"] == "rotated: revoked and re-issued on 2024-05-01"
            docs = by_file["docs/example.md"]
            [flag] = docs["flags"]
            assert flag["type"] == "flagged-as-likely-false-positive", flag
            print("ok")
            """
        try python(check, [Self.fixtures.appendingPathComponent("gitlab-secret-detection-report-format-15.2.1.json").path,
                           report("gl-secret-detection-report.json"), leakCommit])
        XCTAssertFalse(try contents("gl-secret-detection-report.json").contains(token))

        // With --show-secrets, and the audit alone: still valid.
        XCTAssertEqual(try run(["scan", "--format", "gitlab", "--report", "shown.json", "--show-secrets"]).status, 1)
        XCTAssertTrue(try contents("shown.json").contains(token))
        XCTAssertEqual(try KeysealBinary.run(["audit", "--format", "gitlab", "--report", "audit.json"], in: repo.url).status, 1)
        for file in ["shown.json", "audit.json"] {
            try python(Self.gitLabCheck + "\nprint('ok')\n",
                       [Self.fixtures.appendingPathComponent("gitlab-secret-detection-report-format-15.2.1.json").path, report(file)])
        }
    }

    /// A hook's report file takes its format from its name; a staged secret has no commit yet.
    func testHookReportFormatFollowsTheFileName() throws {
        XCTAssertEqual(ReportFormat.forReportFile("out/gl-secret-detection-report.json"), .gitlab)
        XCTAssertEqual(ReportFormat.forReportFile("keyseal.sarif"), .sarif)
        XCTAssertEqual(ReportFormat.forReportFile("junit.XML"), .junit)
        XCTAssertEqual(ReportFormat.forReportFile("findings.csv"), .csv)
        XCTAssertEqual(ReportFormat.forReportFile("findings.json"), .json)

        try repo.write("staged.env", "TOKEN=\(FakeSecret.github("ci-staged"))\n")
        let out = try KeysealBinary.run(["staged", "--report", "gl-secret-detection-report.json"], in: repo.url)
        XCTAssertEqual(out.status, 1, out.stderr)
        let check = Self.gitLabCheck + "\n" + """
            [v] = [v for v in doc["vulnerabilities"] if v["location"]["file"] == "staged.env"]
            assert v["location"]["commit"]["sha"] == "0" * 40, v["location"]
            print("ok")
            """
        try python(check, [Self.fixtures.appendingPathComponent("gitlab-secret-detection-report-format-15.2.1.json").path,
                           report("gl-secret-detection-report.json")])
        XCTAssertEqual(try KeysealBinary.run(["staged", "--report", "staged.xml"], in: repo.url).status, 1)
        XCTAssertTrue(try contents("staged.xml").hasPrefix("<?xml"))
        XCTAssertEqual(try KeysealBinary.run(["staged", "--report", "staged.sarif"], in: repo.url).status, 1)
        XCTAssertTrue(try contents("staged.sarif").contains("\"keyseal/hook/\""))
    }

    // MARK: JUnit

    static let junitCheck = """
        import sys, xml.etree.ElementTree as ET
        root = ET.parse(sys.argv[1]).getroot()
        assert root.tag == "testsuites", root.tag
        suites = root.findall("testsuite")
        assert suites and all(s.get("name") for s in suites)
        cases = [c for s in suites for c in s.findall("testcase")]
        assert int(root.get("tests")) == len(cases)
        assert int(root.get("failures")) == len([c for c in cases if c.find("failure") is not None])
        assert int(root.get("skipped")) == len([c for c in cases if c.find("skipped") is not None])
        for s in suites:
            assert int(s.get("tests")) == len(s.findall("testcase")), s.attrib
            for c in s.findall("testcase"):
                assert c.get("name") and c.get("classname"), c.attrib
        """

    func testJUnitHasTheStructureCISystemsRead() throws {
        try triage()
        // A path with XML's special characters, and a control character in an author's name.
        try repo.write("odd/a&b <\"c\">.env", "TOKEN=\(FakeSecret.github("ci-odd"))\n")
        try repo.commit("odd", author: "Eve & \u{7F}Mallory")
        let out = try run(["scan", "--format", "junit", "--report", "junit.xml"])
        XCTAssertEqual(out.status, 1)
        let check = Self.junitCheck + "\n" + """
            by_suite = {s.get("name"): s for s in suites}
            secrets = by_suite["keyseal.secrets"].findall("testcase")
            assert len(secrets) == 4, [c.attrib for c in secrets]
            failed = [c for c in secrets if c.find("failure") is not None]
            skipped = [c for c in secrets if c.find("skipped") is not None]
            assert len(failed) == 2 and len(skipped) == 2, [c.attrib for c in secrets]
            assert {c.get("file") for c in failed} == {"deploy/.env", 'odd/a&b <"c">.env'}, [c.get("file") for c in failed]
            notes = sorted(c.find("skipped").get("message") for c in skipped)
            assert notes[0].startswith("triaged false-positive: AWS") and notes[1] == "triaged rotated: revoked and re-issued on 2024-05-01", notes
            head = [c for c in failed if c.get("file") == "deploy/.env"][0]
            assert head.get("line") == "1" and head.find("failure").get("type") == "github-pat"
            assert "fingerprint: " in head.find("failure").text
            assert by_suite["keyseal.audit"].findall("testcase")
            print("ok")
            """
        try python(check, [report("junit.xml")])
        let xml = try contents("junit.xml")
        XCTAssertFalse(xml.contains(token))
        XCTAssertFalse(xml.contains("\u{7F}"), "controls are shown escaped, not written")

        // A clean repository: a passing test in each suite, not empty suites.
        let clean = try TestRepository()
        try clean.write("README.md", "nothing here\n")
        try clean.commit("clean")
        let cleanRun = try KeysealBinary.run(["scan", "--format", "junit", "--quiet"], in: clean.url)
        XCTAssertEqual(cleanRun.status, 0)
        try Data(cleanRun.stdout.utf8).write(to: repo.url.appendingPathComponent("clean.xml"))
        try python(Self.junitCheck + "\n" + """
            assert [s.get("name") for s in suites] == ["keyseal.secrets", "keyseal.audit"], [s.attrib for s in suites]
            assert len(cases) == 2 and root.get("failures") == "0", [c.attrib for c in cases]
            print("ok")
            """, [report("clean.xml")])
    }

    // MARK: CSV

    func testCSVQuotesGuardsFormulasAndRedacts() throws {
        try triage()
        // A path a spreadsheet would take for a formula, with a comma and a quote to quote.
        try repo.write("=HYPERLINK(\"x\",1).env", "TOKEN=\(FakeSecret.github("ci-formula"))\n")
        try repo.commit("formula", author: "@admin")
        let out = try run(["scan", "--format", "csv", "--report", "findings.csv"])
        XCTAssertEqual(out.status, 1)
        let raw = try Data(contentsOf: URL(fileURLWithPath: report("findings.csv")))
        let text = String(decoding: raw, as: UTF8.self)
        XCTAssertTrue(text.hasSuffix("\r\n") && !text.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "CRLF records")
        XCTAssertFalse(text.contains(token))
        let check = """
            import csv, sys
            rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
            header = open(sys.argv[1], newline="", encoding="utf-8").readline().strip()
            assert header.startswith("kind,status,severity,rule,provider"), header
            secrets = [r for r in rows if r["kind"] == "secret"]
            assert len(secrets) == 4 and [r for r in rows if r["kind"] == "audit"], rows
            assert all(r["secret"] == "" for r in secrets)
            formula = [r for r in secrets if "HYPERLINK" in r["path"]][0]
            assert formula["path"] == "'=HYPERLINK(\\"x\\",1).env", formula["path"]
            assert formula["author"] == "'@admin", formula["author"]
            assert formula["in_head"] == "true" and formula["status"] == "open"
            for cell in (c for r in rows for c in r.values()):
                assert not cell or cell[0] not in "=+-@", cell
            statuses = sorted(r["status"] for r in secrets)
            assert statuses == ["false-positive", "open", "open", "rotated"], statuses
            history = [r for r in secrets if r["path"] == "config/settings.py"][0]
            assert history["in_head"] == "false" and history["triage_note"] == "revoked and re-issued on 2024-05-01", history
            print("ok")
            """
        try python(check, [report("findings.csv")])

        let shown = try run(["scan", "--format", "csv", "--show-secrets"])
        XCTAssertTrue(shown.stdout.contains(token))
    }

    // MARK: keyseal's own JSON

    func testJSONReportMatchesThePublishedSchema() throws {
        try triage()
        XCTAssertEqual(try run(["scan", "--format", "json", "--report", "report.json", "--show-secrets"]).status, 1)
        XCTAssertEqual(try KeysealBinary.run(["audit", "--format", "json", "--report", "audit.json"], in: repo.url).status, 1)
        let check = """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1])); doc = json.load(open(sys.argv[2])); audit = json.load(open(sys.argv[3]))
            jsonschema.Draft7Validator.check_schema(schema)
            jsonschema.Draft7Validator(schema).validate(doc)
            audit_schema = dict(schema["definitions"]["audit"], definitions=schema["definitions"])
            jsonschema.Draft7Validator(audit_schema).validate(audit)
            findings = doc["findings"]
            assert {f.get("in_head") for f in findings} == {True, False}, findings
            assert {f.get("status") for f in findings} == {"open", "rotated", "false-positive"}
            assert all("secret" in f for f in findings), "--show-secrets"
            [head] = [f for f in findings if f["path"] == "deploy/.env"]
            assert head["end_column"] == head["column"] + len(head["secret"]), head
            assert audit["commit"] and doc["audit"]["commit"] == audit["commit"]
            # And a document that breaks it is refused.
            broken = dict(doc, findings=[dict(findings[0], line="one")])
            try:
                jsonschema.Draft7Validator(schema).validate(broken)
                raise SystemExit("a broken report passed")
            except jsonschema.ValidationError:
                pass
            print("ok")
            """
        try python(check, [Self.reportSchema, report("report.json"), report("audit.json")])
    }
}
