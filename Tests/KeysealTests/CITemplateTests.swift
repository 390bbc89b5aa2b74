import Foundation
import XCTest

/// The CI templates in docs/ci are run, not just read: their keyseal commands, with the variables
/// the CI system would set, against a real repository with a secret on a branch over a clean base.
/// Each must find it (exit status 1 through the template's own handling) and write its reports.
final class CITemplateTests: XCTestCase {
    static let templates = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/ci")

    var repo: TestRepository!
    var base = ""

    override func setUpWithError() throws {
        repo = try TestRepository()
        try repo.write("README.md", "app\n")
        base = try repo.commit("start")
        // What a CI checkout of a pull request has: the target branch as a remote-tracking ref.
        try repo.git(["update-ref", "refs/remotes/origin/main", base])
        try repo.write("deploy/.env", "STRIPE_KEY=\(FakeSecret.stripe("ci-template"))\n")
        try repo.commit("add deploy config")
    }

    /// The environment a CI job gives the script: keyseal on the PATH, plus the CI's variables.
    func environment(_ extra: [String: String]) -> [String: String] {
        let bin = URL(fileURLWithPath: KeysealBinary.path).deletingLastPathComponent().path
        var env = extra
        env["PATH"] = bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        return env
    }

    func bash(_ script: String, _ extra: [String: String]) throws -> TestRepository.Output {
        try TestRepository.capture("/bin/bash", ["-eo", "pipefail", "-c", script], in: repo.url, environment: environment(extra))
    }

    /// The lines of a YAML block scalar (`key: |`) that starts at `line`, unindented.
    static func block(after line: Int, in lines: [Substring]) -> String {
        let indent = lines[line].prefix { $0 == " " }.count
        var body: [Substring] = []
        for next in lines[(line + 1)...] {
            let nextIndent = next.prefix { $0 == " " }.count
            if !next.trimmingCharacters(in: .whitespaces).isEmpty && nextIndent <= indent { break }
            body.append(next)
        }
        let strip = body.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.map { $0.prefix { $0 == " " }.count }.min() ?? 0
        return body.map { String($0.dropFirst(min(strip, $0.count))) }.joined(separator: "\n")
    }

    func testGitHubActionsScanStepFindsTheSecretAndWritesSARIF() throws {
        let text = try String(contentsOf: Self.templates.appendingPathComponent("github-actions.yml"), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let nameLine = try XCTUnwrap(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "- name: Scan" })
        let runLine = try XCTUnwrap(lines[nameLine...].firstIndex { $0.trimmingCharacters(in: .whitespaces) == "run: |" })
        let script = Self.block(after: runLine, in: lines)
        XCTAssertTrue(script.contains("keyseal scan"))
        for event in ["push", "pull_request"] {
            let output = repo.url.appendingPathComponent("github-output-\(event)")
            FileManager.default.createFile(atPath: output.path, contents: nil)
            try? FileManager.default.removeItem(at: repo.url.appendingPathComponent("keyseal.sarif"))
            let out = try bash(script.replacingOccurrences(of: "${{ github.event_name }}", with: event),
                               ["GITHUB_OUTPUT": output.path, "BASE_REF": "main"])
            XCTAssertEqual(out.status, 0, "\(event): \(out.stderr)")
            XCTAssertEqual(try String(contentsOf: output, encoding: .utf8), "status=1\n", "\(event): \(out.stderr)")
            let sarif = try Data(contentsOf: repo.url.appendingPathComponent("keyseal.sarif"))
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: sarif) as? [String: Any])
            let runs = try XCTUnwrap(json["runs"] as? [[String: Any]])
            // The Stripe key, and the audit's note that a .env file is tracked.
            let results = try XCTUnwrap(runs.first?["results"] as? [[String: Any]])
            XCTAssertEqual(results.filter { ($0["ruleId"] as? String) == "stripe-secret-key" }.count, 1, event)
        }
        XCTAssertTrue(text.contains("fetch-depth: 0"), "a full-depth checkout")
        XCTAssertTrue(text.contains("upload-sarif"), "SARIF uploaded to code scanning")
    }

    func testGitLabJobFindsTheSecretAndWritesItsReports() throws {
        let text = try String(contentsOf: Self.templates.appendingPathComponent("gitlab-ci.yml"), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let scriptLine = try XCTUnwrap(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "script:" })
        var commands: [String] = []
        var index = scriptLine + 1
        while index < lines.count {
            let item = lines[index].trimmingCharacters(in: .whitespaces)
            if item.isEmpty || item.hasPrefix("#") { index += 1; continue }
            guard item.hasPrefix("- ") else { break }
            if item == "- |" {
                commands.append(Self.block(after: index, in: lines))
                let indent = lines[index].prefix { $0 == " " }.count
                index += 1
                while index < lines.count,
                      lines[index].trimmingCharacters(in: .whitespaces).isEmpty || lines[index].prefix(while: { $0 == " " }).count > indent {
                    index += 1
                }
            } else {
                commands.append(String(item.dropFirst(2)))
                index += 1
            }
        }
        XCTAssertGreaterThanOrEqual(commands.count, 3)
        for mergeRequest in [false, true] {
            for file in ["gl-secret-detection-report.json", "keyseal-junit.xml"] {
                try? FileManager.default.removeItem(at: repo.url.appendingPathComponent(file))
            }
            let env = mergeRequest ? ["CI_MERGE_REQUEST_DIFF_BASE_SHA": base] : [:]
            let out = try bash(commands.joined(separator: "\n"), env)
            XCTAssertEqual(out.status, 1, "merge request \(mergeRequest): \(out.stderr)")
            let report = try Data(contentsOf: repo.url.appendingPathComponent("gl-secret-detection-report.json"))
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: report) as? [String: Any])
            let vulnerabilities = try XCTUnwrap(json["vulnerabilities"] as? [[String: Any]])
            XCTAssertTrue(vulnerabilities.contains { ($0["name"] as? String ?? "").contains("Stripe") || "\($0)".contains("stripe-secret-key") },
                          "\(vulnerabilities)")
            let junit = try String(contentsOf: repo.url.appendingPathComponent("keyseal-junit.xml"), encoding: .utf8)
            XCTAssertTrue(junit.contains("<failure"), junit)
        }
        XCTAssertTrue(text.contains("GIT_DEPTH: 0"), "a full clone")
        XCTAssertTrue(text.contains("secret_detection: gl-secret-detection-report.json"))
    }

    func testShellRecipeExitsOneWithAReportAndZeroWhenClean() throws {
        let script = Self.templates.appendingPathComponent("keyseal-ci.sh").path
        let found = try TestRepository.capture("/bin/sh", [script], in: repo.url, environment: environment(["KEYSEAL_BASE": base]))
        XCTAssertEqual(found.status, 1, found.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: repo.url.appendingPathComponent("keyseal-report.sarif").path))
        let clean = try TestRepository.capture("/bin/sh", [script], in: repo.url,
                                               environment: environment(["KEYSEAL_BASE": "HEAD", "KEYSEAL_FORMAT": "json"]))
        XCTAssertEqual(clean.status, 0, clean.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: repo.url.appendingPathComponent("keyseal-report.json").path))
        let bad = try TestRepository.capture("/bin/sh", [script], in: repo.url, environment: environment(["KEYSEAL_FORMAT": "xml"]))
        XCTAssertEqual(bad.status, 2, "an unknown format is a usage error")
    }
}
