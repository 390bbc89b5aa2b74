import ArgumentParser
import Foundation
import KeysealCore
import KeysealEngine

struct StagedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "staged",
        abstract: "Scan what `git commit` would record (the index against HEAD); only added lines count.",
        discussion: """
            With --files, the staged content of the files named is also scanned whole. The \
            pre-commit framework runs it so: it passes the files a run is about (every file with \
            --all-files).

            Exit codes: 0 nothing found, 1 secrets found or a file not fully scanned (the commit \
            should stop), 2 error.
            """)

    @Argument(help: repositoryHelp, completion: .directory)
    var path: String = "."

    @Option(parsing: .remaining,
            help: ArgumentHelp("Files (relative to the repository's root) whose staged content is scanned whole: every argument after --files.",
                               valueName: "file"),
            completion: .file())
    var files: [String] = []

    @OptionGroup var options: HookOptions

    func run() throws {
        try Self.run(path: path, files: files, config: options.configuration.config, showSecrets: options.showSecrets,
                     output: options.output)
    }

    /// What `keyseal staged` does, given its options.
    static func run(path: String, files: [String], config: String?, showSecrets: Bool, output: String?) throws {
        let result = try GuardScanner.staged(path: path, files: files, configFile: config, showSecrets: showSecrets)
        for note in result.notes { FileHandle.standardError.write(Data("keyseal: note: \(TerminalText.escape(note))\n".utf8)) }
        try writeGuardReport(result, to: output, privately: showSecrets)
        guard result.blocks else { return }
        FileHandle.standardError.write(Data(GuardReport.staged(result).utf8))
        throw ExitCode(1)
    }
}

/// `keyseal staged` with no argument (as git's pre-commit hook runs it): `StagedCommand` with every
/// option at its default, made without a parse (`Keyseal.hookCommand`). Not a subcommand of its own.
struct DefaultStagedCommand: ParsableCommand {
    func run() throws {
        try StagedCommand.run(path: ".", files: [], config: nil, showSecrets: false, output: nil)
    }
}

struct PrePushCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pre-push",
        abstract: "git's pre-push hook: scan the commits a push would send; only added lines count.",
        discussion: """
            Reads lines of `<local ref> <local oid> <remote ref> <remote oid>` on standard input, as \
            git's pre-push hook receives them. The new commits are those reachable from the local id \
            and not from the remote id or any refs/remotes/REMOTE/*. Deletions pass.

            Under the pre-commit framework (no standard input), PRE_COMMIT_FROM_REF, \
            PRE_COMMIT_TO_REF and PRE_COMMIT_REMOTE_NAME are used instead. Where the framework gives \
            no range (a push that holds a root commit), every commit of PRE_COMMIT_LOCAL_BRANCH (or \
            HEAD) that the remote's tracking refs do not hold is scanned.

            The positional arguments are git's (the remote and its URL), so the repository is given \
            with --repo here, not as PATH.

            Exit codes: 0 nothing found, 1 secrets found or a file not fully scanned (the push \
            should stop), 2 error.
            """)

    @Argument(help: "The remote's name (or its URL when pushing to a URL), as git passes it.")
    var remote: String?

    @Argument(help: "The remote's URL, as git passes it (not used to connect).")
    var url: String?

    @Option(help: ArgumentHelp("The repository, or a folder inside it.", valueName: "path"), completion: .directory)
    var repo: String = "."

    @OptionGroup var options: HookOptions

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let input = isatty(STDIN_FILENO) == 1 ? "" : String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        var updates = try PushUpdate.parse(input)
        let noRemoteID = String(repeating: "0", count: 40)
        if updates.isEmpty, let to = environment["PRE_COMMIT_TO_REF"] {
            let from = environment["PRE_COMMIT_FROM_REF"] ?? noRemoteID
            updates = [PushUpdate(localRef: environment["PRE_COMMIT_LOCAL_BRANCH"] ?? "HEAD", localOID: to,
                                  remoteRef: environment["PRE_COMMIT_REMOTE_BRANCH"] ?? "", remoteOID: from)]
        } else if updates.isEmpty, environment["PRE_COMMIT"] == "1" || environment["PRE_COMMIT_REMOTE_NAME"] != nil {
            // The pre-commit framework read git's lines itself and runs hooks only when something is
            // pushed, but gives no range when the push holds a root commit (a new repository's first
            // push): then everything the local branch holds that the remote lacks is new.
            let local = environment["PRE_COMMIT_LOCAL_BRANCH"].flatMap { $0.isEmpty ? nil : $0 } ?? "HEAD"
            updates = [PushUpdate(localRef: local, localOID: "", remoteRef: environment["PRE_COMMIT_REMOTE_BRANCH"] ?? "",
                                  remoteOID: noRemoteID)]
        }
        let remoteName = remote ?? environment["PRE_COMMIT_REMOTE_NAME"] ?? ""
        let result = try GuardScanner.prePush(path: repo, remote: remoteName, updates: updates,
                                              configFile: options.configuration.config, showSecrets: options.showSecrets)
        for note in result.notes { FileHandle.standardError.write(Data("keyseal: note: \(TerminalText.escape(note))\n".utf8)) }
        try writeGuardReport(result, to: options.output, privately: options.showSecrets)
        guard result.blocks else { return }
        FileHandle.standardError.write(Data(GuardReport.prePush(result, remote: remoteName).utf8))
        throw ExitCode(1)
    }
}

