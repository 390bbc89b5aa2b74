import Foundation
import KeysealStore

/// JUnit XML, as GitLab (`artifacts:reports:junit`), Jenkins and other CI systems read test results:
/// `testsuites` > `testsuite` (one for secrets, one for the audit) > `testcase`, one per finding.
/// An open secret or an audit finding is a `failure`; a triaged secret (rotated, false positive,
/// accepted) is `skipped`, with its triage note. A suite with nothing found holds one passing test,
/// so a clean run is not shown as "no tests". Blobs not fully scanned under `--fail-on-unscanned`
/// are one more failure. The clear secret is written only with `--show-secrets`.
enum JUnitReport {
    struct TestCase {
        let name: String
        let classname: String
        let file: String?
        let line: Int?
        /// `failure` or `skipped`, with its message and body; nil: passed.
        var outcome: (kind: String, message: String, type: String?, body: String?)?
    }

    static func render(_ result: ScanResult) -> Data {
        var suites: [(name: String, cases: [TestCase], seconds: Double)] = []
        if result.origin != .audit {
            var cases = result.findings.map(testCase)
            if cases.isEmpty { cases.append(TestCase(name: "no secrets found", classname: "keyseal.secrets", file: nil, line: nil)) }
            if result.failsOnUnscanned {
                var coverage = TestCase(name: "every blob fully scanned", classname: "keyseal.coverage", file: nil, line: nil)
                coverage.outcome = ("failure", "\(result.summary.blobsNotFullyScanned) blob(s) not fully scanned, and --fail-on-unscanned is set",
                                    "not-fully-scanned", result.summary.notFullyScanned.map { "\($0.path): \($0.explanation)" }.joined(separator: "\n"))
                cases.append(coverage)
            }
            suites.append(("keyseal.secrets", cases, result.summary.durationSeconds))
        }
        if let audit = result.audit {
            var cases = audit.findings.map(testCase)
            if cases.isEmpty { cases.append(TestCase(name: "no routes found", classname: "keyseal.audit", file: nil, line: nil)) }
            suites.append(("keyseal.audit", cases, 0))
        }
        func count(_ cases: [TestCase], _ kind: String) -> Int { cases.filter { $0.outcome?.kind == kind }.count }
        let all = suites.flatMap(\.cases)
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites name=\"keyseal\" tests=\"\(all.count)\" failures=\"\(count(all, "failure"))\" errors=\"0\" skipped=\"\(count(all, "skipped"))\" time=\"\(seconds(suites.map(\.seconds).reduce(0, +)))\">\n"
        for suite in suites {
            out += "  <testsuite name=\"\(suite.name)\" tests=\"\(suite.cases.count)\" failures=\"\(count(suite.cases, "failure"))\" errors=\"0\" skipped=\"\(count(suite.cases, "skipped"))\" time=\"\(seconds(suite.seconds))\">\n"
            for test in suite.cases { out += element(test) }
            out += "  </testsuite>\n"
        }
        out += "</testsuites>\n"
        return Data(out.utf8)
    }

    static func testCase(_ finding: Finding) -> TestCase {
        var test = TestCase(name: "\(finding.rule) at \(finding.place)" + (finding.commit.isEmpty ? "" : " (commit \(finding.commit.prefix(10)))"),
                            classname: "keyseal.secrets.\(finding.rule)", file: finding.path, line: finding.line >= 1 ? finding.line : nil)
        if let justification = TriageText.justification(finding) {
            test.outcome = ("skipped", "triaged \(justification)", nil, nil)
            return test
        }
        var body = [
            "\(finding.description) (\(finding.provider))",
            "place: \(finding.place)",
            "fingerprint: \(finding.fingerprint)",
            "preview: \(finding.preview)",
        ]
        if let secret = finding.secret { body.append("secret: \(secret)") }
        if !finding.commit.isEmpty { body.append("commit: \(finding.commit)") }
        if !finding.author.isEmpty { body.append("author: \(finding.author) <\(finding.email)>, \(finding.date)") }
        if let inHead = finding.inHead { body.append(inHead ? "still in HEAD" : "history only: HEAD no longer has this version of the file") }
        body.append("Treat it as leaked: rotate it, then remove it from history (keyseal checklist lists the steps).")
        test.outcome = ("failure", FindingText.summary(finding), finding.rule, body.joined(separator: "\n"))
        return test
    }

    static func testCase(_ finding: AuditFinding) -> TestCase {
        var test = TestCase(name: "\(finding.rule) at \(finding.path):\(finding.line)", classname: "keyseal.audit.\(finding.rule)",
                            file: finding.path, line: finding.line >= 1 ? finding.line : nil)
        let provider = finding.provider.map { "\nprovider: \($0)" + (finding.contentRule.map { " (\($0))" } ?? "") } ?? ""
        test.outcome = ("failure", "\(finding.detail) [\(finding.severity.rawValue)]", finding.rule,
                        "why: \(finding.why)\nfix: \(finding.fix)\(provider)")
        return test
    }

    static func element(_ test: TestCase) -> String {
        var out = "    <testcase name=\"\(attribute(test.name))\" classname=\"\(attribute(test.classname))\""
        if let file = test.file { out += " file=\"\(attribute(file))\"" }
        if let line = test.line { out += " line=\"\(line)\"" }
        out += " time=\"0\""
        guard let outcome = test.outcome else { return out + "/>\n" }
        out += ">\n      <\(outcome.kind) message=\"\(attribute(outcome.message))\""
        if let type = outcome.type { out += " type=\"\(attribute(type))\"" }
        if let body = outcome.body {
            out += ">\(text(body))</\(outcome.kind)>\n"
        } else {
            out += "/>\n"
        }
        return out + "    </testcase>\n"
    }

    static func seconds(_ value: Double) -> String { String(format: "%.3f", max(0, value)) }

    /// An attribute value: every control made visible (newlines too, so it stays one line), then
    /// XML's five special characters escaped.
    static func attribute(_ value: String) -> String { escape(TerminalText.escape(value)) }

    /// Element text: controls but the newline made visible (XML 1.0 allows no other C0 control, and a
    /// terminal showing the file must not act on one), then `&`, `<`, `>` escaped.
    static func text(_ value: String) -> String { escape(TerminalText.escape(value, keepingNewlines: true)) }

    static func escape(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            // Not characters in XML 1.0.
            case "\u{FFFE}", "\u{FFFF}": out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
