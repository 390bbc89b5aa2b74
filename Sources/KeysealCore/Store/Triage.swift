import Foundation
import KeysealGit
import KeysealStore

/// Reading and deciding about recorded secrets.
public enum Triage {
    static func openStore(repository path: String, store choice: StoreChoice, create: Bool = false) throws -> FindingStore {
        if case .none = choice { throw KeysealError.needsStore }
        var repository: Repository? = nil
        do {
            repository = try Repository(discovering: path)
        } catch let error as GitError {
            // A named store (an SQLite file, or an organisation's with --repository or
            // --all-repositories) can be read from anywhere; only the repository's own needs one.
            guard case .inRepository = choice else { return try StoreOpener.open(choice, repository: nil, create: create)! }
            throw KeysealError.repository(error)
        }
        // Safe: .none was handled above; a named store always opens, and the repository's own
        // store was found with its repository.
        return try StoreOpener.open(choice, repository: repository, create: create)!
    }

    public static func secrets(repository: String, store: StoreChoice, statuses: Set<SecretStatus>?,
                               allRepositories: Bool = false) throws -> [SecretRecord] {
        let store = try openStore(repository: repository, store: store)
        return try store.secrets(statuses: statuses, allRepositories: allRepositories)
    }

    /// Where `keyseal image` found each secret, by fingerprint.
    public static func imageOccurrences(repository: String, store: StoreChoice) throws -> [String: [ImageOccurrence]] {
        try openStore(repository: repository, store: store).imageOccurrences()
    }

    public static func set(repository: String, store: StoreChoice, prefix: String, status: SecretStatus,
                           note: String?) throws -> SecretRecord {
        let store = try openStore(repository: repository, store: store)
        return try store.triage(prefix: prefix, status: status, note: note)
    }
}

/// `.keyseal-baseline.json`: the fingerprints of secrets a team has triaged (rotated, false
/// positive or accepted), each with its status, note and the date it was decided, so that a fresh
/// CI clone knows what was rotated. No values and no line numbers, so it does not churn when code moves.
public enum Baseline {
    public static let fileName = ".keyseal-baseline.json"

    struct Document: Codable {
        var version = 1
        var secrets: [Entry]
    }

    struct Entry: Codable {
        let fingerprint: String
        let rule: String
        let provider: String
        let status: SecretStatus
        let note: String?
        /// When the status was set (UTC ISO 8601); absent in baselines older than this field.
        let date: String?

        init(fingerprint: String, rule: String, provider: String, status: SecretStatus, note: String?, date: String?) {
            self.fingerprint = fingerprint
            self.rule = rule
            self.provider = provider
            self.status = status
            self.note = note
            self.date = date
        }

