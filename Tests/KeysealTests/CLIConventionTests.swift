import Foundation
import KeysealCore
import KeysealEngine
import XCTest

/// The conventions every command shares, through the built binary: `--color` and NO_COLOR,
/// shell completions, `--output/-o` and the positional PATH (with the old names still accepted),
/// `keyseal rules PATTERN`, `keyseal config init`, and help text that reads.
final class CLIConventionTests: XCTestCase {
    let escape = "\u{1B}["

    // MARK: Colour

    func testColourChoiceFollowsNoColorAndTheTerminal() {
        let terminal = true, pipe = false
        XCTAssertTrue(ColourChoice.auto.enabled(toTerminal: terminal, environment: [:]))
        XCTAssertFalse(ColourChoice.auto.enabled(toTerminal: pipe, environment: [:]))
        XCTAssertFalse(ColourChoice.auto.enabled(toTerminal: terminal, environment: ["NO_COLOR": "1"]))
        XCTAssertFalse(ColourChoice.auto.enabled(toTerminal: terminal, environment: ["NO_COLOR": "0"]), "any non-empty value")
        XCTAssertTrue(ColourChoice.auto.enabled(toTerminal: terminal, environment: ["NO_COLOR": ""]), "empty is unset")
        XCTAssertTrue(ColourChoice.always.enabled(toTerminal: pipe, environment: ["NO_COLOR": "1"]), "always overrides NO_COLOR")
        XCTAssertFalse(ColourChoice.never.enabled(toTerminal: terminal, environment: [:]))
    }

    /// `--version` alone is answered before the parser is built: the parser's line, exit 0.
    /// Nested commands keep their names (now given, not derived from the type's).
    func testVersionAndNestedCommandNames() throws {
        let folder = FileManager.default.temporaryDirectory
        let version = try KeysealBinary.run(["--version"], in: folder)
        XCTAssertEqual(version.status, 0)
        XCTAssertEqual(version.stdout, KeysealVersion.current + "\n")
        for (group, names) in [("hooks", ["install", "uninstall", "show"]), ("config", ["init", "check"]),
                               ("baseline", ["export", "import"]), ("store", ["migrate", "check", "import"])] {
            let help = try KeysealBinary.run([group, "--help"], in: folder)
            for name in names { XCTAssertTrue(help.stdout.contains("  \(name)"), "\(group) lists \(name)") }
            XCTAssertEqual(try KeysealBinary.run([group, names[0], "--help"], in: folder).status, 0)
        }
    }

    /// A repository with a tracked .env (an audit finding) and a token in history (a scan finding).
    func repositoryWithFindings() throws -> TestRepository {
        let repo = try TestRepository()
        try repo.write(".env", "DEBUG=1\n")
        try repo.write("config.txt", "token = \(FakeSecret.github("colour"))\n")
        try repo.commit("add config")
        return repo
    }

    func testColorOptionOnScanAndAudit() throws {
        let repo = try repositoryWithFindings()
        for command in [["scan", "--quiet", "--no-store"], ["audit"]] {
            let plain = try KeysealBinary.run(command, in: repo.url)
            XCTAssertEqual(plain.status, 1, plain.stderr)
            XCTAssertFalse(plain.stdout.contains(escape), "auto: no colour into a pipe (\(command[0]))")
            let always = try KeysealBinary.run(command + ["--color", "always"], in: repo.url, environment: ["NO_COLOR": "1"])
            XCTAssertEqual(always.status, 1, always.stderr)
            XCTAssertTrue(always.stdout.contains(escape), "always colours a pipe, NO_COLOR or not (\(command[0]))")
            let never = try KeysealBinary.run(command + ["--color", "never"], in: repo.url)
            XCTAssertFalse(never.stdout.contains(escape), command[0])
            // A file is never coloured, even with --color always.
            let file = repo.url.appendingPathComponent("report-\(command[0]).txt")
            let written = try KeysealBinary.run(command + ["--color", "always", "-o", file.path], in: repo.url)
            XCTAssertEqual(written.status, 1, written.stderr)
            XCTAssertFalse(try String(contentsOf: file, encoding: .utf8).contains(escape), command[0])
        }
        let bad = try KeysealBinary.run(["audit", "--color", "sometimes"], in: repo.url)
        XCTAssertEqual(bad.status, 2, "a value outside the enum is a usage error")
        XCTAssertTrue(bad.stderr.contains("auto") && bad.stderr.contains("always") && bad.stderr.contains("never"), bad.stderr)
    }

