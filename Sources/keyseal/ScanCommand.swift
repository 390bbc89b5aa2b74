import ArgumentParser
import Foundation
import KeysealCore
import KeysealGit

struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Scan the full history of every ref (or a range) for secrets.",
        discussion: """
            Every blob that any commit introduces is read and scanned once, on all cores. A finding is
            attributed to the earliest commit that brought its blob to that path.
            Exit codes: 0 nothing found, 1 secrets found (or, with --fail-on-unscanned, blobs not
            fully scanned), 2 usage or runtime error.
            """)

    @Argument(help: "The repository (or a folder inside it). Default: the current folder.")
    var path: String = "."

    @OptionGroup var output: ReportOptions
    @OptionGroup var configuration: ConfigOptions

    @Option(help: "Scan only commits not reachable from this revision (a tag, branch or commit id).")
    var sinceCommit: String?

    @Option(help: "Threads to read and scan with. Default: one per core.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Skip blobs larger than this (default 25M, or the config's max_blob_size); they are counted. Suffixes K, M, G.")
    var maxBlobSize: String?

    @Flag(help: "Keep libgit2's re-hash of every object it reads (slower; for repositories you suspect).")
    var verifyHashes = false

    @Flag(help: "No progress line on stderr, even on a terminal.")
    var quiet = false

    @OptionGroup var storage: StoreOptions

    @Flag(help: "Walk and scan all history again, whatever the store has recorded.")
    var full = false

    @Flag(help: "Skip the audit of HEAD (tracked .env and key files, Dockerfiles, compose, Kubernetes, git config).")
    var noAudit = false

    @Flag(help: "Exit 1 when any blob was not fully scanned (too large, an archive opened only in part, a regex limit hit), at a path the allowlist does not allow. For CI.")
    var failOnUnscanned = false

    func validate() throws {
        guard threads >= 1 && threads <= 256 else {
            throw ValidationError("--threads must be between 1 and 256 (got \(threads)).")
        }
        if let maxBlobSize, let problem = SizeText.blobLimitProblem(maxBlobSize) {
            throw ValidationError("--max-blob-size \(problem) (got '\(maxBlobSize)').")
        }
    }

    func run() throws {
        let options = ScanOptions(path: path, sinceCommit: sinceCommit, threads: threads,
                                  maxBlobSize: maxBlobSize.flatMap(SizeText.blobLimit), showSecrets: output.showSecrets,
                                  verifyHashes: verifyHashes, configFile: configuration.config,
                                  store: storage.choice, full: full, audit: !noAudit, failOnUnscanned: failOnUnscanned)
        let progress = ScanProgress()
        let display = (!quiet && ProgressDisplay.wanted) ? ProgressDisplay(progress: progress) : nil
        let result: ScanResult
        do {
            result = try HistoryScan.scan(options, progress: progress)
            display?.stop()
        } catch {
            display?.stop()
            throw error
        }
        try output.write(result)
        // Secrets triaged rotated, false positive or accepted no longer fail the scan.
        if result.fails { throw ExitCode(1) }
    }
}

struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules", abstract: "List the built-in rules, or check a rule file.",
        discussion: """
            With --format json, every field of every rule (the rule files' schema; see CONTRIBUTING.md).
            With --check FILE..., reads rule files as the build reads the built-in ones, compiles their
            regexes and runs their examples against the whole rule set (a file's rules replace the
            built-in rules of the same id). Exit codes: 0 good, 1 an example fails, 2 a file is invalid.
            """)

    @Option(name: .shortAndLong, help: "text or json.")
    var format: Format = .text

    @Flag(help: "Compile the rules into the rule cache now and print nothing else, so that the first hook run after an install or upgrade does not pay for compiling them (about a second).")
    var compile = false

    @Flag(help: "Check the rule files given as arguments instead of listing the rules.")
    var check = false

    @Argument(help: "Rule files to check (with --check).")
    var files: [String] = []

    enum Format: String, ExpressibleByArgument { case text, json }

    func validate() throws {
        if check && files.isEmpty { throw ValidationError("--check needs at least one rule file") }
        if !check && !files.isEmpty { throw ValidationError("rule files are read only with --check") }
    }

    func run() throws {
        if check {
            let report = RuleFileCheck.check(paths: files)
            report.warnings.forEach { FileHandle.standardError.write(Data("warning: \(TerminalText.escape($0))\n".utf8)) }
            report.problems.forEach { FileHandle.standardError.write(Data("error: \(TerminalText.escape($0))\n".utf8)) }
            if !report.problems.isEmpty { throw ExitCode(2) }
            report.failures.forEach { print("✗ \(TerminalText.escape($0))") }
            if !report.failures.isEmpty { throw ExitCode(1) }
            print("ok: \(report.rules) rule(s) in \(files.count) file(s)")
            return
        }
        if compile {
            let cached = try RuleCatalog.compileIntoCache()
            print(cached ? "keyseal: the rules were already compiled in the cache" : "keyseal: rules compiled into the cache")
            return
        }
        let rules = RuleCatalog.builtIn
        switch format {
        case .json:
            let data = try JSONOutput.encode(RuleCatalog.described)
            FileHandle.standardOutput.write(data)
        case .text:
            let width = rules.map(\.id.count).max() ?? 0
            for rule in rules {
                print(rule.id.padding(toLength: width + 2, withPad: " ", startingAt: 0) + "\(rule.provider): \(rule.description)")
            }
            print("\(rules.count) rules, \(Set(rules.map(\.provider)).count) providers")
        }
    }
}
