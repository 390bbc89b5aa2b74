import CSQLite
import Foundation

/// A match recorded for a blob, without the secret: enough to rebuild an occurrence at a new path
/// or commit without reading the blob again.
public struct StoredMatch: Sendable, Hashable {
    public let fingerprint: String
    public let line: Int
    public let column: Int
    public let pairedWith: String?
    public let detail: MatchDetail?
    public init(fingerprint: String, line: Int, column: Int, pairedWith: String?, detail: MatchDetail? = nil) {
        self.fingerprint = fingerprint
        self.line = line
        self.column = column
        self.pairedWith = pairedWith
        self.detail = detail
    }
}

/// Where inside a blob a match stands beyond line and column: the archive member, the byte offset in
/// a binary, the encoding it was hidden in; and the identity used with it. Stored as one JSON column (nil for plain text).
public struct MatchDetail: Sendable, Hashable, Codable {
    public let innerPath: String?
    public let byteOffset: Int?
    public let encoding: String?
    /// The identity used with the secret (`DB_USER (admi…)`): name and preview only.
    public let identity: String?
    /// With `byteOffset`: how many bytes the secret (or its encoded span) takes in the file.
    /// Absent in records written before keyseal kept it.
    public let byteLength: Int?
    /// Where the secret ends in text (the line of its last character, and the column after it, in
    /// Unicode code points): what SARIF's region needs for its end. Absent for a binary, for a
    /// secret found decoded from an encoded span (whose length in the file is not the secret's), and
    /// in records written before keyseal kept it.
    public let endLine: Int?
    public let endColumn: Int?

    public init?(innerPath: String?, byteOffset: Int?, encoding: String?, identity: String? = nil, byteLength: Int? = nil,
                 endLine: Int? = nil, endColumn: Int? = nil) {
        if innerPath == nil && byteOffset == nil && encoding == nil && identity == nil && endColumn == nil { return nil }
        self.innerPath = innerPath
        self.byteOffset = byteOffset
        self.byteLength = byteOffset == nil ? nil : byteLength
        self.encoding = encoding
        self.identity = identity
        let inText = byteOffset == nil && encoding == nil && endColumn != nil
        self.endLine = inText ? endLine : nil
        self.endColumn = inText ? endColumn : nil
    }

    var json: String { String(decoding: (try? JSONEncoder().encode(self)) ?? Data(), as: UTF8.self) }

    static func from(_ json: String?) -> MatchDetail? {
        json.flatMap { try? JSONDecoder().decode(MatchDetail.self, from: Data($0.utf8)) }
    }
}

/// What the store knows about a secret: never its value.
public struct SecretRecord: Sendable, Hashable, Codable {
    public let fingerprint: String
    public let rule: String
    public let provider: String
    public let description: String
    public let preview: String
    /// The author date of the earliest commit found holding it; nil until a scan has met it (a
    /// secret a baseline brought in, or one recorded by a scan that was stopped before it finished).
    public var firstSeen: String?
    public var status: SecretStatus
    public var note: String?
    public var occurrences: Int
    /// From the provider's checksum: "high", "low", or nil when the format has none.
    public var confidence: String?
    /// When its status was last set (by `triage` or a baseline), UTC ISO 8601; nil if never.
    public var triagedAt: String?
    /// The container images (image and platform) `keyseal image` found it in; nil when none.
    public var images: Int?

    public init(fingerprint: String, rule: String, provider: String, description: String, preview: String,
                firstSeen: String?, status: SecretStatus = .open, note: String? = nil, occurrences: Int = 0,
                confidence: String? = nil, triagedAt: String? = nil) {
        self.confidence = confidence
        self.triagedAt = triagedAt
        self.fingerprint = fingerprint
        self.rule = rule
        self.provider = provider
        self.description = description
        self.preview = preview
        self.firstSeen = firstSeen
        self.status = status
        self.note = note
        self.occurrences = occurrences
    }

    enum CodingKeys: String, CodingKey {
        case fingerprint, rule, provider, description, preview, status, note, occurrences, confidence, images
        case firstSeen = "first_seen"
        case triagedAt = "triaged_at"
    }
}

/// A secret's fingerprint under the current scheme and under the legacy one (SHA-256 over rule id and
/// secret), for a secret whose fingerprint changed: triage recorded under the legacy one moves over.
public struct LegacyLink: Sendable, Hashable {
    public let fingerprint: String
    public let legacy: String
    /// A committed baseline's decision under the legacy fingerprint, recorded under the new one so
    /// that `keyseal baseline export` writes it anew.
    public let baselineStatus: SecretStatus?
    public let baselineNote: String?

