import ArgumentParser
import Foundation
import KeysealCore
import KeysealStore

struct ChecklistCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checklist",
        abstract: "Write the rotation checklist: each distinct secret, how to rotate it, and where it is exposed.",
        discussion: """
            It scans first (incrementally, through the store), then lists the secrets in sections by \
            triage status: open, rotated, accepted, and last the false positives, without rotation \
            steps. Within a section the most urgent come first: pushed before local-only, in a tag \
            before not, still in HEAD before only in history, then oldest first. Times are in UTC.
            """)

    @Argument(help: repositoryHelp, completion: .directory)
    var path: String = "."
    @Option(name: .shortAndLong, help: "Checklist format: markdown, json or html.")
    var format: Format = .markdown
    @Option(name: .shortAndLong, help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file"),
            completion: .file())
    var output: String?
    /// The old name of --output.
    @Option(name: .customLong("out"), help: .hidden)
    var out: String?
    @Option(help: "Only secrets with these statuses (comma-separated).")
    var status: StatusFilter?
    @OptionGroup var configuration: ConfigOptions
    @OptionGroup var storage: StoreOptions
    @OptionGroup var organisation: OrganisationOptions

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case markdown, json, html
        var checklistFormat: ChecklistFormat { ChecklistFormat(rawValue: rawValue)! }  // Safe: same cases.
    }

    mutating func validate() throws {
        output = try OldNames.output(output, or: out, oldName: "--out")
    }

    func run() throws {
        try storage.requireShared(organisation.allRepositories)
        let checklist = organisation.allRepositories
            ? try ChecklistBuilder.buildOrganisation(store: storage.choice, statuses: status?.statuses)
            : try ChecklistBuilder.build(path: path, configFile: configuration.config, store: storage.choice,
                                         statuses: status?.statuses)
        let data = try ChecklistRenderer.render(checklist, as: format.checklistFormat)
        if let output {
            try OutputFile.write(data, to: output, as: .file)
            FileHandle.standardError.write(Data("keyseal: wrote \(checklist.entries.count) secret(s) to \(output)\n".utf8))
        } else {
            FileHandle.standardOutput.write(data)
        }
    }
}

