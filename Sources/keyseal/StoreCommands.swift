import ArgumentParser
import Foundation
import KeysealCore
import KeysealStore

/// Where findings are recorded; shared by every command that reads or writes the store.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The findings store (default: .git/keyseal/store.sqlite in the repository).", valueName: "file"),
            completion: .file())
    var store: String?

    @Flag(help: "Use no findings store: record nothing (a command that reads the store then fails).")
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

    @Argument(help: repositoryHelp, completion: .directory)
    var path: String = "."
    @OptionGroup var storage: StoreOptions
    @Option(help: "Only secrets with these statuses (comma-separated).")
    var status: StatusFilter?
    @Option(name: .shortAndLong, help: "Output format: text or json.")
    var format: Format = .text

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

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
                print("\(secret.fingerprint.prefix(12))  \(secret.status.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)) \(e(secret.rule)) (\(e(secret.provider)))  \(e(secret.preview))  \(secret.occurrences) occurrence(s)\(secret.images.map { ", in \($0) image(s)" } ?? ""), first seen \(secret.firstSeen.map { e(String($0.prefix(10))) } ?? "unknown")\(secret.note.map { "  — \(e($0))" } ?? "")")
            }
            print("\(secrets.count) secret(s)")
        }
    }
}

struct TriageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "triage", abstract: "Record a decision about a secret: rotated, false-positive, accepted or open.",
        discussion: """
            A unique prefix of the fingerprint is enough (`keyseal findings` lists them). Secrets \
            that are rotated, false positives or accepted no longer fail scan, staged or pre-push.
            """)

    @Argument(help: "A unique prefix of the secret's fingerprint (at least 4 hex digits).")
    var fingerprint: String
    @Argument(help: repositoryHelp, completion: .directory)
    var path: String = "."
    @Option(help: "The decision.")
    var status: SecretStatus
    @Option(help: ArgumentHelp("Why (kept with the decision).", valueName: "text"))
    var note: String?
    /// The old name of PATH.
    @Option(help: oldRepositoryHelp)
    var repo: String?
    @OptionGroup var storage: StoreOptions

    mutating func validate() throws {
        path = try OldNames.repository(path, or: repo)
    }

    func run() throws {
        let secret = try Triage.set(repository: path, store: storage.choice, prefix: fingerprint, status: status, note: note)
        print(TerminalText.escape("\(secret.fingerprint.prefix(12))  \(secret.rule)  \(secret.preview): \(secret.status.rawValue)"))
    }
}

struct BaselineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baseline", abstract: "Share triage decisions through a committed .keyseal-baseline.json.",
        subcommands: [Export.self, Import.self])

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the triage decisions (rotated, false positive, accepted) by fingerprint: no values, no line numbers.")
        @Argument(help: repositoryHelp, completion: .directory)
        var path: String = "."
        @Option(name: .shortAndLong, help: ArgumentHelp("The file to write (default: \(Baseline.fileName)).", valueName: "file"),
                completion: .file())
        var output: String?
        /// The old name of --output.
        @Option(name: .customLong("out"), help: .hidden)
        var out: String?
        /// The old name of PATH.
        @Option(help: oldRepositoryHelp)
        var repo: String?
        @OptionGroup var storage: StoreOptions

        mutating func validate() throws {
            path = try OldNames.repository(path, or: repo)
            output = try OldNames.output(output, or: out, oldName: "--out")
        }

        func run() throws {
            let file = output ?? Baseline.fileName
            let count = try Baseline.export(repository: path, store: storage.choice, to: file)
            print("wrote \(count) secret(s) to \(TerminalText.escape(file))")
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Load a baseline's decisions into the store.")
        @Argument(help: "The baseline file.", completion: .file())
        var file: String
        @Argument(help: repositoryHelp, completion: .directory)
        var path: String = "."
        /// The old name of PATH.
        @Option(help: oldRepositoryHelp)
        var repo: String?
        @OptionGroup var storage: StoreOptions

        mutating func validate() throws {
            path = try OldNames.repository(path, or: repo)
        }

        func run() throws {
            let count = try Baseline.importFile(file, repository: path, store: storage.choice)
            print("imported \(count) decision(s) from \(file)")
        }
    }
}