    public init(fingerprint: String, legacy: String, baselineStatus: SecretStatus? = nil, baselineNote: String? = nil) {
        self.fingerprint = fingerprint
        self.legacy = legacy
        self.baselineStatus = baselineStatus
        self.baselineNote = baselineNote
    }
}

/// One place a secret stands: a blob at a path, brought there first by a commit.
public struct StoredOccurrence: Sendable, Hashable {
    public let fingerprint: String
    public let blob: String
    public let path: String
    public let commit: String
    public let commitTime: Int64
    public let line: Int
    public let column: Int
    public let author: String
    public let email: String
    public let date: String
    public let pairedWith: String?
    public let detail: MatchDetail?

    public init(fingerprint: String, blob: String, path: String, commit: String, commitTime: Int64, line: Int,
                column: Int, author: String, email: String, date: String, pairedWith: String?, detail: MatchDetail? = nil) {
        self.detail = detail
        self.fingerprint = fingerprint
        self.blob = blob
        self.path = path
        self.commit = commit
        self.commitTime = commitTime
        self.line = line
        self.column = column
        self.author = author
        self.email = email
        self.date = date
        self.pairedWith = pairedWith
    }
}

/// Triage states, stored and written (reports, baselines, JSON) as their raw values.
/// - `open`: a leak not yet dealt with. The only status that fails a scan or a hook.
/// - `rotated`: the credential was revoked and replaced; the old value is dead but still in
///   history, so it stays in the checklist (purge and image rebuilds) until removed.
/// - `false-positive`: not a credential (a test value, a placeholder keyseal took for one).
/// - `accepted`: a real value the team keeps on purpose (a public key, a sandbox token).
public enum SecretStatus: String, CaseIterable, Sendable, Codable {
    case open, rotated
    case falsePositive = "false-positive"
    case accepted

    public var blocks: Bool { self == .open }

    /// The values, as `--status` and a baseline spell them: "open, rotated, false-positive, accepted".
    public static let spelled = allCases.map(\.rawValue).joined(separator: ", ")

    /// A stored status. The schema allows only the four values, so anything else is a damaged store.
    static func stored(_ text: String, of fingerprint: String) throws -> SecretStatus {
        guard let status = SecretStatus(rawValue: text) else {
            throw StoreError("the store holds the status '\(text)' for \(fingerprint.prefix(12)), which is not one of \(spelled)")
        }
        return status
    }
}

/// The SQLite findings store. One instance per thread of use (the scanner writes from one thread).
public final class FindingStore {
    public static let schemaVersion = 6
    /// SQLite's `PRAGMA application_id` of a keyseal store: ASCII "KSEA". Set when keyseal creates
    /// a store (or adopts one an older keyseal made); any other non-empty database is refused.
    public static let applicationID: Int32 = 0x4B53_4541
    let connection: Connection
    public let path: String

    /// Opens (or, when `create`, creates) the store. A file that is not SQLite, an SQLite database
    /// of another application, or a store whose schema is newer than this binary knows, is an
    /// error and is left untouched. So is a path that is a folder or not a regular file.
    public convenience init(path: String, create: Bool = true, readOnly: Bool = false) throws {
        try self.init(path: path, create: create, readOnly: readOnly, hooks: WriteHooks())
    }