        /// A status that is not one of the four is named with its fingerprint, not as a decoding error.
        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            fingerprint = try container.decode(String.self, forKey: .fingerprint)
            rule = try container.decode(String.self, forKey: .rule)
            provider = try container.decode(String.self, forKey: .provider)
            note = try container.decodeIfPresent(String.self, forKey: .note)
            date = try container.decodeIfPresent(String.self, forKey: .date)
            let text = try container.decode(String.self, forKey: .status)
            guard let status = SecretStatus(rawValue: text) else { throw UnknownStatus(status: text, fingerprint: fingerprint) }
            self.status = status
        }
    }

    struct UnknownStatus: Error {
        let status: String
        let fingerprint: String
    }

    public static func export(repository: String, store choice: StoreChoice, to path: String) throws -> Int {
        let store = try Triage.openStore(repository: repository, store: choice)
        let secrets = try store.secrets(statuses: [.rotated, .falsePositive, .accepted])
        let document = Document(secrets: secrets.map {
            Entry(fingerprint: $0.fingerprint, rule: $0.rule, provider: $0.provider, status: $0.status, note: $0.note,
                  date: $0.triagedAt)
        })
        let data = try JSONOutput.encode(document)
        try OutputFile.write(data, to: path, as: .file)
        return secrets.count
    }

    static func load(_ path: String) throws -> [Entry] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw KeysealError.file("cannot read the baseline \(path): \(error.localizedDescription)")
        }
        return try parse(data, path: path)
    }

    /// The entries of a baseline file's bytes; `path` only names it in errors.
    static func parse(_ data: Data, path: String) throws -> [Entry] {
        do {
            return try JSONDecoder().decode(Document.self, from: data).secrets
        } catch let error as UnknownStatus {
            throw KeysealError.invalidInput("\(path): status '\(error.status)' of \(error.fingerprint.prefix(12)) is not one of \(SecretStatus.spelled)")
        } catch let error as KeysealError {
            throw error
        } catch {
            throw KeysealError.invalidInput("\(path) is not a keyseal baseline: \(error)")
        }
    }

    public static func importFile(_ path: String, repository: String, store choice: StoreChoice) throws -> Int {
        let entries = try load(path)
        let store = try Triage.openStore(repository: repository, store: choice, create: true)
        return try store.importBaseline(entries.map {
            SecretRecord(fingerprint: $0.fingerprint, rule: $0.rule, provider: $0.provider, description: $0.rule,
                         preview: "…", firstSeen: nil, status: $0.status, note: $0.note, triagedAt: $0.date)
        })
    }

    /// Statuses from a committed baseline at the work tree's root (empty when there is none).
    public static func statuses(workDirectory: String?) throws -> [String: SecretStatus] {
        try entries(workDirectory: workDirectory).mapValues(\.status)
    }

    /// The committed baseline's entries by fingerprint (empty when there is none).
    static func entries(workDirectory: String?) throws -> [String: Entry] {
        guard let root = workDirectory else { return [:] }
        let path = (root as NSString).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        return Dictionary(try load(path).map { ($0.fingerprint, $0) }, uniquingKeysWith: { a, _ in a })
    }
}

/// The triage decisions that apply to a repository: the store's, and a committed baseline's where
/// the store has none (or only "open").
enum Decisions {
    static func merge(store: [String: SecretStatus], baseline: [String: SecretStatus]) -> [String: SecretStatus] {
        var out = store
        for (fingerprint, status) in baseline where (out[fingerprint] ?? .open) == .open { out[fingerprint] = status }
        return out
    }

    /// The notes that go with the decisions `merge` takes: the store's where it has decided (a
    /// status other than open), else the baseline's.
    static func notes(store: [String: SecretRecord], baseline: [String: Baseline.Entry]) -> [String: String] {
        var out: [String: String] = [:]
        for (fingerprint, entry) in baseline { if let note = entry.note { out[fingerprint] = note } }
        for (fingerprint, record) in store where record.status != .open {
            out[fingerprint] = record.note
        }
        return out
    }

    /// The decision for a secret: its own fingerprint's, else (for a guessable secret, whose
    /// fingerprint changed) its legacy fingerprint's, as stores and baselines written before recorded it.
    static func status(of fingerprint: String, legacy: String?, in decisions: [String: SecretStatus]) -> SecretStatus? {
        let own = decisions[fingerprint]
        if let own, own != .open { return own }
        if let legacy, let old = decisions[legacy] { return old }
        return own
    }

    /// For hooks: read the store if there is one (never create it) and the baseline.
    static func forHooks(repository: Repository) throws -> [String: SecretStatus] {
        var stored: [String: SecretStatus] = [:]
        let path = StoreSession.defaultPath(for: repository)
        if FileManager.default.fileExists(atPath: path) {
            stored = (try? FindingStore(path: path, create: false, readOnly: true).statuses()) ?? [:]
        }
        // An organisation's store (KEYSEAL_STORE, as CI and a server's hooks set it): its triage
        // applies here too. Unreachable, it decides nothing, so its false positives block: stricter, never looser.
        // A hook waits at most 3 s for it (unless the URL sets connect_timeout).
        if let text = ProcessInfo.processInfo.environment["KEYSEAL_STORE"], let address = PostgresAddress(text),
           let shared = try? FindingStore(postgres: address.connecting(within: 3), schema: .check).statuses() {
            stored.merge(shared, uniquingKeysWith: { local, org in org == .open ? local : org })
        }
        // A bare repository (a server's) has no work tree: its baseline sits in the git directory.
        return merge(store: stored, baseline: try Baseline.statuses(workDirectory: repository.workDirectory ?? repository.gitDirectory))
    }
}
