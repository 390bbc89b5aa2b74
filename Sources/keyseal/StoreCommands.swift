import ArgumentParser
import Foundation
import KeysealCore
import KeysealStore

/// Where findings are recorded; shared by every command that reads or writes the store.
struct StoreOptions: ParsableArguments {
    @Option(help: "The findings store (default: .git/keyseal/store.sqlite in the repository).")
    var store: String?

    @Flag(help: "Record nothing.")
    var noStore = false

    func validate() throws {
        if noStore && store != nil { throw ValidationError("--store and --no-store contradict each other; give one.") }
    }

    var choice: StoreChoice {
        if noStore { return .none }
        return store.map { .path($0) } ?? .inRepository
    }
}

struct FindingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "findings", abstract: "List the secrets the store has recorded, with their occurrence counts.")

    @Argument(help: "The repository (default: the current folder).")
    var path: String = "."
    @OptionGroup var storage: StoreOptions
    @Option(help: "Only secrets with these statuses (comma-separated).")
    var status: StatusFilter?
    @Option(name: .shortAndLong, help: "text or json.")
    var format: Format = .text

    enum Format: String, ExpressibleByArgument { case text, json }

    func run() throws {
        let secrets = try Triage.secrets(repository: path, store: storage.choice, statuses: status?.statuses)
        switch format {
        case .json:
            let data = try JSONOutput.encode(secrets)
            FileHandle.standardOutput.write(data)
        case .text:
            // Rules, notes and previews can come from a committed config or baseline: escaped for the terminal.
            let e = TerminalText.escape as (String) -> String
            for secret in secrets {
                print("\(secret.fingerprint.prefix(12))  \(secret.status.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)) \(e(secret.rule)) (\(e(secret.provider)))  \(e(secret.preview))  \(secret.occurrences) occurrence(s), first seen \(secret.firstSeen.map { e(String($0.prefix(10))) } ?? "unknown")\(secret.note.map { "  — \(e($0))" } ?? "")")
            }
            print("\(secrets.count) secret(s)")
        }
    }
}

struct TriageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "triage", abstract: "Record a decision about a secret: rotated, false-positive, accepted or open.",
        discussion: "A unique prefix of the fingerprint is enough (see `keyseal findings`). False positives and accepted secrets no longer fail scan, staged or pre-push.")

    @Argument(help: "A unique prefix of the secret's fingerprint (at least 4 hex digits).")
    var fingerprint: String
    @Option(help: "The decision.")
    var status: SecretStatus
    @Option(help: "Why (kept with the decision).")
    var note: String?
    @Option(help: "The repository (default: the current folder).")
    var repo: String = "."
    @OptionGroup var storage: StoreOptions

    func run() throws {
        let secret = try Triage.set(repository: repo, store: storage.choice, prefix: fingerprint, status: status, note: note)
        print(TerminalText.escape("\(secret.fingerprint.prefix(12))  \(secret.rule)  \(secret.preview): \(secret.status.rawValue)"))
    }
}

struct BaselineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baseline", abstract: "Share triage decisions through a committed .keyseal-baseline.json.",
        subcommands: [Export.self, Import.self])

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the fingerprints of accepted and false-positive secrets (no values, no line numbers).")
        @Option(help: "The file to write.")
        var out: String = Baseline.fileName
        @Option(help: "The repository (default: the current folder).")
        var repo: String = "."
        @OptionGroup var storage: StoreOptions
        func run() throws {
            let count = try Baseline.export(repository: repo, store: storage.choice, to: out)
            print("wrote \(count) secret(s) to \(out)")
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Load a baseline's decisions into the store.")
        @Argument(help: "The baseline file.")
        var file: String
        @Option(help: "The repository (default: the current folder).")
        var repo: String = "."
        @OptionGroup var storage: StoreOptions
        func run() throws {
            let count = try Baseline.importFile(file, repository: repo, store: storage.choice)
            print("imported \(count) decision(s) from \(file)")
        }
    }
}