    /// `hooks`: test seams (see `WriteHooks`).
    package init(path: String, create: Bool = true, readOnly: Bool = false, hooks: WriteHooks) throws {
        self.path = path
        let files = FileManager.default
        if files.fileExists(atPath: path) {
            var info = stat()
            if stat(path, &info) == 0 && info.st_mode & S_IFMT != S_IFREG {
                let what = info.st_mode & S_IFMT == S_IFDIR ? "a folder" : "not a regular file"
                throw StoreError("the store \(path) is \(what); pass --store with a file's path, or --no-store")
            }
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw StoreError("cannot read the store \(path); check its permissions, or pass --no-store")
            }
            // The throwing read: readData(ofLength:) traps on a read error.
            let read = Result { try handle.read(upToCount: 16) ?? Data() }
            try? handle.close()
            guard case .success(let header) = read else {
                throw StoreError("cannot read the store \(path); check its permissions, or pass --no-store")
            }
            if !header.isEmpty && header != Data("SQLite format 3\0".utf8) {
                throw StoreError("\(path) is not a keyseal store (not an SQLite database); it was left untouched. Move it away, or pass --store PATH elsewhere")
            }
        } else if !create || readOnly {
            throw StoreError("no store at \(path)")
        } else {
            let folder = (path as NSString).deletingLastPathComponent
            do {
                try files.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw StoreError("cannot create the store folder \(folder): \(error.localizedDescription); pass --store PATH somewhere writable, or --no-store")
            }
            guard files.isWritableFile(atPath: folder) else {
                throw StoreError("cannot create the store in \(folder): the folder is read-only; pass --store PATH somewhere writable, or --no-store")
            }
        }
        do {
            connection = try Connection(path: path, readOnly: readOnly, hooks: hooks)
        } catch let error as StoreError {
            throw StoreError("\(error.message); pass --store PATH somewhere writable, or --no-store", code: error.code)
        }
        try migrate(readOnly: readOnly)
    }

    // MARK: - Schema

    /// Forward migrations, one per version; each runs in its own transaction.
    static let migrations: [String] = [
        """
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE scans (
            id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL, finished_at TEXT,
            status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'interrupted', 'failed')),
            range TEXT NOT NULL, rules_hash TEXT NOT NULL, tool_version TEXT NOT NULL, pid INTEGER NOT NULL,
            commits INTEGER NOT NULL DEFAULT 0, blobs_scanned INTEGER NOT NULL DEFAULT 0,
            findings INTEGER NOT NULL DEFAULT 0, secrets INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE secrets (
            fingerprint TEXT PRIMARY KEY, rule TEXT NOT NULL, provider TEXT NOT NULL, description TEXT NOT NULL,
            preview TEXT NOT NULL, first_seen TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'rotated', 'false-positive', 'accepted')),
            note TEXT, updated_at TEXT);
        CREATE TABLE scanned_blobs (blob TEXT NOT NULL, rules_hash TEXT NOT NULL, PRIMARY KEY (blob, rules_hash)) WITHOUT ROWID;
        CREATE TABLE blob_matches (
            blob TEXT NOT NULL, rules_hash TEXT NOT NULL, fingerprint TEXT NOT NULL, line INTEGER NOT NULL,
            col INTEGER NOT NULL, paired_with TEXT, PRIMARY KEY (blob, rules_hash, fingerprint, line, col)) WITHOUT ROWID;
        CREATE TABLE scanned_commits (commit_id TEXT NOT NULL, rules_hash TEXT NOT NULL, PRIMARY KEY (commit_id, rules_hash)) WITHOUT ROWID;
        CREATE TABLE occurrences (
            fingerprint TEXT NOT NULL, blob TEXT NOT NULL, path TEXT NOT NULL, commit_id TEXT NOT NULL,
            commit_time INTEGER NOT NULL, line INTEGER NOT NULL, col INTEGER NOT NULL, author TEXT NOT NULL,
            email TEXT NOT NULL, date TEXT NOT NULL, paired_with TEXT, rules_hash TEXT NOT NULL,
            PRIMARY KEY (fingerprint, blob, path, line, col));
        CREATE INDEX occurrences_by_commit ON occurrences (commit_id);
        """,
        """
        CREATE TABLE rebuild_requests (
            tag TEXT NOT NULL, commit_id TEXT NOT NULL, reasons_hash TEXT NOT NULL, target TEXT NOT NULL,
            requested_at TEXT NOT NULL, PRIMARY KEY (tag, reasons_hash, target));
        """,
        "ALTER TABLE secrets ADD COLUMN confidence TEXT;",
        "ALTER TABLE blob_matches ADD COLUMN detail TEXT; ALTER TABLE occurrences ADD COLUMN detail TEXT;",
        // first_seen may be NULL (not known yet) instead of the '9999' earlier versions wrote for it.
        // SQLite cannot drop a NOT NULL, so the table is rebuilt (nothing references it).
        """
        CREATE TABLE secrets_v5 (
            fingerprint TEXT PRIMARY KEY, rule TEXT NOT NULL, provider TEXT NOT NULL, description TEXT NOT NULL,
            preview TEXT NOT NULL, first_seen TEXT,
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'rotated', 'false-positive', 'accepted')),
            note TEXT, updated_at TEXT, confidence TEXT);
        INSERT INTO secrets_v5 (fingerprint, rule, provider, description, preview, first_seen, status, note, updated_at, confidence)
            SELECT fingerprint, rule, provider, description, preview, nullif(first_seen, '9999'), status, note, updated_at, confidence
            FROM secrets;
        DROP TABLE secrets;
        ALTER TABLE secrets_v5 RENAME TO secrets;
        """,
        // Container images: each layer (by diff_id) scanned once per rule set, with its listing (what a
        // later layer deletes or replaces is decided from the listings) and its matches; and where
        // each secret stands in each image scanned.
        """
        CREATE TABLE IF NOT EXISTS scanned_layers (
            layer TEXT NOT NULL, rules_hash TEXT NOT NULL, listing TEXT NOT NULL, files INTEGER NOT NULL,
            bytes INTEGER NOT NULL, PRIMARY KEY (layer, rules_hash)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS layer_matches (
            layer TEXT NOT NULL, rules_hash TEXT NOT NULL, path TEXT NOT NULL, fingerprint TEXT NOT NULL,
            line INTEGER NOT NULL, col INTEGER NOT NULL, paired_with TEXT, detail TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (layer, rules_hash, path, fingerprint, line, col, detail)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS image_occurrences (
            fingerprint TEXT NOT NULL, image TEXT NOT NULL, image_digest TEXT NOT NULL, platform TEXT NOT NULL,
            place TEXT NOT NULL, path TEXT NOT NULL, line INTEGER NOT NULL, col INTEGER NOT NULL, scanned_at TEXT NOT NULL,
            PRIMARY KEY (fingerprint, image, image_digest, platform, place, path, line, col));
        CREATE INDEX IF NOT EXISTS image_occurrences_by_image ON image_occurrences (image, platform);
        """,
    ]

    /// What the database holds before keyseal touches it, read in one snapshot (one read
    /// transaction): reading `meta` and then `scans` separately let a second process see the first
    /// one's migration half-way ("scans but no meta") and refuse the store.
    private func inspect() throws -> (applicationID: Int32, objects: Int, tables: Set<String>, version: Int?) {
        var result: (applicationID: Int32, objects: Int, tables: Set<String>, version: Int?) = (0, 0, [], nil)
        try Self.retryingBusy {
            try connection.execute("BEGIN")
            defer { try? connection.execute("COMMIT") }
            result = (0, 0, [], nil)
            try connection.prepare("PRAGMA application_id").query { result.applicationID = Int32(truncatingIfNeeded: $0.int(0)) }
            try connection.prepare("SELECT type, name FROM sqlite_master").query { row in
                result.objects += 1
                if row.string(0) == "table" { result.tables.insert(row.string(1)) }
            }
            if result.tables.contains("meta") {
                // Another application's `meta` may have other columns: then this is not keyseal's.
                try? connection.prepare("SELECT value FROM meta WHERE key = 'schema_version'").query { result.version = Int($0.string(0)) }
            }
        }
        return result
    }

    private func migrate(readOnly: Bool) throws {
        let found = try inspect()
        // An empty database (a new file) becomes a store. A store made before keyseal set its
        // application id has the id 0 and keyseal's own tables: it is adopted. Anything else is
        // another application's database: refused before anything is written (no tables, no WAL).
        let keyseal = found.applicationID == Self.applicationID
        let empty = found.objects == 0 && found.applicationID == 0
        let older = found.applicationID == 0 && found.version != nil && found.tables.isSuperset(of: ["meta", "scans", "secrets"])
        guard keyseal || empty || older else {
            throw StoreError("\(path) is an SQLite database but not a keyseal store; it was left untouched. Pass --store PATH elsewhere")
        }
        var version = found.version ?? 0
        if version > Self.schemaVersion {
            throw StoreError("\(path) has schema version \(version), newer than this keyseal knows (\(Self.schemaVersion)); upgrade keyseal. The store was left untouched")
        }
        if readOnly { return }
        // Switching to WAL takes an exclusive lock and may answer "busy" without the busy handler.
        try Self.retryingBusy { try connection.execute("PRAGMA journal_mode = WAL") }
        try connection.execute("PRAGMA synchronous = NORMAL")
        try connection.execute("PRAGMA foreign_keys = ON")
        while version < Self.schemaVersion {
            let next = version + 1
            try connection.transaction {
                // Another process may have migrated while we waited for the lock.
                var current = 0
                if try tableExists("meta") {
                    try connection.prepare("SELECT value FROM meta WHERE key = 'schema_version'").query { current = Int($0.string(0)) ?? 0 }
                }
                guard current < next else { return }
                try connection.execute(Self.migrations[next - 1])
                try connection.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)").run([.text(String(next))])
            }
            version = next
        }
        if !keyseal {
            try Self.retryingBusy { try connection.execute("PRAGMA application_id = \(Self.applicationID)") }
        }
    }

    /// Retries a step that SQLite answered with SQLITE_BUSY or SQLITE_LOCKED, for up to 30 s.
    static func retryingBusy(_ body: () throws -> Void) throws {
        let deadline = Date().addingTimeInterval(30)
        while true {
            do {
                return try body()
            } catch let error as StoreError where error.isBusy && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
    }

    private func tableExists(_ name: String) throws -> Bool {
        var found = false
        try connection.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").query([.text(name)]) { _ in found = true }
        return found
    }

    // MARK: - Scans

    /// Records a scan as running; scans left running by a process that is gone are marked interrupted.
    public func beginScan(range: String, rulesHash: String, toolVersion: String) throws -> Int64 {
        try connection.transaction {
            var stale: [Int64] = []
            try connection.prepare("SELECT id, pid FROM scans WHERE status = 'running'").query { row in
                let pid = pid_t(row.int(1))
                if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH { stale.append(Int64(row.int(0))) }
            }
            for id in stale {
                try connection.prepare("UPDATE scans SET status = 'interrupted', finished_at = ? WHERE id = ?").run([.text(Self.now()), .int(id)])
            }
            try connection.prepare("""
                INSERT INTO scans (started_at, status, range, rules_hash, tool_version, pid) VALUES (?, 'running', ?, ?, ?, ?)
                """).run([.text(Self.now()), .text(range), .text(rulesHash), .text(toolVersion), .int(Int64(getpid()))])
            return sqlite3_last_insert_rowid(connection.handle)
        }
    }

    public struct ScanCounts: Sendable {
        public var commits = 0, blobsScanned = 0, findings = 0, secrets = 0
        public init(commits: Int = 0, blobsScanned: Int = 0, findings: Int = 0, secrets: Int = 0) {
            self.commits = commits
            self.blobsScanned = blobsScanned
            self.findings = findings
            self.secrets = secrets
        }
    }

    public func failScan(_ id: Int64) {
        try? connection.prepare("UPDATE scans SET status = 'failed', finished_at = ? WHERE id = ?").run([.text(Self.now()), .int(id)])
    }

    /// Scans by status, for tests and for `keyseal findings`' summary.
    public func scanStatuses() throws -> [String] {
        var statuses: [String] = []
        try connection.prepare("SELECT status FROM scans ORDER BY id").query { statuses.append($0.string(0)) }
        return statuses
    }

    // MARK: - What has been scanned

    public func scannedCommits(rulesHash: String) throws -> Set<String> {
        var ids = Set<String>()
        try connection.prepare("SELECT commit_id FROM scanned_commits WHERE rules_hash = ?").query([.text(rulesHash)]) { ids.insert($0.string(0)) }
        return ids
    }

    public func scannedBlobs(rulesHash: String) throws -> Set<String> {
        var ids = Set<String>()
        try connection.prepare("SELECT blob FROM scanned_blobs WHERE rules_hash = ?").query([.text(rulesHash)]) { ids.insert($0.string(0)) }
        return ids
    }

    /// The recorded matches of the given blobs.
    public func matches(of blobs: Set<String>, rulesHash: String) throws -> [String: [StoredMatch]] {
        var out: [String: [StoredMatch]] = [:]
        try connection.prepare("SELECT blob, fingerprint, line, col, paired_with, detail FROM blob_matches WHERE rules_hash = ?")
            .query([.text(rulesHash)]) { row in
                let blob = row.string(0)
                guard blobs.contains(blob) else { return }
                out[blob, default: []].append(StoredMatch(fingerprint: row.string(1), line: row.int(2), column: row.int(3),
                                                          pairedWith: row.text(4), detail: MatchDetail.from(row.text(5))))
            }
        return out
    }

    /// Records scanned blobs, their matches and the secrets they hold, in one transaction; triage
    /// recorded under the legacy fingerprints of `legacy` moves to the new ones in the same transaction
    /// (so a scan killed after it loses no decision).
    public func recordBlobs(_ blobs: [(blob: String, matches: [StoredMatch])], secrets: [SecretRecord], rulesHash: String,
                            legacy: [LegacyLink] = []) throws {
        try connection.transaction {
            connection.hooks.recordingBlobs()
            let scanned = try connection.prepare("INSERT OR IGNORE INTO scanned_blobs (blob, rules_hash) VALUES (?, ?)")
            let match = try connection.prepare("""
                INSERT OR IGNORE INTO blob_matches (blob, rules_hash, fingerprint, line, col, paired_with, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
            for entry in blobs {
                try scanned.run([.text(entry.blob), .text(rulesHash)])
                for m in entry.matches {
                    try match.run([.text(entry.blob), .text(rulesHash), .text(m.fingerprint), .int(Int64(m.line)),
                                   .int(Int64(m.column)), m.pairedWith.map { .text($0) } ?? .null,
                                   m.detail.map { .text($0.json) } ?? .null])
                }
            }
            try upsertSecrets(secrets)
            try carryOver(legacy)
        }
    }

    /// A decision (status, note, date) recorded under a legacy fingerprint applies to the new one
    /// unless the new one has a decision of its own; then the legacy row goes, with the unsalted hash
    /// and the preview it kept. A baseline's legacy decision is recorded the same way.
    private func carryOver(_ links: [LegacyLink]) throws {
        guard !links.isEmpty else { return }
        let read = try connection.prepare("SELECT status, note, updated_at FROM secrets WHERE fingerprint = ?")
        let adopt = try connection.prepare("""
            UPDATE secrets SET status = ?, note = coalesce(note, ?), updated_at = coalesce(?, updated_at)
            WHERE fingerprint = ? AND status = 'open'
            """)
        let forget = try ["secrets", "occurrences", "blob_matches"].map {
            try connection.prepare("DELETE FROM \($0) WHERE fingerprint = ?")
        }
        for link in links where link.legacy != link.fingerprint {
            var old: (status: SecretStatus, note: String?, updated: String?)? = nil
            try read.query([.text(link.legacy)]) { old = (try SecretStatus.stored($0.string(0), of: link.legacy), $0.text(1), $0.text(2)) }
            if let old {
                try adopt.run([.text(old.status.rawValue), old.note.map { .text($0) } ?? .null, .text(old.updated ?? Self.now()),
                               .text(link.fingerprint)])
                for statement in forget { try statement.run([.text(link.legacy)]) }
            }
            if let status = link.baselineStatus, status != .open {
                try adopt.run([.text(status.rawValue), link.baselineNote.map { .text($0) } ?? .null, .text(Self.now()),
                               .text(link.fingerprint)])
            }
        }
    }

    /// Sets the preview of every secret of these rules (guessable secrets recorded with characters
    /// by an earlier version show none).
    public func hidePreviews(of rules: [String], as preview: String) throws {
        guard !rules.isEmpty else { return }
        try connection.transaction {
            let update = try connection.prepare("UPDATE secrets SET preview = ? WHERE rule = ? AND preview <> ?")
            for rule in rules { try update.run([.text(preview), .text(rule), .text(preview)]) }
        }
    }

    func upsertSecrets(_ secrets: [SecretRecord]) throws {
        let statement = try connection.prepare("""
            INSERT INTO secrets (fingerprint, rule, provider, description, preview, first_seen, confidence) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (fingerprint) DO UPDATE SET
                first_seen = coalesce(min(first_seen, excluded.first_seen), first_seen, excluded.first_seen),
                confidence = coalesce(excluded.confidence, confidence)
            """)
        for secret in secrets {
            try statement.run([.text(secret.fingerprint), .text(secret.rule), .text(secret.provider), .text(secret.description),
                               .text(secret.preview), secret.firstSeen.map { .text($0) } ?? .null, secret.confidence.map { .text($0) } ?? .null])
        }
    }

    /// Records where secrets stand and which commits were walked, and closes the scan, atomically.
    /// An occurrence already known keeps the earliest commit (by commit time, then id).
    public func finishScan(_ id: Int64, occurrences: [StoredOccurrence], commits: [String], firstSeen: [String: String],
                           rulesHash: String, counts: ScanCounts, dropOtherRuleSets: Bool) throws {
        try connection.transaction {
            // min() of a NULL is NULL: an unknown first_seen takes the date.
            let seen = try connection.prepare("UPDATE secrets SET first_seen = coalesce(min(first_seen, ?1), ?1) WHERE fingerprint = ?2")
            for (fingerprint, date) in firstSeen { try seen.run([.text(date), .text(fingerprint)]) }
            let upsert = try connection.prepare("""
                INSERT INTO occurrences (fingerprint, blob, path, commit_id, commit_time, line, col, author, email, date, paired_with,
                                         rules_hash, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (fingerprint, blob, path, line, col) DO UPDATE SET
                    commit_id = excluded.commit_id, commit_time = excluded.commit_time, author = excluded.author,
                    email = excluded.email, date = excluded.date, rules_hash = excluded.rules_hash, detail = excluded.detail
                WHERE excluded.commit_time < occurrences.commit_time
                   OR (excluded.commit_time = occurrences.commit_time AND excluded.commit_id < occurrences.commit_id)
                   OR occurrences.rules_hash <> excluded.rules_hash
                """)
            for o in occurrences {
                try upsert.run([.text(o.fingerprint), .text(o.blob), .text(o.path), .text(o.commit), .int(o.commitTime),
                                .int(Int64(o.line)), .int(Int64(o.column)), .text(o.author), .text(o.email), .text(o.date),
                                o.pairedWith.map { .text($0) } ?? .null, .text(rulesHash), o.detail.map { .text($0.json) } ?? .null])
            }
            let commit = try connection.prepare("INSERT OR IGNORE INTO scanned_commits (commit_id, rules_hash) VALUES (?, ?)")
            for id in commits { try commit.run([.text(id), .text(rulesHash)]) }
            if dropOtherRuleSets {
                // A complete walk under these rules supersedes what older rule sets recorded.
                for table in ["occurrences", "scanned_blobs", "blob_matches", "scanned_commits"] {
                    try connection.prepare("DELETE FROM \(table) WHERE rules_hash <> ?").run([.text(rulesHash)])
                }
            }
            try connection.prepare("""
                UPDATE scans SET status = 'finished', finished_at = ?, commits = ?, blobs_scanned = ?, findings = ?, secrets = ?
                WHERE id = ?
                """).run([.text(Self.now()), .int(Int64(counts.commits)), .int(Int64(counts.blobsScanned)),
                          .int(Int64(counts.findings)), .int(Int64(counts.secrets)), .int(id)])
        }
    }

    // MARK: - Reading findings

    /// Every occurrence recorded under these rules, with its secret.
    public func occurrences(rulesHash: String) throws -> [(StoredOccurrence, SecretRecord)] {
        var out: [(StoredOccurrence, SecretRecord)] = []
        try connection.prepare("""
            SELECT o.fingerprint, o.blob, o.path, o.commit_id, o.commit_time, o.line, o.col, o.author, o.email, o.date,
                   o.paired_with, s.rule, s.provider, s.description, s.preview, s.first_seen, s.status, s.note, s.confidence,
                   o.detail
            FROM occurrences o JOIN secrets s ON s.fingerprint = o.fingerprint
            WHERE o.rules_hash = ?
            """).query([.text(rulesHash)]) { row in
            let occurrence = StoredOccurrence(
                fingerprint: row.string(0), blob: row.string(1), path: row.string(2), commit: row.string(3),
                commitTime: Int64(row.int(4)), line: row.int(5), column: row.int(6), author: row.string(7),
                email: row.string(8), date: row.string(9), pairedWith: row.text(10), detail: MatchDetail.from(row.text(19)))
            let secret = SecretRecord(fingerprint: row.string(0), rule: row.string(11), provider: row.string(12),
                                      description: row.string(13), preview: row.string(14), firstSeen: row.text(15),
                                      status: try SecretStatus.stored(row.string(16), of: row.string(0)), note: row.text(17), confidence: row.text(18))
            out.append((occurrence, secret))
        }
        return out
    }

    /// Secrets with their occurrence counts, most recently first seen last (those not seen yet last of all).
    public func secrets(statuses: Set<SecretStatus>? = nil) throws -> [SecretRecord] {
        var out: [SecretRecord] = []
        try connection.prepare("""
            SELECT s.fingerprint, s.rule, s.provider, s.description, s.preview, s.first_seen, s.status, s.note,
                   (SELECT count(*) FROM occurrences o WHERE o.fingerprint = s.fingerprint), s.confidence, s.updated_at,
                   (SELECT count(DISTINCT i.image || ' ' || i.platform) FROM image_occurrences i WHERE i.fingerprint = s.fingerprint)
            FROM secrets s ORDER BY s.first_seen IS NULL, s.first_seen, s.fingerprint
            """).query { row in
            var record = SecretRecord(fingerprint: row.string(0), rule: row.string(1), provider: row.string(2),
                                      description: row.string(3), preview: row.string(4), firstSeen: row.text(5),
                                      status: try SecretStatus.stored(row.string(6), of: row.string(0)), note: row.text(7), occurrences: row.int(8), confidence: row.text(9),
                                      triagedAt: row.text(10))
            let images = row.int(11)
            record.images = images > 0 ? images : nil
            if statuses?.contains(record.status) ?? true { out.append(record) }
        }
        return out
    }

    /// Triage status by fingerprint, for hooks and scans to decide what blocks.
    public func statuses() throws -> [String: SecretStatus] {
        var out: [String: SecretStatus] = [:]
        try connection.prepare("SELECT fingerprint, status FROM secrets").query {
            out[$0.string(0)] = try SecretStatus.stored($0.string(1), of: $0.string(0))
        }
        return out
    }

    /// Sets the status (and note) of the one secret whose fingerprint starts with `prefix`.
    public func triage(prefix: String, status: SecretStatus, note: String?) throws -> SecretRecord {
        let lower = prefix.lowercased()
        guard lower.count >= 4, lower.allSatisfy(\.isHexDigit) else {
            throw StoreError("'\(prefix)' is not a fingerprint prefix: give at least 4 hex digits (see keyseal findings)")
        }
        return try connection.transaction {
            let candidates = try secrets().filter { $0.fingerprint.hasPrefix(lower) }
            guard !candidates.isEmpty else { throw StoreError("no secret's fingerprint starts with \(lower) (see keyseal findings)") }
            guard candidates.count == 1 else {
                let list = candidates.map { "  \($0.fingerprint.prefix(16))  \($0.rule)  \($0.preview)" }.joined(separator: "\n")
                throw StoreError("\(lower) matches \(candidates.count) secrets; give more digits:\n\(list)")
            }
            var secret = candidates[0]
            try connection.prepare("UPDATE secrets SET status = ?, note = coalesce(?, note), updated_at = ? WHERE fingerprint = ?")
                .run([.text(status.rawValue), note.map { .text($0) } ?? .null, .text(Self.now()), .text(secret.fingerprint)])
            secret.status = status
            if let note { secret.note = note }
            return secret
        }
    }

    /// Records secrets without touching a decision already made about them: what a server's
    /// pre-receive hook refused, so that its admins can triage them by fingerprint.
    /// `note`: appended to each secret's note (an emergency bypass and who used it), dated.
    public func rememberSecrets(_ secrets: [SecretRecord], note: String? = nil) throws {
        try connection.transaction {
            try upsertSecrets(secrets)
            guard let note else { return }
            let update = try connection.prepare(
                "UPDATE secrets SET note = CASE WHEN note IS NULL OR note = '' THEN ?1 ELSE note || '; ' || ?1 END, updated_at = ?2 WHERE fingerprint = ?3")
            for secret in secrets { try update.run([.text(note), .text(Self.now()), .text(secret.fingerprint)]) }
        }
    }

    /// Applies a baseline: the status of each listed fingerprint (the secret must be known, or is
    /// recorded with the baseline's rule and preview).
    public func importBaseline(_ entries: [SecretRecord]) throws -> Int {
        try connection.transaction {
            try upsertSecrets(entries)
            let update = try connection.prepare("UPDATE secrets SET status = ?, note = coalesce(?, note), updated_at = ? WHERE fingerprint = ?")
            for entry in entries {
                // The baseline's own date of the decision, where it gives one.
                try update.run([.text(entry.status.rawValue), entry.note.map { .text($0) } ?? .null, .text(entry.triagedAt ?? Self.now()),
                                .text(entry.fingerprint)])
            }
            return entries.count
        }
    }

    // MARK: - Rebuild requests

    /// Whether a request for this tag with exactly these reasons already succeeded for this target.
    /// `legacyTarget`: the key an older keyseal recorded the same target under (a webhook's full
    /// URL, credentials and all). Records under it are first moved to `target`, with SQLite's
    /// secure delete, so they still count as sent and the old key leaves the store.
    public func rebuildRequested(tag: String, reasonsHash: String, target: String, legacyTarget: String? = nil) throws -> Bool {
        if let legacyTarget, legacyTarget != target {
            var legacy = false
            try connection.prepare("SELECT 1 FROM rebuild_requests WHERE target = ? LIMIT 1").query([.text(legacyTarget)]) { _ in legacy = true }
            if legacy {
                try connection.execute("PRAGMA secure_delete = ON")
                try connection.transaction {
                    try connection.prepare("UPDATE OR REPLACE rebuild_requests SET target = ? WHERE target = ?")
                        .run([.text(target), .text(legacyTarget)])
                }
            }
        }
        var found = false
        try connection.prepare("SELECT 1 FROM rebuild_requests WHERE tag = ? AND reasons_hash = ? AND target = ?")
            .query([.text(tag), .text(reasonsHash), .text(target)]) { _ in found = true }
        return found
    }

    public func recordRebuild(tag: String, commit: String, reasonsHash: String, target: String) throws {
        try connection.transaction {
            try connection.prepare("""
                INSERT OR REPLACE INTO rebuild_requests (tag, commit_id, reasons_hash, target, requested_at) VALUES (?, ?, ?, ?, ?)
                """).run([.text(tag), .text(commit), .text(reasonsHash), .text(target), .text(Self.now())])
        }
    }

    static func now() -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date())
    }
}
