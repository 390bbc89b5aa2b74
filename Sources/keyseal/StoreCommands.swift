import ArgumentParser
import Foundation
import KeysealCore
import KeysealStore

/// Where findings are recorded; shared by every command that reads or writes the store.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The findings store: an SQLite file, or an organisation's PostgreSQL store as postgres://USER@HOST/DB (default: KEYSEAL_STORE, else .git/keyseal/store.sqlite in the repository). The password comes from PGPASSWORD, ~/.pgpass or a service file, never from the command line.",
        valueName: "file-or-url"), completion: .file())
    var store: String?

    @Flag(help: "Use no findings store: record nothing (a command that reads the store then fails).")
    var noStore = false

    @Option(help: ArgumentHelp(
        "This repository's name in a PostgreSQL store (default: its remote URL normalised, as github.com/team/app).",
        valueName: "name"))
    var repository: String?

    func validate() throws {
        if noStore && store != nil { throw ValidationError("--store and --no-store contradict each other; give one.") }
        // A password on the command line is in `ps` and shell history for anyone on the machine.
        if let store, let address = PostgresAddress(store), address.hasPassword {
            throw ValidationError("--store \(address.redacted): the URL holds a password; give it in PGPASSWORD or ~/.pgpass instead (or the whole URL in KEYSEAL_STORE).")
        }
        if let repository, repository.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--repository needs a name.")
        }
        let source = store != nil ? "--store" : "KEYSEAL_STORE"
        if !noStore, let given = store ?? environmentStore, StoreChoice.unreadableAddress(given) {
            // Taken as a file name, it would make an SQLite file named after the server (and its password).
            throw ValidationError("\(source) is neither a postgres:// URL nor an SQLite file's path (a libpq key=value string or a misspelt URL?); give postgres://USER@HOST/DB.")
        }
        if repository != nil, !noStore, (store ?? environmentStore).flatMap(PostgresAddress.init) == nil {
            throw ValidationError("--repository names this repository in a PostgreSQL store; give --store postgres://… or set KEYSEAL_STORE to one.")
        }
    }

    private var environmentStore: String? { ProcessInfo.processInfo.environment["KEYSEAL_STORE"].flatMap { $0.isEmpty ? nil : $0 } }

    /// `--all-repositories` reads what an organisation's store recorded across repositories: with a
    /// repository's own store it would only ever show that repository.
    func requireShared(_ allRepositories: Bool) throws {
        guard allRepositories, case .inRepository = choice else { return }
        throw ValidationError("--all-repositories reads an organisation's store: give --store postgres://USER@HOST/DB (or a store file) or set KEYSEAL_STORE.")
    }

    var choice: StoreChoice {
        if noStore { return .none }
        let given = store ?? environmentStore
        return given.map { StoreChoice.parse($0, repository: repository) } ?? .inRepository
    }
}

/// `--all-repositories`: for an organisation's store, every repository's secrets at once.
struct OrganisationOptions: ParsableArguments {
    @Flag(help: "Every repository of the store, not only this one's (for a PostgreSQL store shared by an organisation; no clone needed).")
    var allRepositories = false
}

