import Foundation

/// The PostgreSQL store's schema: the tables the SQLite store has, in a schema of their own
/// (`keyseal`), with forward migrations numbered apart from SQLite's. Each migration runs in one
/// transaction under an advisory lock, so runners that start at once migrate once.
public enum PostgresSchema {
    public static var version: Int { migrations.count }

    /// `pg_advisory_xact_lock`'s key: ASCII "KSEA", as SQLite's application id.
    static let lockKey = 0x4B53_4541

    static let migrations: [String] = [
        """
        CREATE SCHEMA IF NOT EXISTS keyseal;
        CREATE TABLE keyseal.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE keyseal.scans (
            id BIGSERIAL PRIMARY KEY, repository TEXT NOT NULL DEFAULT '', host TEXT NOT NULL DEFAULT '',
            started_at TEXT NOT NULL, finished_at TEXT,
            status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'interrupted', 'failed')),
            range TEXT NOT NULL, rules_hash TEXT NOT NULL, tool_version TEXT NOT NULL, pid BIGINT NOT NULL,
            commits BIGINT NOT NULL DEFAULT 0, blobs_scanned BIGINT NOT NULL DEFAULT 0,
            findings BIGINT NOT NULL DEFAULT 0, secrets BIGINT NOT NULL DEFAULT 0);
        CREATE TABLE keyseal.secrets (
            fingerprint TEXT PRIMARY KEY, rule TEXT NOT NULL, provider TEXT NOT NULL, description TEXT NOT NULL,
            preview TEXT NOT NULL, first_seen TEXT,
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'rotated', 'false-positive', 'accepted')),
            note TEXT, updated_at TEXT, confidence TEXT);
        CREATE TABLE keyseal.scanned_blobs (blob TEXT NOT NULL, rules_hash TEXT NOT NULL, PRIMARY KEY (blob, rules_hash));
        CREATE TABLE keyseal.blob_matches (
            blob TEXT NOT NULL, rules_hash TEXT NOT NULL, fingerprint TEXT NOT NULL, line BIGINT NOT NULL,
            col BIGINT NOT NULL, paired_with TEXT, detail TEXT, PRIMARY KEY (blob, rules_hash, fingerprint, line, col));
        CREATE TABLE keyseal.scanned_commits (
            repository TEXT NOT NULL, commit_id TEXT NOT NULL, rules_hash TEXT NOT NULL,
            PRIMARY KEY (repository, commit_id, rules_hash));
        CREATE TABLE keyseal.occurrences (
            repository TEXT NOT NULL, fingerprint TEXT NOT NULL, blob TEXT NOT NULL, path TEXT NOT NULL, commit_id TEXT NOT NULL,
            commit_time BIGINT NOT NULL, line BIGINT NOT NULL, col BIGINT NOT NULL, author TEXT NOT NULL,
            email TEXT NOT NULL, date TEXT NOT NULL, paired_with TEXT, rules_hash TEXT NOT NULL, detail TEXT,
            PRIMARY KEY (repository, fingerprint, blob, path, line, col));
        CREATE INDEX occurrences_by_commit ON keyseal.occurrences (repository, commit_id);
        CREATE INDEX occurrences_by_fingerprint ON keyseal.occurrences (fingerprint);
        CREATE TABLE keyseal.rebuild_requests (
            repository TEXT NOT NULL, tag TEXT NOT NULL, commit_id TEXT NOT NULL, reasons_hash TEXT NOT NULL, target TEXT NOT NULL,
            requested_at TEXT NOT NULL, PRIMARY KEY (repository, tag, reasons_hash, target));
        CREATE TABLE keyseal.repository_secrets (
            repository TEXT NOT NULL, fingerprint TEXT NOT NULL, occurrences BIGINT NOT NULL, first_commit TEXT NOT NULL,
            first_path TEXT NOT NULL, first_line BIGINT NOT NULL, first_col BIGINT NOT NULL, first_author TEXT NOT NULL,
            first_email TEXT NOT NULL, first_date TEXT NOT NULL, in_head BIGINT NOT NULL, refs TEXT NOT NULL, tag_commits TEXT NOT NULL,
            PRIMARY KEY (repository, fingerprint));
        CREATE INDEX repository_secrets_by_fingerprint ON keyseal.repository_secrets (fingerprint);
        CREATE TABLE keyseal.scanned_layers (
            layer TEXT NOT NULL, rules_hash TEXT NOT NULL, listing TEXT NOT NULL, files BIGINT NOT NULL,
            bytes BIGINT NOT NULL, PRIMARY KEY (layer, rules_hash));
        CREATE TABLE keyseal.layer_matches (
            layer TEXT NOT NULL, rules_hash TEXT NOT NULL, path TEXT NOT NULL, fingerprint TEXT NOT NULL,
            line BIGINT NOT NULL, col BIGINT NOT NULL, paired_with TEXT, detail TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (layer, rules_hash, path, fingerprint, line, col, detail));
        CREATE TABLE keyseal.image_occurrences (
            fingerprint TEXT NOT NULL, image TEXT NOT NULL, image_digest TEXT NOT NULL, platform TEXT NOT NULL,
            place TEXT NOT NULL, path TEXT NOT NULL, line BIGINT NOT NULL, col BIGINT NOT NULL, scanned_at TEXT NOT NULL,
            PRIMARY KEY (fingerprint, image, image_digest, platform, place, path, line, col));
        CREATE INDEX image_occurrences_by_image ON keyseal.image_occurrences (image, platform);
        CREATE INDEX image_occurrences_by_fingerprint ON keyseal.image_occurrences (fingerprint);
        """,
    ]

