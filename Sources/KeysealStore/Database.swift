import CSQLite
import CPostgres
import Foundation

/// A failure from the database (SQLite's result code or PostgreSQL's SQLSTATE, and the statement or
/// step that failed), or one the store raises itself (not a keyseal store, a fingerprint prefix that
/// names nothing…). Never holds a connection password or a scanned value.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public let message: String
    /// SQLite's result code (SQLITE_BUSY, SQLITE_CANTOPEN…, possibly extended) when SQLite reported
    /// the failure; nil for the store's own and PostgreSQL's.
    public let code: Int32?
    /// PostgreSQL's five-character SQLSTATE when the server reported the failure.
    public let sqlState: String?
    public init(_ message: String, code: Int32? = nil, sqlState: String? = nil) {
        self.message = message
        self.code = code
        self.sqlState = sqlState
    }
    public var description: String { message }

    /// Another connection holds the lock SQLite needed (SQLITE_BUSY or SQLITE_LOCKED, extended or not).
    public var isBusy: Bool {
        guard let code else { return false }
        return code & 0xff == SQLITE_BUSY || code & 0xff == SQLITE_LOCKED
    }
}

/// A bound parameter.
enum SQLValue {
    case text(String)
    case int(Int64)
    case null
}

/// The SQL each backend spells its own way.
enum SQLDialect {
    case sqlite, postgres

    /// The lesser of two values where NULL means unknown (SQLite's two-argument min() is NULL if
    /// either is; PostgreSQL's LEAST skips NULLs).
    func least(_ a: String, _ b: String) -> String {
        switch self {
        case .sqlite: return "coalesce(min(\(a), \(b)), \(a), \(b))"
        case .postgres: return "LEAST(\(a), \(b))"
        }
    }
}

/// One connection to the store's database, used from one thread. SQL is written once with `?`
/// (or `?N`) placeholders and the upsert forms both backends share (`ON CONFLICT … DO …`).
protocol DatabaseConnection: AnyObject {
    var dialect: SQLDialect { get }
    /// The store as messages name it: a file's path, or a URL without its password.
    var name: String { get }
    var hooks: WriteHooks { get }
    func execute(_ sql: String) throws
    func prepare(_ sql: String) throws -> any DatabaseStatement
    /// Runs `body` in one transaction: all of it is written, or none. `body` may run more than once
    /// (a PostgreSQL deadlock or a dropped connection retries it), so it must only touch the database.
    func transaction<T>(_ body: () throws -> T) throws -> T
}

protocol DatabaseStatement: AnyObject {
    /// Runs a statement that returns no rows.
    func run(_ values: [SQLValue]) throws
    /// Calls `row` for each result row.
    func query(_ values: [SQLValue], _ row: (Row) throws -> Void) throws
}

extension DatabaseStatement {
    func run() throws { try run([]) }
    func query(_ row: (Row) throws -> Void) throws { try query([], row) }
}

/// One result row: columns by position, read as text or integers.
struct Row {
    enum Source {
        case sqlite(OpaquePointer)
        case postgres(UnsafeRawPointer, row: Int32)
    }
    let source: Source

    func text(_ column: Int32) -> String? {
        switch source {
        case .sqlite(let handle):
            guard let pointer = sqlite3_column_text(handle, column) else { return nil }
            return String(cString: pointer)
        case .postgres(let result, let row):
            guard let pointer = keyseal_pq_value(result, row, column) else { return nil }
            return String(cString: pointer)
        }
    }
    func string(_ column: Int32) -> String { text(column) ?? "" }
    func int(_ column: Int32) -> Int {
        switch source {
        case .sqlite(let handle): return Int(sqlite3_column_int64(handle, column))
        case .postgres: return text(column).flatMap { Int($0) } ?? 0
        }
    }
    func isNull(_ column: Int32) -> Bool {
        switch source {
        case .sqlite(let handle): return sqlite3_column_type(handle, column) == SQLITE_NULL
        case .postgres: return text(column) == nil
        }
    }
}

/// Seams for a test that must hold one process inside a write transaction while another asks for
/// the write lock (so WAL and the busy timeout are exercised for certain, not by luck), or while a
/// test ends its PostgreSQL connection. Package access: only the test scanner (Tests/KeysealTestScan)
/// sets them; keyseal itself never does, and no environment variable reaches them.
package struct WriteHooks: Sendable {
    /// Before BEGIN IMMEDIATE (the connection is about to ask for the write lock).
    package var beforeBegin: @Sendable () -> Void = {}
    /// Once the write lock is held.
    package var afterBegin: @Sendable () -> Void = {}
    /// Inside the transaction that records a chunk of scanned blobs, lock held.
    package var recordingBlobs: @Sendable () -> Void = {}
    package init() {}
}