    /// `auto` on a real terminal (a pseudo-terminal from `script`): colour, unless NO_COLOR is set.
    func testAutoColoursATerminalUnlessNoColor() throws {
        let script = "/usr/bin/script"
        guard FileManager.default.isExecutableFile(atPath: script) else { throw XCTSkip("script(1) (util-linux) is not installed") }
        let repo = try repositoryWithFindings()
        // NO_COLOR is set (or unset) inside the terminal: the test runner may set it for its children.
        func onTerminal(noColor: String?) throws -> String {
            let environment = noColor.map { "NO_COLOR='\($0)'" } ?? "-u NO_COLOR"
            let command = "env \(environment) '\(KeysealBinary.path)' audit"
            let out = try TestRepository.capture(script, ["-qec", command, "/dev/null"], in: repo.url)
            XCTAssertEqual(out.status, 1, out.stdout + out.stderr)
            XCTAssertTrue(out.stdout.contains("audit-tracked-env-file"), out.stdout)
            return out.stdout
        }
        XCTAssertTrue(try onTerminal(noColor: nil).contains(escape), "a terminal gets colour")
        XCTAssertFalse(try onTerminal(noColor: "1").contains(escape), "NO_COLOR turns it off")
        XCTAssertTrue(try onTerminal(noColor: "").contains(escape), "an empty NO_COLOR does not")
        let forced = try TestRepository.capture(script, ["-qec", "env NO_COLOR=1 '\(KeysealBinary.path)' audit --color never", "/dev/null"],
                                                in: repo.url)
        XCTAssertFalse(forced.stdout.contains(escape), "never, even on a terminal")
    }

    // MARK: Completions

    func testCompletionScriptsForEachShell() throws {
        let directory = FileManager.default.temporaryDirectory
        let markers = ["bash": "-F _keyseal keyseal", "zsh": "#compdef keyseal", "fish": "complete -c 'keyseal'"]
        for (shell, marker) in markers {
            let out = try KeysealBinary.run(["completions", shell], in: directory)
            XCTAssertEqual(out.status, 0, out.stderr)
            XCTAssertTrue(out.stdout.contains(marker), "\(shell): \(out.stdout.prefix(200))")
            // fish names a long option without its dashes (-l 'output').
            let option = { (name: String) in shell == "fish" ? "-l '\(name)'" : "--\(name)" }
            for word in ["scan", "audit", "pre-push", "completions", option("output"), option("color")] {
                XCTAssertTrue(out.stdout.contains(word), "\(shell) completes \(word)")
            }
            // Whole words: "--out" is a prefix of "--output".
            let words = Set(out.stdout.split { !($0.isLetter || $0 == "-" || $0 == "'") }.map(String.init))
            let hidden = shell == "fish" ? ["'report'", "'out'"] : ["--report", "--out"]
            XCTAssertTrue(words.isDisjoint(with: hidden), "\(shell): the hidden old names are not offered")
            // The script is valid for its shell, where that shell is installed.
            let checker = ["/bin/bash", "/usr/bin/bash", "/usr/bin/zsh", "/bin/zsh", "/usr/bin/fish"].first {
                $0.hasSuffix("/\(shell)") && FileManager.default.isExecutableFile(atPath: $0)
            }
            if let checker {
                let file = directory.appendingPathComponent("keyseal-completion-\(UUID().uuidString).\(shell)")
                try Data(out.stdout.utf8).write(to: file)
                defer { try? FileManager.default.removeItem(at: file) }
                let check = try TestRepository.capture(checker, ["-n", file.path], in: directory)
                XCTAssertEqual(check.status, 0, "\(shell) -n: \(check.stderr)")
            }
        }
        let bash = try KeysealBinary.run(["completions", "bash"], in: directory).stdout
        XCTAssertTrue(bash.contains("markdown") && bash.contains("sarif"), "enum values are completed")
        let unknown = try KeysealBinary.run(["completions", "powershell"], in: directory)
        XCTAssertEqual(unknown.status, 2)
    }

