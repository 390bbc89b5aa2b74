import Foundation
import KeysealGit
import KeysealStore

/// `keyseal store`: set up, check and move into a store (an organisation's PostgreSQL store above all).
public enum StoreAdmin {
    /// Creates the schema or migrates it forward; returns the versions before and after.
    public static func migrate(_ choice: StoreChoice, repository path: String) throws -> (from: Int, to: Int) {
        switch choice {
        case .postgres(let address, _):
            let before = try FindingStore.schemaVersion(of: address)
            _ = try FindingStore(postgres: address, schema: .migrate)
            return (before, PostgresSchema.version)
        default:
            // The file's version before it is opened (opening an SQLite store migrates it).
            var file: String? = nil
            if case .path(let given) = choice { file = given }
            if case .inRepository = choice { file = StoreSession.defaultPath(for: try Repository.open(path)) }
            let before = file.map(FindingStore.storedSchemaVersion(atPath:)) ?? 0
            let store = try Triage.openStore(repository: path, store: choice, create: true)
            return (before, try store.health().schemaVersion)
        }
    }

    /// Connects and reports the server, the schema and this role's rights, changing nothing.
    /// Throws when the store cannot be reached or its schema is not this keyseal's.
    public static func check(_ choice: StoreChoice, repository path: String) throws -> FindingStore.Health {
        let store: FindingStore
        switch choice {
        case .postgres(let address, _): store = try FindingStore(postgres: address, schema: .check)
        default: store = try Triage.openStore(repository: path, store: choice)
        }
        return try store.health()
    }

    /// Carries a repository's SQLite store (triage included) into `choice`. `repository`: its name
    /// in the target (default: the repository the file belongs to, by its remote URL).
    public static func importStore(file: String, into choice: StoreChoice, repository: String?) throws
        -> (repository: String, added: [(table: String, added: Int)]) {
        guard FileManager.default.fileExists(atPath: file) else { throw KeysealError.noStore(path: file) }
        let source = try FindingStore(path: file, create: false, readOnly: true)
        var name = repository
        if name == nil, case .postgres(_, let given) = choice { name = given }
        if name == nil {
            // .git/keyseal/store.sqlite: the repository around it names it.
            let folder = ((file as NSString).standardizingPath as NSString).deletingLastPathComponent
            name = (try? Repository(discovering: folder)).map(RepositoryName.of)
        }
        guard let name, !name.isEmpty else {
            throw KeysealError.usage("cannot tell which repository \(file) belongs to; give --repository NAME")
        }
        let target: FindingStore
        switch choice {
        case .none: throw KeysealError.needsStore
        case .postgres(let address, _): target = try FindingStore(postgres: address)
        case .path(let path): target = try FindingStore(path: path, create: true)
        case .inRepository: throw KeysealError.usage("give the store to import into with --store (or KEYSEAL_STORE)")
        }
        return (name, try target.importEverything(from: source, repository: name))
    }
}