    /// The schema version the store holds (0: none yet).
    static func installedVersion(_ connection: any DatabaseConnection) throws -> Int {
        var exists = false
        // Read from pg_class under the statement's snapshot: to_regclass answers from the catalog
        // cache, which can miss a table another runner made while this one waited for the lock.
        try connection.prepare("""
            SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE n.nspname = 'keyseal' AND c.relname = 'meta')
            """).query { exists = $0.string(0) == "t" }
        guard exists else { return 0 }
        var version = 0
        try connection.prepare("SELECT value FROM keyseal.meta WHERE key = 'schema_version'").query { version = Int($0.string(0)) ?? 0 }
        return version
    }

    /// Brings the schema up to this keyseal's version; refuses a newer one.
    static func migrate(_ connection: any DatabaseConnection) throws {
        var current = try installedVersion(connection)
        if current > version { throw newer(current, connection) }
        while current < version {
            let next = current + 1
            do {
                try connection.transaction {
                    try connection.prepare("SELECT pg_advisory_xact_lock(?::bigint)").run([.int(Int64(lockKey))])
                    // Another runner may have migrated while this one waited for the lock.
                    guard try installedVersion(connection) < next else { return }
                    try connection.execute(migrations[next - 1])
                    try connection.prepare("""
                        INSERT INTO keyseal.meta (key, value) VALUES ('schema_version', ?)
                        ON CONFLICT (key) DO UPDATE SET value = excluded.value
                        """).run([.text(String(next))])
                }
            } catch let error as StoreError where error.sqlState == "42501" {
                throw StoreError("""
                    \(connection.name): the store's schema is at version \(current) and this keyseal needs \(version), \
                    but this role may not create it (\(error.message)); have the store's owner run keyseal store migrate
                    """, sqlState: error.sqlState)
            }
            current = try installedVersion(connection)
        }
    }

    /// Checks, without changing anything, that the schema is this keyseal's.
    /// `installed`: the version already read, if it was (one round trip less when a store opens).
    static func check(_ connection: any DatabaseConnection, installed: Int? = nil) throws {
        let current = try installed ?? installedVersion(connection)
        if current > version { throw newer(current, connection) }
        if current < version {
            throw StoreError("\(connection.name): the store's schema is at version \(current), this keyseal needs \(version); run keyseal store migrate")
        }
    }

    static func newer(_ found: Int, _ connection: any DatabaseConnection) -> StoreError {
        StoreError("\(connection.name) has schema version \(found), newer than this keyseal knows (\(version)); upgrade keyseal. The store was left untouched")
    }
}
