import ArgumentParser
import Foundation
import KeysealCore
import KeysealEngine
import KeysealGit
import KeysealStore

@main
struct Keyseal: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keyseal",
        abstract: "Keep credentials out of git history, and out of the images built from it.",
        discussion: """
            A command that reads a repository takes it as PATH (default: the current folder; \
            pre-push, whose arguments are git's, takes --repo). A command that writes a file \
            takes it as --output FILE (-o). Text reports are coloured only on a terminal, and not \
            when NO_COLOR is set; --color always|never decides instead. `keyseal completions \
            bash|zsh|fish` prints a completion script, and `man keyseal` (docs/keyseal.1) describes \
            every command.

            Exit codes: 0 nothing found, 1 secrets found, 2 usage or runtime error.
            """,
        version: KeysealVersion.current,
        subcommands: [ScanCommand.self, AuditCommand.self, StagedCommand.self, PrePushCommand.self, PreReceiveCommand.self, ImageCommand.self, HooksCommand.self, FindingsCommand.self, TriageCommand.self, BaselineCommand.self, ChecklistCommand.self, RebuildCommand.self, StoreCommand.self, ConfigCommand.self, RulesCommand.self, CompletionsCommand.self],
        defaultSubcommand: nil)

    /// ArgumentParser exits 64 on usage errors and 1 on other errors; keyseal promises 2 for both,
    /// keeping 1 for "secrets found". Usage text goes with usage errors only (parsing and
    /// `validate()`); an error while running is one line, `keyseal: <message>`.
    static func main() {
        // A bare `--version` is answered before the parser is built: building it reflects over
        // every command's arguments, most of what `--version` took (27 ms).
        if CommandLine.arguments.dropFirst() == ["--version"] {
            print(KeysealVersion.current)
            Foundation.exit(0)
        }
        var command: ParsableCommand
        do {
            command = try hookCommand() ?? parseAsRoot()
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }  // --help, --version
            fail(fullMessage(for: error))
        }
        do {
            try command.run()
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch {
            // A command group run without a subcommand asks for its help this way.
            if exitCode(for: error) == .success { exit(withError: error) }
            fail(describe(error))
        }
    }

    /// The hooks' commands, parsed on their own: git runs them on every commit and push, and the
    /// root's parse sets up every command's arguments first. Anything they do not parse (help, a
    /// usage error) goes to the root's parse, so its messages and usage text stay the root's.
    static func hookCommand() -> ParsableCommand? {
        let arguments = CommandLine.arguments.dropFirst()
        // git's pre-commit hook runs `keyseal staged` with no argument: every option at its
        // default, so nothing to parse. Parsing reflects over the command's properties, and the
        // runtime's conformance lookups for them took 1.2 of a hook's 10 ms.
        if arguments.elementsEqual(["staged"]) { return DefaultStagedCommand() }
        let commands: [String: ParsableCommand.Type] = [
            "staged": StagedCommand.self, "pre-push": PrePushCommand.self, "pre-receive": PreReceiveCommand.self,
        ]
        guard let name = arguments.first, let type = commands[name] else { return nil }
        return try? type.parse(Array(arguments.dropFirst()))
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data(("keyseal: " + TerminalText.escape(message, keepingNewlines: true) + "\n").utf8))
        Foundation.exit(2)
    }

    /// The message of an error raised while running. The core's errors arrive here with their types
    /// (nothing below flattens them): each says what failed and where, never quoting scanned content.
    static func describe(_ error: Error) -> String {
        switch error {
        case let error as KeysealError: return error.description
        // libgit2's failure, with the C function that returned it (the class and code stay in the value).
        case let error as GitError: return "\(error.function): \(error.message)"
        // SQLite's failure (or the store's own), naming the store file.
        case let error as StoreError: return error.message
        case let error as EngineError: return error.message
        // The config file, line and key.
        case let error as ConfigError: return error.description
        case let error as RuntimeError: return error.message
        case let error as ValidationError: return error.message
        case let error as CocoaError: return error.localizedDescription
        case let error as LocalizedError where error.errorDescription != nil: return error.localizedDescription
        case let error as CustomStringConvertible: return error.description
        default: return error.localizedDescription
        }
    }
}

/// A failure while running (a report that cannot be written…): one clear line and exit 2, never
/// the usage text, which is for usage errors.
struct RuntimeError: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// Which config file to use; shared by every command that scans.
struct ConfigOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Config file (default: .keyseal.toml at the repository root, when present).", valueName: "file"),
            completion: .file())
    var config: String?

    func validate() throws {
        if let config, !FileManager.default.fileExists(atPath: config) {
            throw ValidationError("--config: no file at \(config).")
        }
    }
}

/// Where and how to write a report; shared by every command that reports findings.
struct ReportOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "Report format: text, json, sarif (GitHub code scanning), gitlab (GitLab secret detection), junit or csv.")
    var format: Format = .text

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the report to this file instead of standard output.", valueName: "file"),
            completion: .file())
    var output: String?

    /// The old name of --output.
    @Option(name: [.customLong("report"), .customShort("r")], help: .hidden)
    var report: String?

    @Flag(help: "Put the clear secret values in the report. Without it, only a redacted preview and a fingerprint.")
    var showSecrets = false

    @OptionGroup var colour: ColourOptions

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json, sarif, gitlab, junit, csv
        var reportFormat: ReportFormat { ReportFormat(rawValue: rawValue)! }  // Safe: the cases mirror ReportFormat's.
    }

    mutating func validate() throws {
        output = try OldNames.output(output, or: report, oldName: "--report")
    }

    func write(_ result: ScanResult) throws {
        if let output {
            // A file is written without colour, whatever --color says: colour is for a reader at a terminal.
            let data = try ReportWriter.render(result, format: format.reportFormat, colour: false)
            try OutputFile.write(data, to: output, as: .report, privately: showSecrets)
            if format != .text {
                let text = ReportWriter.render(summaryOnly: result)
                FileHandle.standardError.write(Data(text.utf8))
            }
        } else {
            let colour = format == .text && colour.toStandardOutput
            FileHandle.standardOutput.write(try ReportWriter.render(result, format: format.reportFormat, colour: colour))
        }
    }
}