    // MARK: One name for the output file and the repository

    func testOutputAndItsOldNames() throws {
        let repo = try repositoryWithFindings()
        for name in ["--output", "-o", "--report", "-r"] {
            let file = repo.url.appendingPathComponent("scan\(name).json")
            let out = try KeysealBinary.run(["scan", "--quiet", "--no-store", "--format", "json", name, file.path], in: repo.url)
            XCTAssertEqual(out.status, 1, "\(name): \(out.stderr)")
            XCTAssertTrue(out.stdout.isEmpty, name)
            XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(contentsOf: file)), name)
        }
        for name in ["--output", "--report"] {
            let file = repo.url.appendingPathComponent("audit\(name).json")
            XCTAssertEqual(try KeysealBinary.run(["audit", "--format", "json", name, file.path], in: repo.url).status, 1, name)
            XCTAssertTrue(FileManager.default.fileExists(atPath: file.path), name)
        }
        for (command, name) in [("checklist", "--out"), ("checklist", "-o"), ("rebuild", "--out"), ("rebuild", "--output")] {
            let file = repo.url.appendingPathComponent("\(command)\(name).out")
            let out = try KeysealBinary.run([command, name, file.path], in: repo.url)
            XCTAssertEqual(out.status, 0, "\(command) \(name): \(out.stderr)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: file.path), "\(command) \(name)")
        }
        // Both names for different files: a usage error, nothing written.
        let a = repo.url.appendingPathComponent("a.json").path, b = repo.url.appendingPathComponent("b.json").path
        let both = try KeysealBinary.run(["scan", "--quiet", "--no-store", "--output", a, "--report", b], in: repo.url)
        XCTAssertEqual(both.status, 2)
        XCTAssertTrue(both.stderr.contains("--output"), both.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: a) || FileManager.default.fileExists(atPath: b))
        // Help shows the new name only.
        for command in ["scan", "audit", "staged", "checklist", "rebuild"] {
            let help = try KeysealBinary.run(["help", command], in: repo.url).stdout
            XCTAssertTrue(help.contains("-o, --output <file>"), "\(command): \(help)")
            XCTAssertFalse(help.contains("--report") || help.contains("--out "), "\(command) hides the old names")
        }
    }

    func testStagedWritesItsReportThroughEitherName() throws {
        let repo = try TestRepository()
        try repo.write("a.txt", "token = \(FakeSecret.github("staged"))\n")
        for name in ["-o", "--report"] {
            let file = repo.url.appendingPathComponent("staged\(name).json")
            let out = try KeysealBinary.run(["staged", name, file.path], in: repo.url)
            XCTAssertEqual(out.status, 1, out.stderr)
            XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(contentsOf: file)), name)
        }
    }

    func testRepositoryAsPathOrOldRepoOption() throws {
        let repo = try repositoryWithFindings()
        let elsewhere = FileManager.default.temporaryDirectory
        let hooks = repo.url.appendingPathComponent(".git/hooks")
        // hooks install/uninstall: PATH, or --repo.
        XCTAssertEqual(try KeysealBinary.run(["hooks", "install", repo.path], in: elsewhere).status, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: hooks.appendingPathComponent("pre-push").path))
        XCTAssertEqual(try KeysealBinary.run(["hooks", "uninstall", "--repo", repo.path], in: elsewhere).status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: hooks.appendingPathComponent("pre-push").path))
        XCTAssertEqual(try KeysealBinary.run(["hooks", "install", "--pre-commit", "--repo", repo.path], in: elsewhere).status, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: hooks.appendingPathComponent("pre-commit").path))
        let conflict = try KeysealBinary.run(["hooks", "install", repo.path, "--repo", elsewhere.path], in: elsewhere)
        XCTAssertEqual(conflict.status, 2, "PATH and --repo naming two repositories is a usage error")

        // triage and baseline: PATH, or --repo.
        XCTAssertEqual(try KeysealBinary.run(["scan", "--quiet", repo.path], in: elsewhere).status, 1)
        let findings = try KeysealBinary.run(["findings", repo.path, "--format", "json"], in: elsewhere)
        let secrets = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(findings.stdout.utf8)) as? [[String: Any]], findings.stderr)
        let prefix = String(try XCTUnwrap(secrets.first?["fingerprint"] as? String).prefix(12))
        let triaged = try KeysealBinary.run(["triage", prefix, repo.path, "--status", "accepted"], in: elsewhere)
        XCTAssertEqual(triaged.status, 0, triaged.stderr)
        let again = try KeysealBinary.run(["triage", prefix, "--repo", repo.path, "--status", "false-positive"], in: elsewhere)
        XCTAssertEqual(again.status, 0, again.stderr)
        let baseline = repo.url.appendingPathComponent("exported.json")
        let exported = try KeysealBinary.run(["baseline", "export", repo.path, "-o", baseline.path], in: elsewhere)
        XCTAssertEqual(exported.status, 0, exported.stderr)
        let old = repo.url.appendingPathComponent("old-names.json")
        XCTAssertEqual(try KeysealBinary.run(["baseline", "export", "--repo", repo.path, "--out", old.path], in: elsewhere).status, 0)
        XCTAssertEqual(try Data(contentsOf: baseline), try Data(contentsOf: old))
        let imported = try KeysealBinary.run(["baseline", "import", baseline.path, repo.path], in: elsewhere)
        XCTAssertEqual(imported.status, 0, imported.stderr)
        XCTAssertEqual(try KeysealBinary.run(["baseline", "import", baseline.path, "--repo", repo.path], in: elsewhere).status, 0)

        // Help documents PATH and hides --repo, except on pre-push, whose positionals are git's.
        let help = try KeysealBinary.run(["help", "hooks", "install"], in: elsewhere).stdout
        XCTAssertTrue(help.contains("<path>"), help)
        XCTAssertFalse(help.contains("--repo"), help)
        XCTAssertTrue(try KeysealBinary.run(["help", "pre-push"], in: elsewhere).stdout.contains("--repo <path>"))
    }

    // MARK: rules PATTERN

    func testRulesPatternFiltersByIdOrProviderAndListsAuditRules() throws {
        let directory = FileManager.default.temporaryDirectory
        func listedIDs(_ arguments: [String]) throws -> [String] {
            let out = try KeysealBinary.run(["rules"] + arguments, in: directory)
            XCTAssertEqual(out.status, 0, out.stderr)
            return out.stdout.split(separator: "\n").dropLast().map { String($0.split(separator: " ")[0]) }
        }
        let all = try listedIDs([])
        XCTAssertEqual(all, BuiltInRules.all.map(\.id) + AuditRules.all.map(\.id), "content rules, then audit rules")

        // A substring of the id or the provider, ignoring case.
        let stripe = try listedIDs(["STRIPE"])
        XCTAssertEqual(stripe, BuiltInRules.all.filter { $0.id.contains("stripe") || $0.provider.lowercased().contains("stripe") }.map(\.id))
        XCTAssertFalse(stripe.isEmpty)
        let byProvider = try XCTUnwrap(BuiltInRules.all.first { !$0.id.lowercased().contains($0.provider.lowercased()) })
        XCTAssertTrue(try listedIDs([byProvider.provider.lowercased()]).contains(byProvider.id), "found by provider alone")

        // A glob matches the whole id or provider.
        let awsGlob = try listedIDs(["aws-*"])
        XCTAssertEqual(awsGlob, BuiltInRules.all.filter { $0.id.hasPrefix("aws-") }.map(\.id))
        XCTAssertEqual(try listedIDs(["audit-dockerfile-*"]), AuditRules.all.filter { $0.id.hasPrefix("audit-dockerfile-") }.map(\.id))
        XCTAssertEqual(try listedIDs(["audit"]).sorted(), AuditRules.all.map(\.id).sorted() + [], "every audit id holds 'audit'")
        XCTAssertEqual(try listedIDs(["no-rule-is-called-this"]), [])

        // JSON: the same filter, each entry with its kind.
        let json = try KeysealBinary.run(["rules", "--format", "json", "*docker*"], in: directory)
        let entries = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]], json.stderr)
        XCTAssertFalse(entries.isEmpty)
        for entry in entries {
            let id = try XCTUnwrap(entry["id"] as? String)
            switch entry["kind"] as? String {
            case "content": XCTAssertNotNil(entry["regex"] as? String, id)
            case "audit": XCTAssertNotNil(entry["fix"] as? String, id); XCTAssertNil(entry["regex"], id)
            default: XCTFail("\(id): no kind")
            }
        }
        XCTAssertTrue(entries.contains { $0["kind"] as? String == "audit" })

        // --check still takes files; a listing takes one pattern.
        XCTAssertEqual(try KeysealBinary.run(["rules", "aws", "stripe"], in: directory).status, 2)
        XCTAssertEqual(try KeysealBinary.run(["rules", "--compile", "aws"], in: directory).status, 2)
    }

    // MARK: config init

    func testConfigInitWritesAStarterThatLoads() throws {
        let repo = try TestRepository()
        let sub = repo.url.appendingPathComponent("src/deep")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        let out = try KeysealBinary.run(["config", "init"], in: sub)
        XCTAssertEqual(out.status, 0, out.stderr)
        let file = repo.url.appendingPathComponent(KeysealConfig.fileName)
        let written = try String(contentsOf: file, encoding: .utf8)
        XCTAssertEqual(written, StarterConfig.text, "at the repository's root, not in the folder it ran in")

        // It loads through the config parser with no error and no warning, and sets nothing.
        let config = try KeysealConfig.load(file: file.path)
        XCTAssertEqual(config.warnings, [])
        XCTAssertTrue(config.allowPaths.isEmpty && config.disabledRules.isEmpty && config.customRules.isEmpty)
        XCTAssertNil(config.maxBlobSize)
        let check = try KeysealBinary.run(["config", "check", file.path], in: repo.url)
        XCTAssertEqual(check.status, 0, check.stdout + check.stderr)

        // The commented rule and max_blob_size, uncommented, load too, and the rule passes its examples.
        let uncommented = written.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let text = String(line)
            let starts = ["# [[rules]]", "# id", "# provider", "# description", "# regex", "# min_entropy", "# examples",
                          "# negative_examples", "# [rules.rotation]", "# revoke", "# max_blob_size"]
            return starts.contains { text.hasPrefix($0) } ? String(text.dropFirst(2)) : text
        }.joined(separator: "\n")
        let edited = try KeysealConfig.parse(uncommented, file: "edited.toml")
        XCTAssertEqual(edited.customRules.map(\.id), ["acme-token"])
        XCTAssertEqual(edited.maxBlobSize, 25 << 20)
        XCTAssertEqual(edited.warnings, [])
        XCTAssertEqual(try RuleExampleCheck.check(edited.customRules, within: edited.rules()).failures, [])

        // An existing file is kept unless --force.
        try Data("# mine\n".utf8).write(to: file)
        let refused = try KeysealBinary.run(["config", "init", repo.path], in: repo.url)
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("--force"), refused.stderr)
        XCTAssertEqual(try String(contentsOf: file, encoding: .utf8), "# mine\n")
        XCTAssertEqual(try KeysealBinary.run(["config", "init", "--force"], in: repo.url).status, 0)
        XCTAssertEqual(try String(contentsOf: file, encoding: .utf8), StarterConfig.text)

        // --output writes elsewhere, with no repository needed.
        let other = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-starter-\(UUID().uuidString).toml")
        defer { try? FileManager.default.removeItem(at: other) }
        XCTAssertEqual(try KeysealBinary.run(["config", "init", "-o", other.path], in: FileManager.default.temporaryDirectory).status, 0)
        XCTAssertEqual(try String(contentsOf: other, encoding: .utf8), StarterConfig.text)
        XCTAssertEqual(try KeysealBinary.run(["config", "init", "-o", other.path], in: repo.url).status, 2)
    }

    // MARK: Help

    /// Every command's help, as `keyseal help X` prints it: it runs, and its discussion is written
    /// in paragraphs (a single newline inside one would break a sentence wherever the terminal wraps).
    func testEveryCommandsHelpRunsAndIsWrittenInParagraphs() throws {
        let directory = FileManager.default.temporaryDirectory
        let tool = try ToolInfo.load()
        for command in tool.allCommands() {
            let path = Array(command.path.dropFirst())
            let help = try KeysealBinary.run(["help"] + path, in: directory)
            XCTAssertEqual(help.status, 0, "keyseal help \(path.joined(separator: " ")): \(help.stderr)")
            XCTAssertTrue(help.stdout.contains("USAGE: keyseal"), path.joined(separator: " "))
            let name = command.path.joined(separator: " ")
            XCTAssertFalse(command.info.abstract?.isEmpty ?? true, "\(name) has an abstract")
            if let discussion = command.info.discussion {
                let singleBreaks = discussion.replacingOccurrences(of: "\n\n", with: "").contains("\n")
                XCTAssertFalse(singleBreaks, "\(name): a line break inside a paragraph: \(discussion)")
            }
            for argument in command.info.arguments ?? [] where argument.shouldDisplay {
                let text = argument.abstract ?? ""
                XCTAssertFalse(text.isEmpty, "\(name) \(argument.valueName ?? "?") has help")
                XCTAssertFalse(text.contains("\n"), "\(name) \(argument.valueName ?? "?")")
            }
        }
    }

    // MARK: The man page

    /// docs/keyseal.1 is generated by docs/generate-man.sh (ArgumentParser's generate-manual plugin).
    /// It must describe the commands as they are: every command with its abstract and discussion,
    /// and every option shown in help with its help text; and no option that no longer exists.
    func testManPageIsUpToDate() throws {
        let page = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("docs/keyseal.1"), encoding: .utf8)
        let text = ManPage.plainText(page)
        let tool = try ToolInfo.load()
        var longNames = Set<String>()
        let regenerate = "run docs/generate-man.sh (CONTRIBUTING.md, 'The command line and its man page')"
        for command in tool.allCommands() {
            let name = command.path.joined(separator: " ")
            if let abstract = command.info.abstract {
                XCTAssertTrue(text.contains(ManPage.normalised(abstract)), "docs/keyseal.1 lacks the abstract of \(name); \(regenerate)")
            }
            if let discussion = command.info.discussion {
                XCTAssertTrue(text.contains(ManPage.normalised(discussion)), "docs/keyseal.1 lacks the discussion of \(name); \(regenerate)")
            }
            for argument in command.info.arguments ?? [] where argument.shouldDisplay {
                for argumentName in argument.names ?? [] where argumentName.kind == "long" {
                    longNames.insert(argumentName.name)
                }
                if let abstract = argument.abstract, !abstract.isEmpty {
                    XCTAssertTrue(text.contains(ManPage.normalised(abstract)),
                                  "docs/keyseal.1 lacks '\(abstract)' (\(name)); \(regenerate)")
                }
            }
        }
        let inPage = ManPage.longOptions(page)
        XCTAssertEqual(inPage.subtracting(longNames), [], "options in docs/keyseal.1 that keyseal no longer has; \(regenerate)")
        XCTAssertEqual(longNames.subtracting(inPage), [], "options docs/keyseal.1 lacks; \(regenerate)")
    }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}

