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
    /// In an org-wide listing: how many repositories hold it.
    public var repositories: Int?

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
        case fingerprint, rule, provider, description, preview, status, note, occurrences, confidence, images, repositories
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

/// A secret in one repository as that repository's last scan of all history left it: how many
/// places hold it, the first of them, whether HEAD still does, and which refs reach it. What the
/// org-wide checklist and rebuild list are made of, one row per repository and secret, so they
/// need neither a clone nor a pass over every occurrence.
public struct RepositorySecret: Sendable, Hashable {
    public let repository: String
    public let fingerprint: String
    public let occurrences: Int
    public let firstCommit: String
    public let firstPath: String
    public let firstLine: Int
    public let firstColumn: Int
    public let firstAuthor: String
    public let firstEmail: String
    public let firstDate: String
    public let inHead: Bool
    /// Full ref names (`refs/heads/main`, `refs/tags/v1`, `refs/remotes/origin/main`).
    public let refs: [String]
    /// The commit each of those tags names.
    public let tagCommits: [String: String]

    public init(repository: String, fingerprint: String, occurrences: Int, firstCommit: String, firstPath: String, firstLine: Int,
                firstColumn: Int, firstAuthor: String, firstEmail: String, firstDate: String, inHead: Bool, refs: [String],
                tagCommits: [String: String]) {
        self.repository = repository
        self.fingerprint = fingerprint
        self.occurrences = occurrences
        self.firstCommit = firstCommit
        self.firstPath = firstPath
        self.firstLine = firstLine
        self.firstColumn = firstColumn
        self.firstAuthor = firstAuthor
        self.firstEmail = firstEmail
        self.firstDate = firstDate
        self.inHead = inHead
        self.refs = refs
        self.tagCommits = tagCommits
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
    public static let schemaVersion = 7
    /// SQLite's `PRAGMA application_id` of a keyseal store: ASCII "KSEA". Set when keyseal creates
    /// a store (or adopts one an older keyseal made); any other non-empty database is refused.
    public static let applicationID: Int32 = 0x4B53_4541
    let connection: any DatabaseConnection
    /// The store as messages name it: a file's path, or a PostgreSQL URL without its password.
    public let path: String
    /// The repository this store's reads and writes of occurrences, walked commits and rebuild
    /// requests belong to (its normalised remote URL, or `--repository`); secrets, their triage and
    /// scanned blobs and layers are shared by every repository of the store. Empty (a store opened
    /// without a repository): reads cover every repository.
    public private(set) var repository = ""
    public var isShared: Bool { connection.dialect == .postgres }
    /// The checkpoint `finishScan` starts on a thread of its own: waited for before the connection closes.
    private let checkpointBeside = DispatchGroup()

    deinit { checkpointBeside.wait() }

    /// Opens (creating its schema, or migrating it forward, when it is older) a PostgreSQL store.
    public convenience init(postgres address: PostgresAddress, schema: SchemaPolicy = .createIfAbsent) throws {
        try self.init(postgres: address, hooks: WriteHooks(), schema: schema)
    }

    /// What opening a PostgreSQL store may do to its schema.
    public enum SchemaPolicy: Sendable {
        /// Bring it to this keyseal's version (`keyseal store migrate`).
        case migrate
        /// Create it in an empty database; an older one is left for `keyseal store migrate`, so that
        /// one runner with a newer keyseal does not upgrade the schema under every other runner.
        case createIfAbsent
        /// Change nothing; refuse a schema that is not this keyseal's.
        case check
    }

    package init(postgres address: PostgresAddress, hooks: WriteHooks, schema: SchemaPolicy = .createIfAbsent) throws {
        path = address.redacted
        connection = try PostgresConnection(address, hooks: hooks)
        switch schema {
        case .migrate: try PostgresSchema.migrate(connection)
        case .createIfAbsent:
            let installed = try PostgresSchema.installedVersion(connection)
            if installed == 0 { try PostgresSchema.migrate(connection) } else { try PostgresSchema.check(connection, installed: installed) }
        case .check: try PostgresSchema.check(connection)
        }
    }

    /// Scopes the store to one repository. In an SQLite store (one repository's own), rows an
    /// earlier keyseal recorded without a name are that repository's and take its name.
    /// The schema version a PostgreSQL store holds now (0: none yet), read without changing anything.
    public static func schemaVersion(of address: PostgresAddress) throws -> Int {
        try PostgresSchema.installedVersion(PostgresConnection(address))
    }

    /// The schema version an SQLite store file holds now (0: no file, or not a store yet), read
    /// without migrating it.
    public static func storedSchemaVersion(atPath path: String) -> Int {
        guard FileManager.default.fileExists(atPath: path),
              let connection = try? SQLiteConnection(path: path, readOnly: true, hooks: WriteHooks()) else { return 0 }
        var version = 0
        try? connection.prepare("SELECT value FROM meta WHERE key = 'schema_version'").query { version = Int($0.string(0)) ?? 0 }
        return version
    }

    /// Scopes a read-only store (nothing is renamed).
    public func scope(to name: String) {
        repository = name
    }

    public func use(repository name: String) throws {
        repository = name
        guard connection.dialect == .sqlite else { return }
        var unnamed = false
        try connection.prepare("SELECT 1 FROM scanned_commits WHERE repository = '' UNION ALL SELECT 1 FROM occurrences WHERE repository = '' LIMIT 1")
            .query { _ in unnamed = true }
        guard unnamed, !name.isEmpty else { return }
        try connection.transaction {
            for table in ["scans", "scanned_commits", "occurrences", "rebuild_requests", "repository_secrets"] {
                try connection.prepare("UPDATE \(table) SET repository = ? WHERE repository = ''").run([.text(name)])
            }
        }
    }

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
            connection = try SQLiteConnection(path: path, readOnly: readOnly, hooks: hooks)
        } catch let error as StoreError {
            throw StoreError("\(error.message); pass --store PATH somewhere writable, or --no-store", code: error.code)
        }
        try migrate(readOnly: readOnly)
    }

    // MARK: - Schema

    /// Forward migrations, one per version; those a store lacks run together in one transaction.
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
        // One store for many repositories (as the PostgreSQL store is): walked commits, occurrences
        // and rebuild requests carry the repository's name; which refs reach each commit that holds
        // a secret is recorded at scan time, so org-wide checklists and rebuild lists need no clone.
        // (`scans` gains `repository` and `host` in `migrate`, only where it lacks them.)
        """
        CREATE TABLE scanned_commits_v7 (
            repository TEXT NOT NULL, commit_id TEXT NOT NULL, rules_hash TEXT NOT NULL,
            PRIMARY KEY (repository, commit_id, rules_hash)) WITHOUT ROWID;
        INSERT INTO scanned_commits_v7 SELECT '', commit_id, rules_hash FROM scanned_commits;
        DROP TABLE scanned_commits;
        ALTER TABLE scanned_commits_v7 RENAME TO scanned_commits;
        CREATE TABLE occurrences_v7 (
            repository TEXT NOT NULL, fingerprint TEXT NOT NULL, blob TEXT NOT NULL, path TEXT NOT NULL, commit_id TEXT NOT NULL,
            commit_time INTEGER NOT NULL, line INTEGER NOT NULL, col INTEGER NOT NULL, author TEXT NOT NULL,
            email TEXT NOT NULL, date TEXT NOT NULL, paired_with TEXT, rules_hash TEXT NOT NULL, detail TEXT,
            PRIMARY KEY (repository, fingerprint, blob, path, line, col));
        INSERT INTO occurrences_v7 (repository, fingerprint, blob, path, commit_id, commit_time, line, col, author, email, date,
                                    paired_with, rules_hash, detail)
            SELECT '', fingerprint, blob, path, commit_id, commit_time, line, col, author, email, date, paired_with, rules_hash, detail
            FROM occurrences;
        DROP TABLE occurrences;
        ALTER TABLE occurrences_v7 RENAME TO occurrences;
        CREATE INDEX occurrences_by_commit ON occurrences (repository, commit_id);
        CREATE INDEX occurrences_by_fingerprint ON occurrences (fingerprint);
        CREATE TABLE rebuild_requests_v7 (
            repository TEXT NOT NULL, tag TEXT NOT NULL, commit_id TEXT NOT NULL, reasons_hash TEXT NOT NULL, target TEXT NOT NULL,
            requested_at TEXT NOT NULL, PRIMARY KEY (repository, tag, reasons_hash, target));
        INSERT INTO rebuild_requests_v7 SELECT '', tag, commit_id, reasons_hash, target, requested_at FROM rebuild_requests;
        DROP TABLE rebuild_requests;
        ALTER TABLE rebuild_requests_v7 RENAME TO rebuild_requests;
        CREATE TABLE IF NOT EXISTS repository_secrets (
            repository TEXT NOT NULL, fingerprint TEXT NOT NULL, occurrences INTEGER NOT NULL, first_commit TEXT NOT NULL,
            first_path TEXT NOT NULL, first_line INTEGER NOT NULL, first_col INTEGER NOT NULL, first_author TEXT NOT NULL,
            first_email TEXT NOT NULL, first_date TEXT NOT NULL, in_head INTEGER NOT NULL, refs TEXT NOT NULL, tag_commits TEXT NOT NULL,
            PRIMARY KEY (repository, fingerprint)) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS repository_secrets_by_fingerprint ON repository_secrets (fingerprint);
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
        let version = found.version ?? 0
        if version > Self.schemaVersion {
            throw StoreError("\(path) has schema version \(version), newer than this keyseal knows (\(Self.schemaVersion)); upgrade keyseal. The store was left untouched")
        }
        if readOnly { return }
        // Switching to WAL takes an exclusive lock and may answer "busy" without the busy handler.
        try Self.retryingBusy { try connection.execute("PRAGMA journal_mode = WAL") }
        try connection.execute("PRAGMA synchronous = NORMAL")
        try connection.execute("PRAGMA foreign_keys = ON")
        // Every step in one transaction: a store is never left half-way between versions, and a new
        // store is made in one commit (seven took 4 ms of every first scan).
        if version < Self.schemaVersion {
            try connection.transaction {
                // Another process may have migrated while we waited for the lock.
                var current = 0
                if try tableExists("meta") {
                    try connection.prepare("SELECT value FROM meta WHERE key = 'schema_version'").query { current = Int($0.string(0)) ?? 0 }
                }
                guard current < Self.schemaVersion else { return }
                for next in (current + 1)...Self.schemaVersion {
                    if next == 7 {
                        var columns = Set<String>()
                        try connection.prepare("PRAGMA table_info(scans)").query { columns.insert($0.string(1)) }
                        for column in ["repository", "host"] where !columns.contains(column) {
                            try connection.execute("ALTER TABLE scans ADD COLUMN \(column) TEXT NOT NULL DEFAULT ''")
                        }
                    }
                    try connection.execute(Self.migrations[next - 1])
                }
                try connection.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)")
                    .run([.text(String(Self.schemaVersion))])
            }
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
            // Only this machine's processes can be checked; a shared store's other runners mark their own.
            // ('' is an SQLite store's row from before hosts were recorded; a shared store has none.)
            let sql = connection.dialect == .sqlite ? "SELECT id, pid FROM scans WHERE status = 'running' AND host IN ('', ?)"
                : "SELECT id, pid FROM scans WHERE status = 'running' AND host = ?"
            try connection.prepare(sql).query([.text(Self.host)]) { row in
                // A shared store's rows are written by many; a pid that is no process id is skipped, not trusted.
                guard let pid = pid_t(exactly: row.int(1)), pid > 0 else { return }
                if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH { stale.append(Int64(row.int(0))) }
            }
            for id in stale {
                try connection.prepare("UPDATE scans SET status = 'interrupted', finished_at = ? WHERE id = ?").run([.text(Self.now()), .int(id)])
            }
            var id: Int64 = 0
            try connection.prepare("""
                INSERT INTO scans (started_at, status, range, rules_hash, tool_version, pid, repository, host)
                VALUES (?, 'running', ?, ?, ?, ?, ?, ?) RETURNING id
                """).query([.text(Self.now()), .text(range), .text(rulesHash), .text(toolVersion), .int(Int64(getpid())),
                            .text(repository), .text(Self.host)]) { id = Int64($0.int(0)) }
            return id
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

    /// This machine's name, with the scans it runs (a stale scan is marked only by its own machine).
    static let host: String = {
        var name = [CChar](repeating: 0, count: 256)
        return gethostname(&name, name.count) == 0 ? String(cString: name) : ""
    }()

    public func failScan(_ id: Int64) {
        try? connection.prepare("UPDATE scans SET status = 'failed', finished_at = ? WHERE id = ?").run([.text(Self.now()), .int(id)])
    }

    /// Scans by status, for tests and for `keyseal findings`' summary.
    public func scanStatuses() throws -> [String] {
        var statuses: [String] = []
        try connection.prepare("SELECT status FROM scans WHERE ?1 = '' OR repository = ?1 ORDER BY id").query([.text(repository)]) { statuses.append($0.string(0)) }
        return statuses
    }

    // MARK: - What has been scanned

    public func scannedCommits(rulesHash: String) throws -> Set<String> {
        var ids = Set<String>()
        try connection.prepare("SELECT commit_id FROM scanned_commits WHERE rules_hash = ?1 AND (?2 = '' OR repository = ?2)")
            .query([.text(rulesHash), .text(repository)]) { ids.insert($0.string(0)) }
        return ids
    }

    /// Which of `candidates` (blob ids) the store has scanned under these rules, in any repository.
    public func scannedBlobs(among candidates: [String], rulesHash: String) throws -> Set<String> {
        var ids = Set<String>()
        guard !candidates.isEmpty else { return ids }
        switch connection.dialect {
        case .sqlite:
            // One repository's store: reading the table whole is faster than asking blob by blob.
            // The set of candidates is built at the first row: a first scan's store has none.
            var wanted: Set<String>? = nil
            try connection.prepare("SELECT blob FROM scanned_blobs WHERE rules_hash = ?").query([.text(rulesHash)]) {
                if wanted == nil { wanted = Set(candidates) }
                let blob = $0.string(0)
                if wanted?.contains(blob) == true { ids.insert(blob) }
            }
        case .postgres:
            // An organisation's store holds far more blobs than one repository: ask for these only.
            let statement = try connection.prepare("SELECT blob FROM scanned_blobs WHERE rules_hash = ? AND blob = ANY(?::text[])")
            for batch in Self.batches(candidates) {
                try statement.query([.text(rulesHash), .text(batch)]) { ids.insert($0.string(0)) }
            }
        }
        return ids
    }

    /// Hex ids as PostgreSQL array literals of at most 5,000 each.
    static func batches(_ ids: [String]) -> [String] {
        stride(from: 0, to: ids.count, by: 5000).map { start in
            "{" + ids[start..<min(start + 5000, ids.count)].joined(separator: ",") + "}"
        }
    }

    /// The recorded matches of the given blobs.
    public func matches(of blobs: Set<String>, rulesHash: String) throws -> [String: [StoredMatch]] {
        var out: [String: [StoredMatch]] = [:]
        guard !blobs.isEmpty else { return out }
        let sql = "SELECT blob, fingerprint, line, col, paired_with, detail FROM blob_matches WHERE rules_hash = ?"
        let statement = try connection.prepare(connection.dialect == .sqlite ? sql : sql + " AND blob = ANY(?::text[])")
        let batches = connection.dialect == .sqlite ? [nil] : Self.batches(Array(blobs)).map(Optional.some)
        for batch in batches {
            try statement.query([.text(rulesHash)] + (batch.map { [.text($0)] } ?? [])) { row in
                let blob = row.string(0)
                guard blobs.contains(blob) else { return }
                out[blob, default: []].append(StoredMatch(fingerprint: row.string(1), line: row.int(2), column: row.int(3),
                                                          pairedWith: row.text(4), detail: MatchDetail.from(row.text(5))))
            }
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
            let match = try connection.prepare("""
                INSERT INTO blob_matches (blob, rules_hash, fingerprint, line, col, paired_with, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """)
            switch connection.dialect {
            case .sqlite:
                // One statement for the chunk (the ids as a JSON array), in id order, so the index's
                // pages are visited in order and the work is SQLite's rather than a bind and a step per blob.
                try connection.prepare("INSERT INTO scanned_blobs (blob, rules_hash) SELECT value, ? FROM json_each(?) WHERE true ON CONFLICT DO NOTHING")
                    .run([.text(rulesHash), .text(Self.jsonArray(of: blobs.map(\.blob).sorted()))])
            case .postgres:
                // One statement per 5,000 blobs, not a round trip each; in one order, so writers that
                // record the same blobs (two runners of one repository) never deadlock.
                let insert = try connection.prepare("INSERT INTO scanned_blobs (blob, rules_hash) SELECT unnest(?::text[]), ? ON CONFLICT DO NOTHING")
                for batch in Self.batches(blobs.map(\.blob).sorted()) { try insert.run([.text(batch), .text(rulesHash)]) }
            }
            for entry in blobs.filter({ !$0.matches.isEmpty }).sorted(by: { $0.blob < $1.blob }) {
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
        // In a shared store a scanner may not set a status (only a lead triages), and a legacy
        // fingerprint's decision is read through it where it is used (`Decisions.status`).
        guard !links.isEmpty, connection.dialect == .sqlite else { return }
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
            switch connection.dialect {
            case .sqlite:
                // One statement, not one per generic or guessable rule (about 70) at every scan's start.
                try connection.prepare("UPDATE secrets SET preview = ?1 WHERE preview <> ?1 AND rule IN (SELECT value FROM json_each(?2))")
                    .run([.text(preview), .text(Self.jsonArray(of: rules))])
            case .postgres:
                // One statement: an organisation's store has far more secrets than rules to check.
                let list = "{" + rules.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
                    .joined(separator: ",") + "}"
                try connection.prepare("UPDATE secrets SET preview = ? WHERE rule = ANY(?::text[]) AND preview <> ?")
                    .run([.text(preview), .text(list), .text(preview)])
            }
        }
    }

    func upsertSecrets(_ secrets: [SecretRecord]) throws {
        let statement = try connection.prepare("""
            INSERT INTO secrets (fingerprint, rule, provider, description, preview, first_seen, confidence) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (fingerprint) DO UPDATE SET
                first_seen = \(connection.dialect.least("secrets.first_seen", "excluded.first_seen")),
                confidence = coalesce(excluded.confidence, secrets.confidence)
            """)
        // In one order, so that two writers upserting the same secrets never deadlock.
        for secret in secrets.sorted(by: { $0.fingerprint < $1.fingerprint }) {
            try statement.run([.text(secret.fingerprint), .text(secret.rule), .text(secret.provider), .text(secret.description),
                               .text(secret.preview), secret.firstSeen.map { .text($0) } ?? .null, secret.confidence.map { .text($0) } ?? .null])
        }
    }

    /// Records where secrets stand and which commits were walked, and closes the scan, atomically.
    /// An occurrence already known keeps the earliest commit (by commit time, then id).
    public func finishScan(_ id: Int64, occurrences: [StoredOccurrence], commits: [String], firstSeen: [String: String],
                           rulesHash: String, counts: ScanCounts, dropOtherRuleSets: Bool) throws {
        // SQLite copies its write-ahead log into the database when a commit finds the log long (in
        // that commit) and when the last connection closes. After a first scan's records both would
        // hold up the scan's end (9 ms in this commit, about a thousand pages of redis' records), so
        // this connection's commits copy nothing from here on, and another connection copies on a
        // thread of its own while this one reads on: the close is left the last commits' pages.
        // (For the rest of this connection's life: a store is opened for one scan, and closed after it.)
        if connection.dialect == .sqlite { try connection.execute("PRAGMA wal_autocheckpoint = 0") }
        try connection.transaction {
            // min() of a NULL is NULL: an unknown first_seen takes the date.
            let seen = try connection.prepare("UPDATE secrets SET first_seen = \(connection.dialect.least("first_seen", "?1")) WHERE fingerprint = ?2")
            for (fingerprint, date) in firstSeen.sorted(by: { $0.key < $1.key }) { try seen.run([.text(date), .text(fingerprint)]) }
            let upsert = try connection.prepare("""
                INSERT INTO occurrences (fingerprint, blob, path, commit_id, commit_time, line, col, author, email, date, paired_with,
                                         rules_hash, detail, repository)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (repository, fingerprint, blob, path, line, col) DO UPDATE SET
                    commit_id = excluded.commit_id, commit_time = excluded.commit_time, author = excluded.author,
                    email = excluded.email, date = excluded.date, rules_hash = excluded.rules_hash, detail = excluded.detail
                WHERE excluded.commit_time < occurrences.commit_time
                   OR (excluded.commit_time = occurrences.commit_time AND excluded.commit_id < occurrences.commit_id)
                   OR occurrences.rules_hash <> excluded.rules_hash
                """)
            for o in occurrences {
                try upsert.run([.text(o.fingerprint), .text(o.blob), .text(o.path), .text(o.commit), .int(o.commitTime),
                                .int(Int64(o.line)), .int(Int64(o.column)), .text(o.author), .text(o.email), .text(o.date),
                                o.pairedWith.map { .text($0) } ?? .null, .text(rulesHash), o.detail.map { .text($0.json) } ?? .null,
                                .text(repository)])
            }
            try recordCommits(commits, rulesHash: rulesHash)
            if dropOtherRuleSets, try otherRuleSetsScanned(than: rulesHash, besides: id) {
                // A complete walk under these rules supersedes what older rule sets recorded here.
                for table in ["occurrences", "scanned_commits"] {
                    try connection.prepare("DELETE FROM \(table) WHERE rules_hash <> ? AND repository = ?").run([.text(rulesHash), .text(repository)])
                }
                // Scanned blobs are one repository's in SQLite; a shared store keeps other rule sets'
                // (other repositories may be configured with them).
                if connection.dialect == .sqlite {
                    for table in ["scanned_blobs", "blob_matches"] {
                        try connection.prepare("DELETE FROM \(table) WHERE rules_hash <> ?").run([.text(rulesHash)])
                    }
                }
            }
            try connection.prepare("""
                UPDATE scans SET status = 'finished', finished_at = ?, commits = ?, blobs_scanned = ?, findings = ?, secrets = ?
                WHERE id = ?
                """).run([.text(Self.now()), .int(Int64(counts.commits)), .int(Int64(counts.blobsScanned)),
                          .int(Int64(counts.findings)), .int(Int64(counts.secrets)), .int(id)])
        }
        if connection.dialect == .sqlite { checkpoint(beside: path) }
    }

    /// A passive checkpoint (never waits for a lock: what readers or a writer hold is left for
    /// later) on its own connection and thread. A failure is no loss: the close checkpoints.
    private func checkpoint(beside path: String) {
        checkpointBeside.enter()
        DispatchQueue.global().async { [checkpointBeside] in
            defer { checkpointBeside.leave() }
            // Never a new file: the store may be gone by now (moved or deleted by its user). Never
            // a wait for another process's lock either: the scan's end waits for this.
            try? SQLiteConnection(path: path, create: false, busyTimeout: 0).execute("PRAGMA wal_checkpoint(PASSIVE)")
        }
    }

    /// Whether records of another rule set may be here: another scan (of any repository: SQLite's
    /// scanned blobs are not per repository) ran under one, or rows were imported (`store import`
    /// copies records, not scans). Every other record is made by a scan whose row names its rule
    /// set, and scans' rows stay, so otherwise there is nothing to drop (and the deletes, which read
    /// the tables whole, are skipped; a first scan's store has 30,000 blob and 20,000 commit rows in redis).
    private func otherRuleSetsScanned(than rulesHash: String, besides scan: Int64) throws -> Bool {
        var found = false
        try connection.prepare("SELECT 1 FROM scans WHERE rules_hash <> ? AND id <> ? LIMIT 1")
            .query([.text(rulesHash), .int(scan)]) { _ in found = true }
        if !found {
            try connection.prepare("SELECT 1 FROM meta WHERE key = 'rows_imported'").query { _ in found = true }
        }
        return found
    }

    /// Strings (object ids: hex digits) as a JSON array, for `json_each`. Escaped all the same, so a
    /// string comes back from `json_each` as it went in, up to a NUL: SQLite ends it there, as a text
    /// parameter bound row by row also ended.
    static func jsonArray(of ids: [String]) -> String {
        // Built as bytes: appending to a String id by id cost 2.4 ms for redis' 19,252 commits.
        var json: [UInt8] = [UInt8(ascii: "[")]
        json.reserveCapacity(ids.count * 43 + 2)
        let hexDigits = Array("0123456789abcdef".utf8)
        for (k, id) in ids.enumerated() {
            if k > 0 { json.append(UInt8(ascii: ",")) }
            json.append(UInt8(ascii: "\""))
            for byte in id.utf8 {
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): json += [UInt8(ascii: "\\"), byte]
                case ..<0x20: json += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 15)]]
                default: json.append(byte)
                }
            }
            json.append(UInt8(ascii: "\""))
        }
        json.append(UInt8(ascii: "]"))
        return String(decoding: json, as: UTF8.self)
    }

    /// The commits of the given ids walked in this repository, recorded once.
    func recordCommits(_ commits: [String], rulesHash: String) throws {
        switch connection.dialect {
        case .sqlite:
            // As with blobs: one statement, in id order.
            try connection.prepare("""
                INSERT INTO scanned_commits (repository, commit_id, rules_hash) SELECT ?, value, ? FROM json_each(?) WHERE true ON CONFLICT DO NOTHING
                """).run([.text(repository), .text(rulesHash), .text(Self.jsonArray(of: commits.sorted()))])
        case .postgres:
            let insert = try connection.prepare("""
                INSERT INTO scanned_commits (repository, commit_id, rules_hash) SELECT ?, unnest(?::text[]), ? ON CONFLICT DO NOTHING
                """)
            for batch in Self.batches(commits.sorted()) { try insert.run([.text(repository), .text(batch), .text(rulesHash)]) }
        }
    }

    /// Replaces this repository's summary of its secrets (see `RepositorySecret`) with the one
    /// its latest scan of all history made.
    public func recordRepositorySecrets(_ rows: [RepositorySecret]) throws {
        try connection.transaction {
            // Two runners of one repository replace its summary one after the other, never mixed.
            if connection.dialect == .postgres {
                try connection.prepare("SELECT pg_advisory_xact_lock(hashtext(?)::bigint)").run([.text("keyseal summary " + repository)])
            }
            try connection.prepare("DELETE FROM repository_secrets WHERE repository = ?").run([.text(repository)])
            let insert = try connection.prepare("""
                INSERT INTO repository_secrets (repository, fingerprint, occurrences, first_commit, first_path, first_line, first_col,
                                                first_author, first_email, first_date, in_head, refs, tag_commits)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """)
            for row in rows.sorted(by: { $0.fingerprint < $1.fingerprint }) {
                try insert.run([.text(repository), .text(row.fingerprint), .int(Int64(row.occurrences)), .text(row.firstCommit),
                                .text(row.firstPath), .int(Int64(row.firstLine)), .int(Int64(row.firstColumn)), .text(row.firstAuthor),
                                .text(row.firstEmail), .text(row.firstDate), .int(row.inHead ? 1 : 0), .text(Self.json(row.refs)),
                                .text(Self.json(row.tagCommits))])
            }
        }
    }

    static func json<T: Encodable>(_ value: T) -> String {
        String(decoding: (try? JSONEncoder().encode(value)) ?? Data("null".utf8), as: UTF8.self)
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
            WHERE o.rules_hash = ?1 AND (?2 = '' OR o.repository = ?2)
            """).query([.text(rulesHash), .text(repository)]) { row in
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

    /// Every repository's summary of every secret (with the secret), for org-wide views.
    public func repositorySecrets(statuses: Set<SecretStatus>? = nil) throws -> [(RepositorySecret, SecretRecord)] {
        var out: [(RepositorySecret, SecretRecord)] = []
        try connection.prepare("""
            SELECT r.repository, r.fingerprint, r.occurrences, r.first_commit, r.first_path, r.first_line, r.first_col, r.first_author,
                   r.first_email, r.first_date, r.in_head, r.refs, r.tag_commits,
                   s.rule, s.provider, s.description, s.preview, s.first_seen, s.status, s.note, s.confidence, s.updated_at
            FROM repository_secrets r JOIN secrets s ON s.fingerprint = r.fingerprint
            ORDER BY r.fingerprint, r.first_date, r.repository
            """).query { row in
            let status = try SecretStatus.stored(row.string(18), of: row.string(1))
            guard statuses?.contains(status) ?? true else { return }
            let refs = (try? JSONDecoder().decode([String].self, from: Data(row.string(11).utf8))) ?? []
            let tagCommits = (try? JSONDecoder().decode([String: String].self, from: Data(row.string(12).utf8))) ?? [:]
            let summary = RepositorySecret(
                repository: row.string(0), fingerprint: row.string(1), occurrences: row.int(2), firstCommit: row.string(3),
                firstPath: row.string(4), firstLine: row.int(5), firstColumn: row.int(6), firstAuthor: row.string(7),
                firstEmail: row.string(8), firstDate: row.string(9), inHead: row.int(10) != 0, refs: refs, tagCommits: tagCommits)
            let secret = SecretRecord(fingerprint: row.string(1), rule: row.string(13), provider: row.string(14),
                                      description: row.string(15), preview: row.string(16), firstSeen: row.text(17), status: status,
                                      note: row.text(19), confidence: row.text(20), triagedAt: row.text(21))
            out.append((summary, secret))
        }
        return out
    }

    /// Secrets with their occurrence counts, most recently first seen last (those not seen yet last of all).
    /// `allRepositories`: every secret of the store, with its occurrences in every repository;
    /// otherwise the secrets with an occurrence in this repository, or with none anywhere (a baseline
    /// brought them, a hook refused them, or only an image holds them).
    public func secrets(statuses: Set<SecretStatus>? = nil, allRepositories: Bool = false) throws -> [SecretRecord] {
        var out: [SecretRecord] = []
        // Counted per secret in one pass (an organisation's store holds millions of occurrences, so
        // org-wide counts come from the per-repository summaries), not by a subquery per secret.
        let counts: String
        var filter = ""
        var values: [SQLValue] = []
        if allRepositories {
            counts = "SELECT fingerprint, sum(occurrences) AS here, count(*) AS repositories FROM repository_secrets GROUP BY fingerprint"
        } else if repository.isEmpty {
            counts = "SELECT fingerprint, count(*) AS here, count(DISTINCT repository) AS repositories FROM occurrences GROUP BY fingerprint"
        } else {
            counts = "SELECT fingerprint, count(*) AS here, 1 AS repositories FROM occurrences WHERE repository = ? GROUP BY fingerprint"
            filter = "WHERE c.here IS NOT NULL OR NOT EXISTS (SELECT 1 FROM occurrences o WHERE o.fingerprint = s.fingerprint)"
            values = [.text(repository)]
        }
        try connection.prepare("""
            SELECT s.fingerprint, s.rule, s.provider, s.description, s.preview, s.first_seen, s.status, s.note,
                   coalesce(c.here, 0), s.confidence, s.updated_at,
                   coalesce(i.images, 0), coalesce(c.repositories, 0)
            FROM secrets s LEFT JOIN (\(counts)) c ON c.fingerprint = s.fingerprint
            LEFT JOIN (SELECT fingerprint, count(DISTINCT image || ' ' || platform) AS images FROM image_occurrences GROUP BY fingerprint) i
                ON i.fingerprint = s.fingerprint
            \(filter)
            ORDER BY s.first_seen IS NULL, s.first_seen, s.fingerprint
            """).query(values) { row in
            var record = SecretRecord(fingerprint: row.string(0), rule: row.string(1), provider: row.string(2),
                                      description: row.string(3), preview: row.string(4), firstSeen: row.text(5),
                                      status: try SecretStatus.stored(row.string(6), of: row.string(0)), note: row.text(7), occurrences: row.int(8), confidence: row.text(9),
                                      triagedAt: row.text(10))
            let images = row.int(11)
            record.images = images > 0 ? images : nil
            if allRepositories { record.repositories = row.int(12) }
            if statuses?.contains(record.status) ?? true { out.append(record) }
        }
        return out
    }

    /// Every secret's record, without counts: what a scan needs to report findings it took from
    /// the store (an organisation's store holds many; counting their places is for listings).
    public func secretRecords() throws -> [SecretRecord] {
        var out: [SecretRecord] = []
        try connection.prepare("""
            SELECT fingerprint, rule, provider, description, preview, first_seen, status, note, confidence, updated_at FROM secrets
            """).query { row in
            out.append(SecretRecord(fingerprint: row.string(0), rule: row.string(1), provider: row.string(2), description: row.string(3),
                                    preview: row.string(4), firstSeen: row.text(5), status: try SecretStatus.stored(row.string(6), of: row.string(0)),
                                    note: row.text(7), confidence: row.text(8), triagedAt: row.text(9)))
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
            // Triage is the organisation's: a prefix names a secret of any repository of the store.
            let candidates = try secrets(allRepositories: true).filter { $0.fingerprint.hasPrefix(lower) }
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

    // MARK: - Moving in

    /// The tables a store holds and their columns, the same in both backends; `repository` columns
    /// take the importing repository's name where the source left them empty.
    static let portableTables: [(table: String, columns: [String])] = [
        ("scanned_blobs", ["blob", "rules_hash"]),
        ("blob_matches", ["blob", "rules_hash", "fingerprint", "line", "col", "paired_with", "detail"]),
        ("scanned_commits", ["repository", "commit_id", "rules_hash"]),
        ("occurrences", ["repository", "fingerprint", "blob", "path", "commit_id", "commit_time", "line", "col", "author", "email",
                         "date", "paired_with", "rules_hash", "detail"]),
        ("rebuild_requests", ["repository", "tag", "commit_id", "reasons_hash", "target", "requested_at"]),
        ("repository_secrets", ["repository", "fingerprint", "occurrences", "first_commit", "first_path", "first_line", "first_col",
                                "first_author", "first_email", "first_date", "in_head", "refs", "tag_commits"]),
        ("scanned_layers", ["layer", "rules_hash", "listing", "files", "bytes"]),
        ("layer_matches", ["layer", "rules_hash", "path", "fingerprint", "line", "col", "paired_with", "detail"]),
        ("image_occurrences", ["fingerprint", "image", "image_digest", "platform", "place", "path", "line", "col", "scanned_at"]),
    ]

    /// Copies everything `source` holds into this store, in one transaction: rows already here are
    /// kept (an import run twice adds nothing), and a secret's triage comes over unless this store
    /// has already decided about it. Returns the rows added per table.
    public func importEverything(from source: FindingStore, repository name: String) throws -> [(table: String, added: Int)] {
        try connection.transaction {
            var added: [(String, Int)] = []
            // Secrets first, with their decisions.
            var secretsBefore = 0, secretsAfter = 0
            try connection.prepare("SELECT count(*) FROM secrets").query { secretsBefore = $0.int(0) }
            let insertSecret = try connection.prepare("""
                INSERT INTO secrets (fingerprint, rule, provider, description, preview, first_seen, status, note, updated_at, confidence)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (fingerprint) DO UPDATE SET
                    first_seen = \(connection.dialect.least("secrets.first_seen", "excluded.first_seen")),
                    status = CASE WHEN secrets.status = 'open' THEN excluded.status ELSE secrets.status END,
                    note = CASE WHEN secrets.status = 'open' THEN coalesce(excluded.note, secrets.note) ELSE secrets.note END,
                    updated_at = CASE WHEN secrets.status = 'open' THEN coalesce(excluded.updated_at, secrets.updated_at) ELSE secrets.updated_at END
                """)
            try source.connection.prepare("""
                SELECT fingerprint, rule, provider, description, preview, first_seen, status, note, updated_at, confidence FROM secrets
                ORDER BY fingerprint
                """).query { row in
                try insertSecret.run((0..<10).map { row.text(Int32($0)).map(SQLValue.text) ?? .null })
            }
            try connection.prepare("SELECT count(*) FROM secrets").query { secretsAfter = $0.int(0) }
            added.append(("secrets", secretsAfter - secretsBefore))
            for (table, columns) in Self.portableTables {
                var before = 0
                try connection.prepare("SELECT count(*) FROM \(table)").query { before = $0.int(0) }
                let insert = try connection.prepare("""
                    INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))
                    ON CONFLICT DO NOTHING
                    """)
                let named = columns.firstIndex(of: "repository")
                try source.connection.prepare("SELECT \(columns.joined(separator: ", ")) FROM \(table)").query { row in
                    var values = (0..<columns.count).map { row.text(Int32($0)).map(SQLValue.text) ?? .null }
                    if let named, row.string(Int32(named)).isEmpty { values[named] = .text(name) }
                    try insert.run(values)
                }
                var after = 0
                try connection.prepare("SELECT count(*) FROM \(table)").query { after = $0.int(0) }
                added.append((table, after - before))
            }
            // Rows under rule sets no scan row here names: a complete walk must drop them
            // (see `otherRuleSetsScanned`).
            try connection.prepare("INSERT INTO meta (key, value) VALUES ('rows_imported', '1') ON CONFLICT (key) DO NOTHING").run([])
            return added
        }
    }

    /// What `keyseal store check` reports: the server, the schema, and what this role may do.
    public struct Health: Sendable {
        public var backend: String
        public var server: String
        public var schemaVersion: Int
        public var expectedVersion: Int
        public var user: String
        public var tls: String
        /// Record scans: insert into the scan tables and update a secret's first-seen date.
        public var canRecordScans: Bool
        /// Read triage decisions.
        public var canReadTriage: Bool
        /// Triage: set a secret's status.
        public var canTriage: Bool
        public var repositories: Int
        public var secrets: Int
    }

    public func health() throws -> Health {
        var health = Health(backend: connection.dialect == .postgres ? "PostgreSQL" : "SQLite", server: "", schemaVersion: 0,
                            expectedVersion: connection.dialect == .postgres ? PostgresSchema.version : Self.schemaVersion,
                            user: "", tls: "", canRecordScans: true, canReadTriage: true, canTriage: true, repositories: 0, secrets: 0)
        switch connection.dialect {
        case .sqlite:
            health.server = "SQLite \(String(cString: sqlite3_libversion()))"
            try connection.prepare("SELECT value FROM meta WHERE key = 'schema_version'").query { health.schemaVersion = Int($0.string(0)) ?? 0 }
            health.user = NSUserName()
            health.tls = "not applicable (a local file)"
        case .postgres:
            health.schemaVersion = try PostgresSchema.installedVersion(connection)
            try connection.prepare("""
                SELECT current_setting('server_version'), current_user,
                       coalesce((SELECT CASE WHEN ssl THEN 'TLS ' || version || ' (' || cipher || ')' ELSE 'none' END
                                 FROM pg_stat_ssl WHERE pid = pg_backend_pid()), 'unknown')
                """).query {
                health.server = "PostgreSQL \($0.string(0))"
                health.user = $0.string(1)
                health.tls = $0.string(2)
            }
            func allowed(_ check: String) throws -> Bool {
                var yes = false
                try connection.prepare("SELECT \(check)").query { yes = $0.string(0) == "t" }
                return yes
            }
            // One privilege per call: has_table_privilege('INSERT, SELECT') is true when either is held.
            let recordTables = ["scans", "scanned_blobs", "blob_matches", "scanned_commits", "occurrences", "repository_secrets",
                                "scanned_layers", "layer_matches", "image_occurrences", "rebuild_requests"]
            let rewrittenTables = ["scans", "scanned_commits", "occurrences", "repository_secrets", "scanned_layers",
                                   "image_occurrences", "rebuild_requests"]
            health.canRecordScans = try recordTables.allSatisfy { table in
                try ["SELECT", "INSERT"].allSatisfy { try allowed("has_table_privilege('keyseal.\(table)', '\($0)')") }
            }
                && rewrittenTables.allSatisfy { table in
                    try ["UPDATE", "DELETE"].allSatisfy { try allowed("has_table_privilege('keyseal.\(table)', '\($0)')") }
                }
                && ["fingerprint", "rule", "provider", "description", "preview", "first_seen", "confidence"].allSatisfy {
                    try allowed("has_column_privilege('keyseal.secrets', '\($0)', 'INSERT')")
                }
                && ["first_seen", "confidence", "preview"].allSatisfy { try allowed("has_column_privilege('keyseal.secrets', '\($0)', 'UPDATE')") }
                && allowed("has_sequence_privilege('keyseal.scans_id_seq', 'USAGE')")
            health.canReadTriage = try allowed("has_table_privilege('keyseal.secrets', 'SELECT')")
            health.canTriage = try ["status", "note", "updated_at"].allSatisfy { column in
                try ["INSERT", "UPDATE"].allSatisfy { try allowed("has_column_privilege('keyseal.secrets', '\(column)', '\($0)')") }
            }
        }
        if health.canReadTriage {
            try connection.prepare("SELECT count(*) FROM secrets").query { health.secrets = $0.int(0) }
            // A reader (hooks) may see only the secrets.
            try? connection.prepare("SELECT count(DISTINCT repository) FROM scanned_commits").query { health.repositories = $0.int(0) }
        }
        return health
    }

    // MARK: - Rebuild requests

    /// Whether a request for this tag with exactly these reasons already succeeded for this target.
    /// `legacyTarget`: the key an older keyseal recorded the same target under (a webhook's full
    /// URL, credentials and all). Records under it are first moved to `target`, with SQLite's
    /// secure delete, so they still count as sent and the old key leaves the store.
    public func rebuildRequested(tag: String, reasonsHash: String, target: String, legacyTarget: String? = nil,
                                 repository: String? = nil) throws -> Bool {
        if let legacyTarget, legacyTarget != target {
            var legacy = false
            try connection.prepare("SELECT 1 FROM rebuild_requests WHERE target = ? LIMIT 1").query([.text(legacyTarget)]) { _ in legacy = true }
            // Legacy targets exist only in SQLite stores an older keyseal wrote.
            if legacy && connection.dialect == .sqlite {
                try connection.execute("PRAGMA secure_delete = ON")
                try connection.transaction {
                    try connection.prepare("UPDATE OR REPLACE rebuild_requests SET target = ? WHERE target = ?")
                        .run([.text(target), .text(legacyTarget)])
                }
            }
        }
        var found = false
        try connection.prepare("SELECT 1 FROM rebuild_requests WHERE tag = ? AND reasons_hash = ? AND target = ? AND repository = ?")
            .query([.text(tag), .text(reasonsHash), .text(target), .text(repository ?? self.repository)]) { _ in found = true }
        return found
    }

    /// `repository`: the tag's repository when it is not the store's scope (an org-wide rebuild).
    public func recordRebuild(tag: String, commit: String, reasonsHash: String, target: String, repository: String? = nil) throws {
        try connection.transaction {
            try connection.prepare("""
                INSERT INTO rebuild_requests (tag, commit_id, reasons_hash, target, requested_at, repository) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (repository, tag, reasons_hash, target) DO UPDATE SET
                    commit_id = excluded.commit_id, requested_at = excluded.requested_at
                """).run([.text(tag), .text(commit), .text(reasonsHash), .text(target), .text(Self.now()), .text(repository ?? self.repository)])
        }
    }

    static func now() -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date())
    }
}