struct RebuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Request image rebuilds for every tag whose commits hold an open or rotated secret.",
        discussion: """
            Without --apply this is a dry run: the requests are printed (or written to --output) and \
            nothing is sent.

            With --apply, each request goes to --webhook, to --exec, or to both. --webhook POSTs it as \
            JSON, signed with HMAC-SHA256 when --signing-key-env names a variable that holds the key; \
            redirects are not followed (a 3xx fails). --exec runs a command once per tag, with {tag}, \
            {commit} and {repository} substituted and no shell; the same values are in KEYSEAL_TAG, \
            KEYSEAL_COMMIT and KEYSEAL_REPOSITORY. A value that would make a word start with '-' is \
            refused, unless the word follows a '--' word.

            A request that succeeded is recorded, and not sent again for the same tag and secrets \
            unless --force.

            Exit codes: 0 every request sent (or a dry run), 1 a request failed, 2 error.
            """)

    @Argument(help: repositoryHelp, completion: .directory)
    var path: String = "."
    @Option(help: ArgumentHelp("POST each request to this URL.", valueName: "url"))
    var webhook: String?
    @Option(help: ArgumentHelp("The name of the environment variable that holds the HMAC signing key (never the key itself).", valueName: "name"))
    var signingKeyEnv: String?
    @Option(name: .customLong("exec"),
            help: ArgumentHelp("A command run once per tag, e.g. 'ci-trigger --commit {commit} -- {tag}' (also given KEYSEAL_TAG, KEYSEAL_COMMIT, KEYSEAL_REPOSITORY).",
                               valueName: "command"))
    var command: String?
    @Option(name: .shortAndLong, help: ArgumentHelp("Write the requests as JSON to this file.", valueName: "file"), completion: .file())
    var output: String?
    /// The old name of --output.
    @Option(name: .customLong("out"), help: .hidden)
    var out: String?
    @Flag(help: "Send the requests (default: dry run).")
    var apply = false
    @Flag(help: "Send again requests that already succeeded.")
    var force = false
    @Option(help: ArgumentHelp("Seconds to wait for a webhook response (at most 3600).", valueName: "seconds"))
    var timeout: Double = 10
    @Option(help: ArgumentHelp("Retries after a connection error or an HTTP 5xx (at most 100).", valueName: "n"))
    var retries: Int = 3
    @Option(help: ArgumentHelp("Seconds before the first retry (doubling each time; at most 3600).", valueName: "seconds"))
    var backoff: Double = 0.5
    @OptionGroup var configuration: ConfigOptions
    @OptionGroup var storage: StoreOptions
    @OptionGroup var organisation: OrganisationOptions

    mutating func validate() throws {
        output = try OldNames.output(output, or: out, oldName: "--out")
        if let webhook {
            guard let url = URL(string: webhook), ["http", "https"].contains(url.scheme ?? "") else {
                // Not the URL itself: it may hold a password or a token.
                throw ValidationError("--webhook needs an http or https URL (got \(URL(string: webhook)?.scheme.map { "a \($0): URL" } ?? "something that is not a URL")).")
            }
        }
        if let name = signingKeyEnv, ProcessInfo.processInfo.environment[name]?.isEmpty ?? true {
            throw ValidationError("--signing-key-env \(name): that environment variable is not set or empty.")
        }
        if signingKeyEnv != nil && webhook == nil { throw ValidationError("--signing-key-env signs webhook requests; give --webhook too.") }
        if let command { _ = try RebuildDispatcher.words(command) }
        if apply && webhook == nil && command == nil { throw ValidationError("--apply needs somewhere to send: --webhook URL and/or --exec COMMAND.") }
        // Finite and bounded: an infinite or huge timeout or backoff crashed in the time arithmetic.
        guard timeout.isFinite, timeout > 0, timeout <= RebuildDispatcher.maxSeconds else {
            throw ValidationError("--timeout takes seconds above 0 and at most \(Int(RebuildDispatcher.maxSeconds)) (got \(timeout)).")
        }
        guard backoff.isFinite, backoff >= 0, backoff <= RebuildDispatcher.maxSeconds else {
            throw ValidationError("--backoff takes seconds from 0 to \(Int(RebuildDispatcher.maxSeconds)) (got \(backoff)).")
        }
        guard (0...RebuildDispatcher.maxRetries).contains(retries) else {
            throw ValidationError("--retries takes a number from 0 to \(RebuildDispatcher.maxRetries) (got \(retries)).")
        }
    }

    func run() throws {
        try storage.requireShared(organisation.allRepositories)
        let requests = organisation.allRepositories
            ? try RebuildPlanner.planOrganisation(store: storage.choice)
            : try RebuildPlanner.plan(path: path, configFile: configuration.config, store: storage.choice)
        let json = try JSONOutput.encode(requests)
        if let output { try OutputFile.write(json, to: output, as: .file) }
        guard apply else {
            if output == nil { FileHandle.standardOutput.write(json) }
            FileHandle.standardError.write(Data("keyseal: dry run: \(requests.count) rebuild request(s); nothing sent (--apply sends)\n".utf8))
            return
        }
        var dispatcher = RebuildDispatcher()
        dispatcher.webhook = webhook.flatMap(URL.init(string:))
        dispatcher.signingKey = signingKeyEnv.flatMap { ProcessInfo.processInfo.environment[$0] }.map { Data($0.utf8) }
        dispatcher.command = try command.map(RebuildDispatcher.words)
        dispatcher.timeout = timeout
        dispatcher.retries = retries
        dispatcher.backoff = backoff
        dispatcher.force = force
        let outcome = try dispatcher.dispatch(requests, store: storage.choice, repository: path) { print(TerminalText.escape($0)) }
        print("\(outcome.sent.count) sent, \(outcome.skipped.count) already requested, \(outcome.failed.count) failed")
        if !outcome.failed.isEmpty { throw ExitCode(1) }
    }
}