/// The parts of ArgumentParser's `--experimental-dump-help` JSON these tests read.
struct ToolInfo: Decodable {
    struct Command: Decodable {
        let commandName: String
        let abstract: String?
        let discussion: String?
        let arguments: [Argument]?
        let subcommands: [Command]?
    }
    struct Argument: Decodable {
        struct Name: Decodable {
            let kind: String
            let name: String
        }
        let names: [Name]?
        let valueName: String?
        let abstract: String?
        let shouldDisplay: Bool
    }
    let command: Command

    static func load() throws -> ToolInfo {
        let out = try KeysealBinary.run(["--experimental-dump-help"], in: FileManager.default.temporaryDirectory)
        guard out.status == 0 else { throw TestFailure("--experimental-dump-help exited \(out.status): \(out.stderr)") }
        return try JSONDecoder().decode(ToolInfo.self, from: Data(out.stdout.utf8))
    }

    /// Every command and subcommand with its path from the root (`["keyseal", "hooks", "install"]`),
    /// less ArgumentParser's own `help`.
    func allCommands() -> [(path: [String], info: Command)] {
        var out: [(path: [String], info: Command)] = []
        func visit(_ command: Command, _ path: [String]) {
            out.append((path + [command.commandName], command))
            for sub in command.subcommands ?? [] where sub.commandName != "help" { visit(sub, path + [command.commandName]) }
        }
        visit(command, [])
        return out
    }
}