struct FindingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "findings", abstract: "List the secrets the store has recorded, with their occurrence counts.")

    @Argument(help: repositoryHelp, completion: .directory)
    var path: String = "."
    @OptionGroup var storage: StoreOptions
    @OptionGroup var organisation: OrganisationOptions
    @Option(help: "Only secrets with these statuses (comma-separated).")
    var status: StatusFilter?
    @Option(name: .shortAndLong, help: "Output format: text or json.")
    var format: Format = .text

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    func run() throws {
        try storage.requireShared(organisation.allRepositories)
        let secrets = try Triage.secrets(repository: path, store: storage.choice, statuses: status?.statuses,
                                         allRepositories: organisation.allRepositories)
        switch format {
        case .json:
            let data = try JSONOutput.encode(secrets)
            FileHandle.standardOutput.write(data)
        case .text:
            // Rules, notes and previews can come from a committed config or baseline: escaped for the terminal.
            let e = TerminalText.escape as (String) -> String
            for secret in secrets {
                print("\(secret.fingerprint.prefix(12))  \(secret.status.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)) \(e(secret.rule)) (\(e(secret.provider)))  \(e(secret.preview))  \(secret.occurrences) occurrence(s)\(secret.repositories.map { " in \($0) repositor\($0 == 1 ? "y" : "ies")" } ?? "")\(secret.images.map { ", in \($0) image(s)" } ?? ""), first seen \(secret.firstSeen.map { e(String($0.prefix(10))) } ?? "unknown")\(secret.note.map { "  — \(e($0))" } ?? "")")
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
            commandName: "export",
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
        static let configuration = CommandConfiguration(commandName: "import", abstract: "Load a baseline's decisions into the store.")
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

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Set up, check and move into a findings store (an organisation's PostgreSQL store above all).",
        discussion: """
            An organisation's store is a PostgreSQL database that every CI runner records into: \
            --store postgres://USER@HOST/DB, or the same URL in KEYSEAL_STORE. The password comes from \
            PGPASSWORD, ~/.pgpass or a service file; sslmode, sslrootcert and the other libpq settings \
            pass through in the URL. See the README's "Organisations" section for the roles to create.
            """,
        subcommands: [Migrate.self, Check.self, Import.self])

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "migrate",
            abstract: "Create the store's schema, or migrate it forward to this keyseal's version (run as the store's owner).")
        @Argument(help: repositoryHelp, completion: .directory)
        var path: String = "."
        @OptionGroup var storage: StoreOptions

        func run() throws {
            let (from, to) = try StoreAdmin.migrate(storage.choice, repository: path)
            print(from == to ? "schema already at version \(to)" : "schema migrated from version \(from) to \(to)")
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Check the store: connection, TLS, schema version, and what this role may do. Changes nothing.",
            discussion: "Exit codes: 0 reachable with this keyseal's schema, 2 not.")
        @Argument(help: repositoryHelp, completion: .directory)
        var path: String = "."
        @OptionGroup var storage: StoreOptions

        func run() throws {
            let health = try StoreAdmin.check(storage.choice, repository: path)
            func yes(_ flag: Bool) -> String { flag ? "yes" : "no" }
            print("""
                store:          \(health.backend), \(health.server)
                role:           \(TerminalText.escape(health.user))
                tls:            \(health.tls)
                schema:         version \(health.schemaVersion) (this keyseal: \(health.expectedVersion))
                record scans:   \(yes(health.canRecordScans))
                read triage:    \(yes(health.canReadTriage))
                triage:         \(yes(health.canTriage))
                holds:          \(health.secrets) secret(s) in \(health.repositories) repositor\(health.repositories == 1 ? "y" : "ies")
                """)
            if health.tls == "none", case .postgres(let address, _) = storage.choice, !address.isLocal {
                // The role's password and the store's contents cross the network in clear.
                FileHandle.standardError.write(Data("keyseal: warning: the connection to \(address.redacted) is not encrypted; add ?sslmode=verify-full&sslrootcert=… to the URL\n".utf8))
            }
            guard health.canReadTriage else {
                throw KeysealError.usage("this role may not read the store's secrets; grant it keyseal_reader, keyseal_scanner or keyseal_lead (see the README's Organisations section)")
            }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Carry a repository's SQLite store (triage included) into the store given by --store or KEYSEAL_STORE.",
            discussion: "Run twice, it adds nothing the second time; a decision the target has already made is kept.")
        @Argument(help: "The SQLite store to read (e.g. .git/keyseal/store.sqlite).", completion: .file())
        var file: String
        @OptionGroup var storage: StoreOptions

        func validate() throws {
            if storage.noStore { throw ValidationError("store import needs a store to import into: --store or KEYSEAL_STORE.") }
        }

        func run() throws {
            let (name, added) = try StoreAdmin.importStore(file: file, into: storage.choice, repository: storage.repository)
            print("imported \(TerminalText.escape(file)) as \(TerminalText.escape(name)):")
            for (table, count) in added { print("  \(table): \(count) row(s) added") }
        }
    }
}
