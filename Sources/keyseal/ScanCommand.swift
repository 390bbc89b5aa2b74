import ArgumentParser
import Foundation
import KeysealCore
import KeysealGit

struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Scan the full history of every ref (or a range) for secrets.",
        discussion: """
            Every blob that any commit introduces is read and scanned once, on all cores. A finding \
            is attributed to the earliest commit that brought its blob to that path.

            Exit codes: 0 nothing found, 1 secrets found (or, with --fail-on-unscanned, blobs not \
            fully scanned), 2 usage or runtime error.
            """)

    @Argument(help: repositoryHelp, completion: .directory)
    var path: String = "."

    @OptionGroup var output: ReportOptions
    @OptionGroup var configuration: ConfigOptions

    @Option(help: ArgumentHelp("Scan only commits not reachable from this revision (a tag, branch or commit id).", valueName: "rev"))
    var sinceCommit: String?

    @Option(help: ArgumentHelp("Threads to read and scan with (default: one per core).", valueName: "n"))
    var threads: Int?

    @Option(help: ArgumentHelp("Skip blobs larger than this, with K, M or G (default: the config's max_blob_size, or 25M); they are counted.",
                               valueName: "size"))
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
        if let threads, !(1...256).contains(threads) {
            throw ValidationError("--threads must be between 1 and 256 (got \(threads)).")
        }
        if let maxBlobSize, let problem = SizeText.blobLimitProblem(maxBlobSize) {
            throw ValidationError("--max-blob-size \(problem) (got '\(maxBlobSize)').")
        }
    }

    func run() throws {
        let options = ScanOptions(path: path, sinceCommit: sinceCommit, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount,
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
        commandName: "rules", abstract: "List the rules (content and audit), or check rule files.",
        discussion: """
            Lists the content rules (what scan, staged and pre-push find in file contents) and then \
            the audit rules (what audit finds in the tree and the git config). With PATTERN, only \
            the rules whose id or provider (for an audit rule, its title) contains PATTERN, ignoring \
            case; a PATTERN with *, ? or [ is a glob that must match the whole id or provider.

            With --format json, every field of every content rule (the rule files' schema; see \
            CONTRIBUTING.md) and "kind": "content", then each audit rule with "kind": "audit".

            With --check FILE..., reads rule files as the build reads the built-in ones, compiles \
            their regexes, and runs their examples against the whole rule set (a file's rules replace \
            the built-in rules of the same id).

            Exit codes: 0 good (a listing, even an empty one), 1 an example fails, 2 a file is invalid.
            """)

    @Option(name: .shortAndLong, help: "Output format: text or json.")
    var format: Format = .text

    @Flag(help: "Compile the rules into the rule cache now and print nothing else, so that the first hook run after an install or upgrade does not pay for compiling them (about a second).")
    var compile = false

    @Flag(help: "Check the rule files given as arguments instead of listing the rules.")
    var check = false

    @Argument(help: ArgumentHelp("Without --check: a PATTERN that filters the listing. With --check: the rule files to check.",
                                 valueName: "pattern-or-files"),
              completion: .file())
    var arguments: [String] = []

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    func validate() throws {
        if check && arguments.isEmpty { throw ValidationError("--check needs at least one rule file.") }
        if check && compile { throw ValidationError("--check and --compile do different things; give one.") }
        if compile && !arguments.isEmpty { throw ValidationError("--compile takes no pattern or file.") }
        if !check && arguments.count > 1 {
            throw ValidationError("give one PATTERN (or check rule files with --check FILE...); got \(arguments.count) arguments.")
        }
    }

    func run() throws {
        if check {
            let report = RuleFileCheck.check(paths: arguments)
            report.warnings.forEach { FileHandle.standardError.write(Data("warning: \(TerminalText.escape($0))\n".utf8)) }
            report.problems.forEach { FileHandle.standardError.write(Data("error: \(TerminalText.escape($0))\n".utf8)) }
            if !report.problems.isEmpty { throw ExitCode(2) }
            report.failures.forEach { print("✗ \(TerminalText.escape($0))") }
            if !report.failures.isEmpty { throw ExitCode(1) }
            print("ok: \(report.rules) rule(s) in \(arguments.count) file(s)")
            return
        }
        if compile {
            let cached = try RuleCatalog.compileIntoCache()
            print(cached ? "keyseal: the rules were already compiled in the cache" : "keyseal: rules compiled into the cache")
            return
        }
        let filter = arguments.first.map(RulePattern.init)
        let contentRules = RuleCatalog.described.filter { filter?.matches($0.id, $0.provider) ?? true }
        let auditRules = AuditRules.all.filter { filter?.matches($0.id, $0.title) ?? true }
        switch format {
        case .json:
            let listed = contentRules.map(ListedRule.content) + auditRules.map(ListedRule.audit)
            FileHandle.standardOutput.write(try JSONOutput.encode(listed))
        case .text:
            let width = (contentRules.map(\.id.count) + auditRules.map(\.id.count)).max() ?? 0
            func column(_ id: String) -> String { id.padding(toLength: width + 2, withPad: " ", startingAt: 0) }
            for rule in contentRules { print(column(rule.id) + "\(rule.provider): \(rule.description)") }
            for rule in auditRules { print(column(rule.id) + "audit [\(rule.severity.rawValue)]: \(rule.title)") }
            let providers = Set(contentRules.map(\.provider)).count
            if let filter {
                print("\(contentRules.count) of \(RuleCatalog.described.count) content rules (\(providers) providers) and "
                      + "\(auditRules.count) of \(AuditRules.all.count) audit rules match '\(TerminalText.escape(filter.text))'")
            } else {
                print("\(contentRules.count) rules, \(providers) providers; \(auditRules.count) audit rules")
            }
        }
    }
}

/// `keyseal rules PATTERN`: a case-insensitive substring, or a glob (`*`, `?`, `[...]`) that must
/// match a whole name.
struct RulePattern {
    let text: String
    private let lowered: String
    private let isGlob: Bool

    init(_ text: String) {
        self.text = text
        lowered = text.lowercased()
        isGlob = text.contains { "*?[".contains($0) }
    }

    /// Whether any of `names` (a rule's id, its provider or title) matches.
    func matches(_ names: String...) -> Bool {
        names.contains { name in
            let name = name.lowercased()
            return isGlob ? fnmatch(lowered, name, 0) == 0 : name.contains(lowered)
        }
    }
}

/// One entry of `keyseal rules --format json`: a content rule in the rule files' schema, or an
/// audit rule, each with its kind.
enum ListedRule: Encodable {
    case content(RuleDescription)
    case audit(AuditRule)

    private enum Key: String, CodingKey { case kind }

    func encode(to encoder: Encoder) throws {
        // The rule's own fields, then `kind` in a second keyed container at the same level: the
        // JSON encoder merges the two into one object.
        switch self {
        case .content(let rule):
            try rule.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encode("content", forKey: .kind)
        case .audit(let rule):
            try rule.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encode("audit", forKey: .kind)
        }
    }
}
