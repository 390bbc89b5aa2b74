import Crypto
import Foundation
import KeysealCore
import KeysealEngine
import KeysealStore
import XCTest

/// The checklist a security lead reads: sections by status, counts that add up, one time zone, the
/// common steps once, guides' console and CLI references, and an HTML page checked in a real browser.
final class ChecklistContentTests: XCTestCase {
    var keep: [TestRepository] = []

    /// Seven secrets over seven months, of every status. Pushed: the AWS pair (in tag v1.0, removed,
    /// then rotated), the Stripe key (in tag v1.1, removed), a GitHub token in CI config (still in
    /// HEAD), and a sample token marked false positive. Local: a database password (accepted), a
    /// GitHub token under a path full of markup, by an author whose name has `&` and quotes, and a
    /// GitHub token committed today. Two commits are at non-UTC offsets.
    func realisticRepo() throws -> (repo: TestRepository, values: [String]) {
        let remote = try TestRepository(bare: true)
        let repo = try TestRepository()
        keep += [remote, repo]
        let now = Date().timeIntervalSince1970
        func commit(_ message: String, daysAgo: Double, offset: String = "+0000", author: String = "Test Author") throws {
            let date = "@\(Int(now - daysAgo * 86_400)) \(offset)"
            try repo.git(["commit", "-q", "--no-verify", "--allow-empty", "-m", message, "--author", "\(author) <dev@example.test>"],
                         environment: ["GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date])
        }
        let awsSecret = ExampleTemplate.expand("⟪b64:40⟫", salt: "realistic-aws")
        let values = [FakeSecret.awsKeyID("realistic"), awsSecret, FakeSecret.stripe("realistic"), FakeSecret.github("realistic-ci"),
                      FakeSecret.github("realistic-sample"), FakeSecret.password("realistic"), FakeSecret.github("realistic-odd"),
                      FakeSecret.github("realistic-today")]
        try repo.write("README.md", "billing service\n")
        try commit("start", daysAgo: 215)
        try repo.write("aws.cfg", "[default]\naws_access_key_id = \(values[0])\naws_secret_access_key = \(awsSecret)\n")
        try commit("aws credentials", daysAgo: 200, offset: "+0200", author: "Dana Ops")
        try repo.git(["tag", "v1.0"])
        try repo.git(["rm", "-q", "aws.cfg"])
        try commit("remove aws credentials", daysAgo: 170)
        try repo.write("config/prod.env", "STRIPE_KEY=\(values[2])\n")
        try commit("prod config", daysAgo: 120, offset: "-0500")
        try repo.git(["tag", "-a", "v1.1", "-m", "release 1.1"])
        try repo.git(["rm", "-q", "config/prod.env"])
        try commit("remove prod config", daysAgo: 95)
        try repo.write("deploy/ci.env", "GITHUB_TOKEN=\(values[3])\n")
        try commit("ci token", daysAgo: 60)
        try repo.write("scripts/sample-data.sh", "TOKEN=\(values[4])\n")
        try commit("sample data", daysAgo: 45)
        try repo.git(["remote", "add", "origin", remote.path])
        try repo.git(["push", "-q", "--no-verify", "origin", "main", "--tags"])
        try repo.write("app/db.env", "DB_HOST=db.internal\nDB_USER=billing\nDB_PASSWORD=\(values[5])\n")
        try commit("staging database", daysAgo: 20)
        try repo.write("tools/<b onmouseover=alert(1)>.env", "GH_TOKEN=\(values[6])\n")
        try commit("odd tool", daysAgo: 10, author: "Eve \"Mallory\" & Co")
        try repo.write("scripts/release.sh", "export GH_TOKEN=\(values[7])\n")
        try commit("release script", daysAgo: 0)

        let entries = try XCTUnwrap(checklistJSON(repo)["entries"] as? [[String: Any]])
        func fingerprint(_ path: String) throws -> String {
            let entry = entries.first { (($0["occurrences"] as? [[String: Any]]) ?? []).contains { $0["path"] as? String == path } }
            return try XCTUnwrap(entry?["fingerprint"] as? String, "no secret found in \(path): \(entries.map { $0["rule"] ?? "" })")
        }
        for (path, status, note) in [("aws.cfg", SecretStatus.rotated, "rotated in IAM, old key deleted"),
                                     ("app/db.env", .accepted, "staging database, firewalled"),
                                     ("scripts/sample-data.sh", .falsePositive, "sample data <script>alert(1)</script>")] {
            _ = try Triage.set(repository: repo.path, store: .inRepository, prefix: String(try fingerprint(path).prefix(16)),
                               status: status, note: note)
        }
        return (repo, values)
    }

    func checklistJSON(_ repo: TestRepository) throws -> [String: Any] {
        let out = try KeysealBinary.run(["checklist", "--format", "json"], in: repo.url)
        XCTAssertEqual(out.status, 0, out.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
    }

    func testSectionsByStatusCountsThatAddUpAndOneTimeZone() throws {
        let (repo, values) = try realisticRepo()
        let json = try checklistJSON(repo)
        let entries = try XCTUnwrap(json["entries"] as? [[String: Any]])
        XCTAssertEqual(entries.compactMap { $0["status"] as? String },
                       ["open", "open", "open", "open", "rotated", "accepted", "false-positive"])
        // Within a status the most urgent first: pushed before local, then in a tag, in HEAD, oldest.
        XCTAssertEqual(entries.prefix(4).compactMap { ($0["occurrences"] as? [[String: Any]])?.first?["path"] as? String },
                       ["config/prod.env", "deploy/ci.env", "tools/<b onmouseover=alert(1)>.env", "scripts/release.sh"])
        let summary = try XCTUnwrap(json["summary"] as? [String: Int])
        XCTAssertEqual(summary["secrets"], 7)
        XCTAssertEqual([summary["open"], summary["rotated"], summary["accepted"], summary["false_positive"]], [4, 1, 1, 1])
        XCTAssertEqual(summary["pushed"], 4)
        XCTAssertEqual(json["version"] as? Int, 2)

        // Every time is UTC, whatever the author's offset.
        var times = [json["generated_at"] as? String]
        for entry in entries {
            times += [entry["introduced"] as? String, entry["removed"] as? String, (entry["first_commit"] as? [String: Any])?["date"] as? String]
            times += ((entry["occurrences"] as? [[String: Any]]) ?? []).map { $0["date"] as? String }
        }
        for time in times.compactMap({ $0 }) { XCTAssertTrue(time.hasSuffix("Z"), time) }
        let aws = entries[4]
        let awsLocal = try repo.git(["log", "-1", "--format=%at", "v1.0"]).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(aws["introduced"] as? String,
                       ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: try XCTUnwrap(TimeInterval(awsLocal)))),
                       "a +02:00 author date is given in UTC")

        // The steps common to every secret are given once, not in each entry.
        let afterEach = try XCTUnwrap(json["after_each_rotation"] as? [String])
        XCTAssertEqual(afterEach, RotationGuide.afterwards)
        XCTAssertEqual((json["after_all_rotations"] as? [String])?.count, 2)
        for entry in entries {
            let steps = ((entry["after_rotation"] as? [String]) ?? []) + ((entry["follow_ups"] as? [String]) ?? [])
            XCTAssertTrue(Set(steps).isDisjoint(with: afterEach), "\(steps)")
            XCTAssertFalse(steps.contains { $0.contains("filter-repo") }, "\(steps)")
        }

        let markdown = try KeysealBinary.run(["checklist"], in: repo.url).stdout
        XCTAssertTrue(markdown.contains("**7 secrets: 4 open, 1 rotated, 1 accepted, 1 false positive.**"), markdown)
        XCTAssertTrue(markdown.contains("All times are UTC."))
        for offset in ["+02:00", "-05:00", "+0200", "-0500"] { XCTAssertFalse(markdown.contains(offset), offset) }
        let headings = ["## Open (4)", "## Rotated (1)", "## Accepted (1)", "## After every rotation", "## False positives (1)"]
        let positions = try headings.map { try XCTUnwrap(markdown.range(of: $0)?.lowerBound, $0) }
        XCTAssertEqual(positions, positions.sorted(), "sections in order")
        XCTAssertEqual(markdown.components(separatedBy: RotationGuide.afterwards[1]).count - 1, 1, "the access-log step once")
        let closing = String(markdown[positions[4]...])
        XCTAssertFalse(closing.contains("**Rotate:**"), "no rotation steps for false positives")
        XCTAssertFalse(closing.contains("- [ ]"), closing)
        XCTAssertTrue(closing.contains("sample data \\<script\\>alert(1)\\</script\\>"), "a note cannot add HTML: \(closing)")
        XCTAssertTrue(markdown.contains("**pushed** · **still in HEAD**"))
        XCTAssertTrue(markdown.contains("- **Window:** from "), markdown)
        XCTAssertTrue(markdown.contains("Eve \"Mallory\" \\& Co"), markdown)
        for value in values { XCTAssertFalse(markdown.contains(value)) }
    }

    func testHTMLContentAndEscaping() throws {
        let (repo, values) = try realisticRepo()
        let html = try renderHTML(repo)
        for value in values { XCTAssertFalse(html.contains(value)) }
        XCTAssertTrue(html.contains("<strong>7 secrets: 4 open, 1 rotated, 1 accepted, 1 false positive.</strong>"))
        XCTAssertTrue(html.contains("All times are UTC."))
        for offset in ["+02:00", "-05:00"] { XCTAssertFalse(html.contains(offset), offset) }
        XCTAssertTrue(html.contains("class=\"legend\""))
        XCTAssertEqual(html.components(separatedBy: "<div class=\"bar ").count - 1, 7, "one bar per secret")
        let ticks = html.components(separatedBy: "<div class=\"tick\"").count - 1
        XCTAssertGreaterThanOrEqual(ticks, 7, "a tick per month over seven months")
        XCTAssertTrue(html.contains("new today"))
        XCTAssertTrue(html.contains("@media print"))
        // Two GitHub tokens told apart by path and fingerprint in the timeline's labels.
        XCTAssertTrue(html.contains("<small>deploy/<wbr>ci.env · <code>"))
        XCTAssertTrue(html.contains("<small>scripts/<wbr>release.sh · <code>"))
        // Guide text: Markdown code spans become code, shown once.
        XCTAssertTrue(html.contains("<code>git filter-repo --replace-text FILE</code>"))
        XCTAssertFalse(html.contains("`git filter-repo"))
        XCTAssertEqual(html.components(separatedBy: "access logs").count - 1, 1)
        // Repository text is escaped everywhere.
        XCTAssertFalse(html.contains("<script>"))
        XCTAssertTrue(html.contains("sample data &lt;script&gt;alert(1)&lt;/script&gt;"))
        XCTAssertFalse(html.contains("<b onmouseover"))
        XCTAssertTrue(html.contains("tools/&lt;b onmouseover=alert(1)&gt;.env"))
        XCTAssertTrue(html.contains("Eve &quot;Mallory&quot; &amp; Co"))
        // Each section says whether it was pushed, whether it is in HEAD, and its exposure window.
        let sections = html.components(separatedBy: "<section class=\"entry").dropFirst()
        XCTAssertEqual(sections.count, 6, "false positives are not sections with steps")
        for section in sections {
            XCTAssertTrue(section.contains("<dt>Exposure</dt>") && section.contains("<dt>Window</dt>"), section)
            XCTAssertTrue(section.contains("pushed") && section.contains("HEAD"), section)
        }
        let falsePositives = try XCTUnwrap(html.components(separatedBy: "id=\"false-positives\"").last)
        XCTAssertFalse(falsePositives.contains("Rotate:"))
        XCTAssertFalse(falsePositives.contains("type=\"checkbox\""))
    }

    /// A guide's console (a link), its reason for having none, and its CLI reference, in Markdown and HTML.
    func testGuideConsoleNoConsoleAndCLIReference() throws {
        let repo = try TestRepository()
        keep.append(repo)
        try repo.write(".keyseal.toml", """
            [[rules]]
            id = "acme-token"
            provider = "Acme"
            description = "Acme API token"
            regex = '\\b(acme_[a-z0-9]{32})\\b'
            examples = ["ACME=acme_⟪lo:32⟫"]
            [rules.rotation]
            revoke = "Acme console > Tokens: revoke the token and create a new one with `acme tokens create`"
            console = 'https://console.acme.example/tokens'
            cli = ["acme tokens revoke TOKEN_ID"]
            cli_reference = 'https://docs.acme.example/cli/tokens'

            [[rules]]
            id = "zeta-key"
            provider = "Zeta"
            description = "Zeta signing key"
            regex = '\\b(zeta_[a-z0-9]{32})\\b'
            examples = ["ZETA=zeta_⟪lo:32⟫"]
            [rules.rotation]
            revoke = "Generate a new signing key and deploy it"
            no_console = "The key is made by your own deployment, not issued by a console: rotate it with your key tooling"
            """)
        try repo.write("app.env", "ACME=acme_\(ExampleTemplate.expand("⟪lo:32⟫", salt: "acme"))\nZETA=zeta_\(ExampleTemplate.expand("⟪lo:32⟫", salt: "zeta"))\n")
        try repo.commit("tokens")
        let markdown = try KeysealBinary.run(["checklist"], in: repo.url)
        XCTAssertEqual(markdown.status, 0, markdown.stderr)
        XCTAssertTrue(markdown.stdout.contains("Console: <https://console.acme.example/tokens>"), markdown.stdout)
        XCTAssertTrue(markdown.stdout.contains("(documented at <https://docs.acme.example/cli/tokens>)"), markdown.stdout)
        XCTAssertTrue(markdown.stdout.contains("No console page: The key is made by your own deployment"), markdown.stdout)
        let html = try renderHTML(repo)
        XCTAssertTrue(html.contains("Console: <a href=\"https://console.acme.example/tokens\">https://console.acme.example/tokens</a>"), html)
        XCTAssertTrue(html.contains("(documented at <a href=\"https://docs.acme.example/cli/tokens\">"), html)
        XCTAssertTrue(html.contains("No console page: The key is made by your own deployment"), html)
        XCTAssertTrue(html.contains("create a new one with <code>acme tokens create</code>"), html)
    }

    func renderHTML(_ repo: TestRepository) throws -> String {
        let out = try KeysealBinary.run(["checklist", "--format", "html", "--out", "checklist.html"], in: repo.url)
        XCTAssertEqual(out.status, 0, out.stderr)
        return try String(contentsOf: repo.url.appendingPathComponent("checklist.html"), encoding: .utf8)
    }

    // MARK: - In a real browser

    static func chromium() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            for name in ["chromium", "chromium-browser"] where FileManager.default.isExecutableFile(atPath: "\(folder)/\(name)") {
                return "\(folder)/\(name)"
            }
        }
        return nil
    }

    /// Measures the page from inside it and writes the result into the DOM (`--dump-dom` reads it):
    /// every bar's box, whether it is shown and inside its track, and its colour.
    static let probe = """
        (function () {
          function shown(e) { var s = getComputedStyle(e); return s.display !== 'none' && s.visibility !== 'hidden' && parseFloat(s.opacity) > 0; }
          var bars = Array.prototype.map.call(document.querySelectorAll('.bar'), function (bar) {
            var r = bar.getBoundingClientRect(), t = bar.parentElement.getBoundingClientRect(), s = getComputedStyle(bar);
            return { secret: bar.getAttribute('data-secret'), status: bar.className, width: r.width, height: r.height, shown: shown(bar),
                     inside: r.left >= t.left - 0.5 && r.right <= t.right + 0.5 && r.top >= t.top && r.bottom <= t.bottom,
                     paint: s.backgroundColor + ' ' + s.backgroundImage };
          });
          var marks = Array.prototype.map.call(document.querySelectorAll('.today-mark'), function (m) {
            var r = m.getBoundingClientRect(); return { width: r.width, height: r.height, shown: shown(m) };
          });
          var ticks = Array.prototype.map.call(document.querySelectorAll('.tick span'), function (t) {
            return { text: t.textContent, cut: t.scrollWidth > t.clientWidth };
          });
          var result = document.createElement('pre');
          result.id = 'keyseal-probe';
          result.textContent = JSON.stringify({ bars: bars, todayMarks: marks, ticks: ticks, height: document.documentElement.scrollHeight,
                                                overflow: document.documentElement.scrollWidth > window.innerWidth });
          document.body.appendChild(result);
        })();
        """

    struct BrowserRun {
        let stdout: String
        /// The page's console messages (errors, CSP violations, uncaught exceptions).
        let console: [String]
    }

    func runChromium(_ chromium: String, _ arguments: [String], page: URL) throws -> BrowserRun {
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        let out = try TestRepository.capture("/usr/bin/timeout", ["120", chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                                                  "--no-first-run", "--hide-scrollbars", "--disable-dev-shm-usage", "--user-data-dir=\(profile.path)",
                                                                  "--enable-logging=stderr", "--v=0"] + arguments + [page.absoluteString],
                                             in: page.deletingLastPathComponent())
        XCTAssertEqual(out.status, 0, "chromium \(arguments): \(out.stderr)")
        let console = out.stderr.split(separator: "\n").map(String.init).filter { $0.contains(":CONSOLE") || $0.contains("Uncaught") }
        return BrowserRun(stdout: out.stdout, console: console)
    }

    /// Renders the realistic checklist in headless Chromium: no console message (no error, nothing
    /// blocked by the page's policy), a visible bar inside its track for every secret, a visible
    /// mark for the one introduced today, the false positive not painted like a rotated secret,
    /// nothing wider than the window; and a screenshot of the whole page.
    func testHTMLInChromiumHasABarForEverySecretAndNoConsoleError() throws {
        guard let chromium = Self.chromium() else {
            throw XCTSkip("chromium is not installed (apt-get install chromium, or ./install.sh --deps-only): the HTML checklist was not checked in a browser")
        }
        let (repo, _) = try realisticRepo()
        let html = try renderHTML(repo)
        let page = repo.url.appendingPathComponent("checklist.html")

        // The probe runs under the page's own policy, allowed by its hash alone.
        let policy = "content=\"default-src 'none';"
        XCTAssertTrue(html.contains(policy), "the page forbids loading anything")
        let hash = Data(SHA256.hash(data: Data(Self.probe.utf8))).base64EncodedString()
        let probed = html.replacingOccurrences(of: policy, with: "content=\"default-src 'none'; script-src 'sha256-\(hash)';")
            .replacingOccurrences(of: "</body>", with: "<script>\(Self.probe)</script></body>")
        let probePage = repo.url.appendingPathComponent("probe.html")
        try Data(probed.utf8).write(to: probePage)
        let dump = try runChromium(chromium, ["--window-size=1280,1000", "--dump-dom"], page: probePage)
        XCTAssertEqual(dump.console, [], "console messages")
        let start = try XCTUnwrap(dump.stdout.range(of: "<pre id=\"keyseal-probe\">"), "the probe ran: \(dump.stdout.suffix(500))")
        let end = try XCTUnwrap(dump.stdout.range(of: "</pre>", range: start.upperBound..<dump.stdout.endIndex))
        let text = String(dump.stdout[start.upperBound..<end.lowerBound]).replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
        let result = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
        let bars = try XCTUnwrap(result["bars"] as? [[String: Any]])
        XCTAssertEqual(bars.compactMap { $0["secret"] as? String }, (1...7).map(String.init), "one bar per secret")
        for bar in bars {
            XCTAssertGreaterThan(bar["width"] as? Double ?? 0, 0, "\(bar)")
            XCTAssertGreaterThan(bar["height"] as? Double ?? 0, 0, "\(bar)")
            XCTAssertEqual(bar["shown"] as? Bool, true, "\(bar)")
            XCTAssertEqual(bar["inside"] as? Bool, true, "\(bar)")
        }
        let paint = { (status: String) in bars.first { ($0["status"] as? String ?? "").contains(status) }?["paint"] as? String }
        XCTAssertNotEqual(paint("st-fp"), paint("st-rotated"), "a false positive does not look like a rotated secret")
        let marks = try XCTUnwrap(result["todayMarks"] as? [[String: Any]])
        XCTAssertEqual(marks.count, 1, "the secret introduced today is marked")
        XCTAssertGreaterThan(marks.first?["width"] as? Double ?? 0, 0)
        XCTAssertEqual(marks.first?["shown"] as? Bool, true)
        XCTAssertEqual(result["overflow"] as? Bool, false, "nothing wider than the window")
        let ticks = try XCTUnwrap(result["ticks"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(ticks.count, 6, "month labels")
        XCTAssertEqual(ticks.filter { $0["cut"] as? Bool != false }.count, 0, "month labels fit their months: \(ticks)")

        // The page itself, unchanged, as a screenshot of its full height.
        let height = min(max(Int(result["height"] as? Double ?? 3000), 600), 12_000)
        let screenshot = repo.url.appendingPathComponent("checklist.png")
        let shot = try runChromium(chromium, ["--window-size=1280,\(height)", "--screenshot=\(screenshot.path)"], page: page)
        XCTAssertEqual(shot.console, [], "console messages")
        let png = try Data(contentsOf: screenshot)
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47], "a PNG")
        XCTAssertGreaterThan(png.count, 10_000, "a page, not a blank")
        if let keepAt = ProcessInfo.processInfo.environment["KEYSEAL_CHECKLIST_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: keepAt)
            try FileManager.default.copyItem(at: screenshot, to: URL(fileURLWithPath: keepAt))
        }
    }
}
