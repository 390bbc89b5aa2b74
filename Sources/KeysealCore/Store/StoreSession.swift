import Crypto
import Foundation
import KeysealEngine
import KeysealGit
import KeysealStore

/// Where a scan records its findings.
public enum StoreChoice: Sendable, Equatable {
    /// `keyseal/store.sqlite` inside the repository's git directory (never the work tree).
    case inRepository
    case path(String)
    /// An organisation's PostgreSQL store; `repository` names this repository in it (default: its
    /// normalised remote URL, else its folder's name).
    case postgres(PostgresAddress, repository: String?)
    case none

    /// `KEYSEAL_STORE`, or `--store`'s value: a postgres:// URL or an SQLite file's path.
    public static func parse(_ text: String, repository: String? = nil) -> StoreChoice {
        if let address = PostgresAddress(text) { return .postgres(address, repository: repository) }
        return .path(text)
    }

    /// Text meant for PostgreSQL that libpq would not read as a URL: a key=value connection string
    /// (`host=db dbname=keyseal`), or a scheme misspelt or without `//` (`postgresql:db`).
    public static func unreadableAddress(_ text: String) -> Bool {
        if PostgresAddress(text) != nil { return false }
        let lower = text.lowercased()
        if lower.hasPrefix("postgres:") || lower.hasPrefix("postgresql:") || lower.hasPrefix("pg://") { return true }
        let keys = ["host=", "hostaddr=", "dbname=", "user=", "service=", "password=", "port=", "sslmode="]
        return keys.contains { lower.hasPrefix($0) || lower.contains(" " + $0) }
    }
}

/// Opens the store a command chose, scoped to its repository.
enum StoreOpener {
    /// `repository`: the repository the command works on (nil outside one: an image scan). `create`:
    /// make an SQLite store that is not there yet (a PostgreSQL store's schema is always made or
    /// migrated). Nil for `--no-store`, and for the repository's own store outside a repository.
    static func open(_ choice: StoreChoice, repository: Repository?, create: Bool, readOnly: Bool = false,
                     hooks: WriteHooks = WriteHooks()) throws -> FindingStore? {
        let store: FindingStore
        switch choice {
        case .none: return nil
        case .postgres(let address, let name):
            store = try FindingStore(postgres: address, hooks: hooks)
            try store.use(repository: name ?? repository.map(RepositoryName.of) ?? "")
            return store
        case .path(let path):
            if !create && !FileManager.default.fileExists(atPath: path) { throw KeysealError.noStore(path: path) }
            store = try FindingStore(path: path, create: create, readOnly: readOnly, hooks: hooks)
        case .inRepository:
            guard let repository else { return nil }
            let path = StoreSession.defaultPath(for: repository)
            if !create && !FileManager.default.fileExists(atPath: path) { throw KeysealError.noStore(path: path) }
            store = try FindingStore(path: path, create: create, readOnly: readOnly, hooks: hooks)
        }
        if !readOnly { try store.use(repository: repository.map(RepositoryName.of) ?? "") } else { store.scope(to: repository.map(RepositoryName.of) ?? "") }
        return store
    }
}

/// One scan's use of the store: what it may skip, and what it records.
final class StoreSession {
    let store: FindingStore
    let rulesHash: String
    let scanID: Int64

    static func defaultPath(for repository: Repository) -> String {
        (repository.commonDirectory as NSString).appendingPathComponent("keyseal/store.sqlite")
    }

    /// `allowlistHash`: the secret allowlist (regexes, stopwords) filters matches before they are
    /// recorded, so a change to it must rescan like a change of rules.
    static func open(_ choice: StoreChoice, repository: Repository, rules: [Rule], allowlistHash: String,
                     range: String, baseline: [String: Baseline.Entry] = [:],
                     hooks: WriteHooks = WriteHooks()) throws -> StoreSession? {
        // In a shared store a folder's name is no identity: two teams' `app` would be one repository.
        if case .postgres(_, nil) = choice, (try? repository.primaryRemoteURL()) ?? nil == nil {
            throw KeysealError.usage("this repository has no remote, so nothing names it in a shared store; give --repository NAME (e.g. github.com/team/app)")
        }
        guard let store = try StoreOpener.open(choice, repository: repository, create: true, hooks: hooks) else { return nil }
        let hash = recordsKey(rules: rules, allowlistHash: allowlistHash)
        // Guessable secrets an earlier version recorded with characters in their preview show none.
        try store.hidePreviews(of: rules.filter { $0.generic || $0.guessable }.map(\.id), as: SecretText.hidden)
        let id = try store.beginScan(range: range, rulesHash: hash, toolVersion: KeysealVersion.current)
        return StoreSession(store: store, rulesHash: hash, scanID: id, baseline: baseline)
    }