struct PreReceiveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pre-receive",
        abstract: "git's pre-receive hook on a server: refuse a push whose new commits add a secret.",
        discussion: """
            Run by git in the repository that receives a push (install it with `keyseal hooks \
            install --server`). Reads `<old> <new> <ref>` lines on standard input, and scans the \
            commits the push would add: those reachable from a new id and from no ref the \
            repository has now. Objects still in git's quarantine are read. Deletions pass. A \
            client's --no-verify does not skip it.

            The policy is the server's: --config, else keyseal.toml or .keyseal.toml in the \
            repository's git directory (a config inside the pushed commits never applies), the \
            baseline .keyseal-baseline.json there, and triage decisions in the store beside the \
            repository (`keyseal triage` run there).

            Exit codes: 0 the push may go on, 1 refused (a secret, a file not fully scanned, or \
            the time budget spent), 2 error (git refuses the push then too).
            """)

    enum TimeoutAction: String, ExpressibleByArgument, CaseIterable {
        case refuse, pass
    }

    @OptionGroup var configuration: ConfigOptions

    @Flag(help: "Let every push through, printing what would have been refused (for a rollout period).")
    var warnOnly = false

    @Option(help: ArgumentHelp("Seconds the scan may take (the server's hook time limit).", valueName: "seconds"))
    var timeout: Double?

    @Option(help: "When --timeout is spent: refuse the push (default), or pass it with a warning.")
    var onTimeout: TimeoutAction = .refuse

    @Flag(help: "Accept `git push -o keyseal.bypass=REASON` (an emergency bypass; it is recorded in the store with the pusher and reason).")
    var allowBypass = false

    @Option(name: .shortAndLong, help: ArgumentHelp("Also write the findings to this file, in the format its name asks for.", valueName: "file"),
            completion: .file())
    var output: String?

    func validate() throws {
        if let timeout, !(timeout.isFinite && timeout > 0 && timeout <= 86_400) {
            throw ValidationError("--timeout must be a number of seconds above 0 and at most 86400")
        }
    }

    func run() throws {
        let input = isatty(STDIN_FILENO) == 1 ? "" : String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        let updates = try ReceiveUpdate.parse(input)
        let result = try GuardScanner.preReceive(
            updates: updates, options: PreReceiveOptions(configFile: configuration.config, timeout: timeout))
        for note in result.notes { FileHandle.standardError.write(Data("keyseal: note: \(TerminalText.escape(note))\n".utf8)) }
        try writeGuardReport(result, to: output, privately: false)
        var refuse = false
        if result.timedOut {
            let refused = onTimeout == .refuse && !warnOnly
            FileHandle.standardError.write(Data(GuardReport.preReceiveTimeout(result, seconds: timeout ?? 0, refused: refused).utf8))
            refuse = refused
        }
        if result.blocks {
            FileHandle.standardError.write(Data(GuardReport.preReceive(result, warnOnly: warnOnly).utf8))
            refuse = refuse || !warnOnly
        }
        guard refuse else { return }
        let environment = ProcessInfo.processInfo.environment
        if let reason = GuardScanner.bypassReason(environment: environment) {
            guard allowBypass else {
                FileHandle.standardError.write(Data("keyseal: the push option keyseal.bypass is not enabled on this server (its admins enable it with --allow-bypass); the push stays refused.\n".utf8))
                throw ExitCode(1)
            }
            let pusher = GuardScanner.pusher(environment: environment)
            try GuardScanner.recordBypass(result, reason: reason, pusher: pusher)
            FileHandle.standardError.write(Data("keyseal: BYPASS accepted for \(TerminalText.escape(pusher)): \(TerminalText.escape(reason)). It is recorded with every secret above, which stays open: rotate each one.\n".utf8))
            return
        }
        throw ExitCode(1)
    }
}

/// What `staged` and `pre-push` share: the config, and an optional report file.
struct HookOptions: ParsableArguments {
    @OptionGroup var configuration: ConfigOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Also write the findings to this file, in the format its name asks for: SARIF for *.sarif, GitLab for *secret-detection-report.json, JUnit for *.xml, CSV for *.csv, else JSON.",
                                                   valueName: "file"),
            completion: .file())
    var output: String?

    /// The old name of --output.
    @Option(name: [.customLong("report"), .customShort("r")], help: .hidden)
    var report: String?

    @Flag(help: "Show clear secret values in the --output file.")
    var showSecrets = false

    mutating func validate() throws {
        output = try OldNames.output(output, or: report, oldName: "--report")
    }
}