/// Reads an mdoc page as the tests need it: its words without macros, and its options.
enum ManPage {
    /// The page's text, macros and escapes removed, whitespace collapsed.
    static func plainText(_ page: String) -> String {
        let words = page.split(separator: "\n").map { line -> String in
            var text = String(line)
            if text.hasPrefix(".\\\"") { return "" }
            if text.hasPrefix(".") {
                // A macro line: drop the macro names (capitalised two- or three-letter words), keep the text.
                text = text.split(separator: " ").filter { !isMacro($0) }.joined(separator: " ")
            }
            return text
        }
        return normalised(words.joined(separator: " "))
    }

    static func isMacro(_ word: Substring) -> Bool {
        let bare = word.hasPrefix(".") ? word.dropFirst() : word
        return ["Dd", "Dt", "Os", "Sh", "Nm", "Nd", "Op", "Ar", "Fl", "Bl", "El", "It", "Pp", "Ss", "Xr", "Em", "Li", "Ql",
                "Ns", "Oo", "Oc", "Cm", "Sy", "Ek", "Bk", "An", "Pa", "Ev", "Ex", "Tn", "Dl", "Bd", "Ed", "Lk", "Mt", "No"]
            .contains(String(bare))
    }

    /// Escapes undone and whitespace collapsed, for comparing help text with the page.
    static func normalised(_ text: String) -> String {
        var text = text
        for (escaped, plain) in [("\\-", "-"), ("\\(aq", "'"), ("\\(dq", "\""), ("\\e", "\\"), ("\\&", ""), ("\\[", "["), ("\\]", "]")] {
            text = text.replacingOccurrences(of: escaped, with: plain)
        }
        return text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).joined(separator: " ")
    }

    /// The long options the page documents: `.It Fl -name`, `.It Fl f , -name`, `.Op Fl -name`.
    static func longOptions(_ page: String) -> Set<String> {
        var names = Set<String>()
        for line in page.split(separator: "\n") where line.hasPrefix(".It Fl ") || line.hasPrefix(".Op Fl ") {
            for word in line.split(separator: " ").dropFirst(2) {
                let word = word.replacingOccurrences(of: "\\-", with: "-")
                if word.hasPrefix("-") && word.count > 1 { names.insert(String(word.dropFirst())) }
            }
        }
        return names
    }
}