    /// The key a store files records under: the rules, the secret allowlist and the fingerprint
    /// scheme that made them (records made under another are not trusted: their blobs and layers are
    /// read again). A digest of 16 hex digits because it is in every row: one row per scanned blob and
    /// per walked commit, 52,000 in a first scan of redis, where the three names spelled out (76
    /// characters) made half of each row and of the SQLite work of recording them. The same inputs
    /// give the same key on every machine (a shared store's runners agree on it).
    static func recordsKey(rules: [Rule], allowlistHash: String, extra: String = "") -> String {
        let names = RuleSetHash.of(rules) + "-" + allowlistHash + "-" + SecretText.scheme + extra
        return SHA256.hash(data: Array(names.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// A committed baseline's decisions by fingerprint: those under legacy fingerprints are recorded
    /// under the new ones when a scan meets their secrets.
    let baseline: [String: Baseline.Entry]

    init(store: FindingStore, rulesHash: String, scanID: Int64, baseline: [String: Baseline.Entry] = [:]) {
        self.store = store
        self.rulesHash = rulesHash
        self.scanID = scanID
        self.baseline = baseline
    }

    func knownCommits(in repository: Repository) throws -> Set<ObjectID> {
        Set(try store.scannedCommits(rulesHash: rulesHash).compactMap(ObjectID.init(hex:)))
    }

    func scannedBlobs(among candidates: [String]) throws -> Set<String> { try store.scannedBlobs(among: candidates, rulesHash: rulesHash) }

    func matches(of blobs: Set<String>) throws -> [String: [StoredMatch]] {
        try store.matches(of: blobs, rulesHash: rulesHash)
    }

    func secretsByFingerprint() throws -> [String: SecretRecord] {
        Dictionary(try store.secretRecords().map { ($0.fingerprint, $0) }, uniquingKeysWith: { a, _ in a })
    }

    func statuses() throws -> [String: SecretStatus] { try store.statuses() }

    /// Records a chunk of scanned blobs (indexes into the history's blobs) with their matches, no
    /// secret values, in one transaction. Triage under the legacy fingerprints of guessable secrets
    /// met here moves to their new fingerprints in the same transaction. Blobs in `incomplete` (not
    /// fully scanned) are not recorded as scanned, so a later scan reads them again; their secrets are
    /// recorded all the same.
    func record(_ chunk: [Int], history: HistoryIndex, found: [BlobMatches], rules: [Rule],
                incomplete: Set<Int> = []) throws {
        // In id order: the store inserts them in that order (its index's pages visited once, in
        // turn), and sorting the ids' words here is cheaper than sorting their hex strings there.
        let chunk = chunk.sorted { history.blobs[$0] < history.blobs[$1] }
        let byBlob = Dictionary(found.map { ($0.blob, $0) }, uniquingKeysWith: { a, _ in a })
        var secrets: [String: SecretRecord] = [:]
        var links: [String: LegacyLink] = [:]
        let rows: [(blob: String, matches: [StoredMatch])] = chunk.map { index in
            guard let entry = byBlob[index] else { return (history.blobs[index].hex, []) }
            let prints = entry.prints
            let stored = entry.matches.enumerated().map { k, match in
                StoredMatch(fingerprint: prints[k].fingerprint, line: match.line, column: match.column,
                            pairedWith: match.pairedWith.map { prints[$0].fingerprint }, detail: match.detail)
            }
            for (k, match) in entry.matches.enumerated() where secrets[prints[k].fingerprint] == nil {
                let rule = rules[match.rule]
                let fingerprint = prints[k].fingerprint
                // first_seen (unknown here) is settled by finish(), from the occurrences' dates.
                secrets[fingerprint] = SecretRecord(fingerprint: fingerprint, rule: rule.id, provider: rule.provider,
                                                    description: rule.description,
                                                    preview: SecretText.preview(match.secret, rule: rule),
                                                    firstSeen: nil,
                                                    confidence: Finding.confidence(checksumValid: match.checksumValid))
                if let legacy = prints[k].legacy {
                    let decided = baseline[legacy]
                    links[fingerprint] = LegacyLink(fingerprint: fingerprint, legacy: legacy,
                                                    baselineStatus: decided?.status, baselineNote: decided?.note)
                }
            }
            return (history.blobs[index].hex, stored)
        }
        let complete = incomplete.isEmpty ? rows : zip(chunk, rows).filter { !incomplete.contains($0.0) }.map(\.1)
        try store.recordBlobs(complete, secrets: Array(secrets.values), rulesHash: rulesHash,
                              legacy: links.values.sorted { $0.fingerprint < $1.fingerprint })
    }

    /// Records this scan's occurrences and walked commits, and closes the scan. `completeWalk`: the
    /// walk covered all history under these rules, so records of other rule sets can go.
    func finish(findings: [Finding], history: HistoryIndex, counts: ScanSummary, completeWalk: Bool) throws {
        // The times of the commits that hold a finding only (most scans find little in many commits).
        let holding = Set(findings.compactMap { ObjectID(hex: $0.commit) })
        var time: [String: Int64] = [:]
        if !holding.isEmpty {
            for commit in history.commits where holding.contains(commit.id) && time[commit.id.hex] == nil {
                time[commit.id.hex] = commit.time
            }
        }
        let occurrences = findings.map {
            StoredOccurrence(fingerprint: $0.fingerprint, blob: $0.blob, path: $0.path, commit: $0.commit,
                             commitTime: time[$0.commit] ?? 0, line: $0.line, column: $0.column, author: $0.author,
                             email: $0.email, date: $0.date, pairedWith: $0.pairedWith,
                             detail: $0.occurrenceDetail)
        }
        let firstSeen = Dictionary(findings.map { ($0.fingerprint, $0.date) }, uniquingKeysWith: min)
        // In id order, as `record`'s chunks.
        try store.finishScan(scanID, occurrences: occurrences, commits: history.commits.map(\.id).sorted().map(\.hex), firstSeen: firstSeen,
                             rulesHash: rulesHash,
                             counts: .init(commits: counts.commits, blobsScanned: counts.blobsScanned,
                                           findings: findings.count, secrets: Set(findings.map(\.fingerprint)).count),
                             dropOtherRuleSets: completeWalk)
    }

    func fail() { store.failScan(scanID) }

    /// Records this repository's summary of each secret (places, the first of them, whether HEAD
    /// holds it, the refs that reach it), so that org-wide checklists and rebuild lists need no
    /// clone. `findings`: every finding of the repository, as a scan of all history reports them.
    func recordSummary(of findings: [Finding], repository: Repository) throws {
        let commits = Set(findings.map(\.commit)).compactMap(ObjectID.init(hex:))
        // The graph walk only when something was found.
        let exposure = commits.isEmpty ? nil : try repository.exposure(of: commits)
        var rows: [RepositorySecret] = []
        for (fingerprint, group) in Dictionary(grouping: findings, by: \.fingerprint) {
            let first = group.min { ($0.date, $0.path, $0.line) < ($1.date, $1.path, $1.line) }!  // Safe: groups are never empty.
            var refs = Set<String>()
            for finding in group {
                if let id = ObjectID(hex: finding.commit) { refs.formUnion(exposure?.containing[id] ?? []) }
            }
            var tagCommits: [String: String] = [:]
            for ref in refs where ref.hasPrefix("refs/tags/") { tagCommits[ref] = exposure?.tagCommits[ref]?.hex }
            rows.append(RepositorySecret(
                repository: store.repository, fingerprint: fingerprint, occurrences: group.count, firstCommit: first.commit,
                firstPath: first.path, firstLine: first.line, firstColumn: first.column, firstAuthor: first.author,
                firstEmail: first.email, firstDate: first.date, inHead: group.contains { $0.inHead == true },
                refs: refs.sorted(), tagCommits: tagCommits))
        }
        try store.recordRepositorySecrets(rows)
    }

    /// Every occurrence the store holds under these rules, as findings the allowlist lets through.
    /// Those this scan found (and just recorded with `finish`) are `own`'s values as they are; only
    /// the others, recorded by earlier scans, are built from their rows (without clear secrets).
    func allFindings(own: [Finding], settings: Settings) throws -> [Finding] {
        // The store keeps one row per secret, blob, path, line and column (the earliest commit's).
        struct Key: Hashable {
            let fingerprint, blob, path: String
            let line, column: Int
        }
        var mine: [Key: Finding] = [:]
        for finding in own {
            let key = Key(fingerprint: finding.fingerprint, blob: finding.blob, path: finding.path, line: finding.line, column: finding.column)
            if mine[key] == nil { mine[key] = finding }
        }
        return try store.occurrences(rulesHash: rulesHash).compactMap { occurrence, secret in
            if settings.allowlist.allowsPlace(path: occurrence.path, commit: occurrence.commit) { return nil }
            if Allowlist.heuristicQuietIn(rule: secret.rule, path: occurrence.path) { return nil }
            let key = Key(fingerprint: occurrence.fingerprint, blob: occurrence.blob, path: occurrence.path,
                          line: occurrence.line, column: occurrence.column)
            if let finding = mine[key], finding.commit == occurrence.commit { return finding }
            // The scan sets every finding's status from the store's decisions afterwards.
            return Finding(recorded: secret, commit: occurrence.commit, author: occurrence.author, email: occurrence.email,
                           date: occurrence.date, path: occurrence.path, line: occurrence.line, column: occurrence.column,
                           blob: occurrence.blob, pairedWith: occurrence.pairedWith, detail: occurrence.detail)
        }
    }
}