/// A hook's findings in the format the file's name asks for (`ReportFormat.forReportFile`).
/// Created mode 0600 with `--show-secrets`, since it then holds clear secrets.
func writeGuardReport(_ result: GuardResult, to path: String?, privately: Bool) throws {
    guard let path else { return }
    let scan = result.asScanResult()
    let format = ReportFormat.forReportFile(path)
    try OutputFile.write(ReportWriter.render(scan, format: format), to: path, as: .report, privately: privately)
}

struct HooksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hooks", abstract: "Install or remove keyseal's git hooks.",
        subcommands: [Install.self, Uninstall.self, Show.self])

    struct Selection: ParsableArguments {
        @Argument(help: repositoryHelp, completion: .directory)
        var path: String = "."
        @Flag(help: "The pre-commit hook (keyseal staged).")
        var preCommit = false
        @Flag(help: "The pre-push hook (keyseal pre-push).")
        var prePush = false
        @Flag(help: "The server's pre-receive hook (keyseal pre-receive), in a bare repository that receives pushes.")
        var server = false
        /// The old name of PATH.
        @Option(help: oldRepositoryHelp)
        var repo: String?

        mutating func validate() throws {
            path = try OldNames.repository(path, or: repo)
        }

        /// Both when neither is named.
        var hooks: [HookScript] {
            if server { return [.preReceive] + (preCommit ? [.preCommit] : []) + (prePush ? [.prePush] : []) }
            if preCommit == prePush { return HookScript.client }
            return preCommit ? [.preCommit] : [.prePush]
        }
    }

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "install",
            abstract: "Write the hooks into the folder git runs hooks from (core.hooksPath respected).",
            discussion: """
                Both hooks unless one is named. An existing hook is kept as NAME.keyseal-chained and \
                runs after keyseal's. Installing twice changes nothing.
                """)
        @OptionGroup var selection: Selection
        func run() throws {
            let outcome = try HookInstaller.install(repository: selection.path, hooks: selection.hooks)
            outcome.messages.forEach { print(TerminalText.escape($0)) }
        }
    }

    struct Uninstall: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "uninstall", abstract: "Remove keyseal's hooks and restore those they replaced.")
        @OptionGroup var selection: Selection
        func run() throws {
            let outcome = try HookInstaller.uninstall(repository: selection.path, hooks: selection.hooks)
            outcome.messages.forEach { print(TerminalText.escape($0)) }
        }
    }
}

extension HookScript: ExpressibleByArgument {}

extension HooksCommand {
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Print a hook script (to install it your own way).")
        @Argument(help: "pre-commit, pre-push or pre-receive.")
        var hook: HookScript
        func run() throws { FileHandle.standardOutput.write(Data(hook.text.utf8)) }
    }
}

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with .keyseal.toml.", subcommands: [Init.self, Check.self])

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Write a commented starter .keyseal.toml at the repository's root.",
            discussion: """
                The file sets nothing yet (empty allowlists, no disabled rule); its comments say what \
                each key does, and a custom rule waits there commented out. An existing file is left \
                as it is unless --force.
                """)

        @Argument(help: repositoryHelp, completion: .directory)
        var path: String = "."
        @Option(name: .shortAndLong, help: ArgumentHelp("Write to this file instead of .keyseal.toml at the repository's root.", valueName: "file"),
                completion: .file())
        var output: String?
        @Flag(help: "Replace an existing file.")
        var force = false

        func run() throws {
            let written = try StarterConfig.write(repository: path, to: output, force: force)
            print("wrote \(TerminalText.escape(written)); check it with: keyseal config check \(TerminalText.escape(written))")
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Validate a config file and run its custom rules' examples.",
            discussion: "Exit codes: 0 valid, 1 a custom rule fails its examples, 2 the file is invalid.")

        @Argument(help: "The config file.", completion: .file())
        var file: String = KeysealConfig.fileName

        func run() throws {
            // A config error is a runtime error (ConfigError names the file, line and key): one line, exit 2.
            let config = try KeysealConfig.load(file: file)
            config.warnings.forEach { FileHandle.standardError.write(Data("warning: \(TerminalText.escape($0))\n".utf8)) }
            let outcome: RuleExampleCheck.Outcome
            do {
                outcome = try RuleExampleCheck.check(config.customRules, within: config.rules())
            } catch let error as RuleExampleCheck.ExampleError {
                // A malformed example template makes the file invalid (exit 2), not a failing example.
                throw RuntimeError("\(file): \(error)")
            }
            outcome.warnings.forEach { FileHandle.standardError.write(Data("warning: \(TerminalText.escape($0))\n".utf8)) }
            let failures = outcome.failures
            failures.forEach { print("✗ \(TerminalText.escape($0))") }
            print("\(TerminalText.escape(file)): \(config.customRules.count) custom rule(s), \(config.disabledRules.count) disabled, "
                  + "\(config.allowPaths.count + config.allowRegexes.count + config.stopwords.count + config.allowCommits.count) allowlist entries")
            if !failures.isEmpty { throw ExitCode(1) }
            print("ok")
        }
    }
}
