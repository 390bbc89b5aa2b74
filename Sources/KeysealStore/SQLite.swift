import CSQLite
import Foundation

/// A failure from SQLite (with its result code, and the statement or step that failed), or one the
/// store raises itself (not a keyseal store, a fingerprint prefix that names nothing…).
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public let message: String
    /// SQLite's result code (SQLITE_BUSY, SQLITE_CANTOPEN…, possibly extended) when SQLite reported
    /// the failure; nil for the store's own.
    public let code: Int32?
    public init(_ message: String, code: Int32? = nil) {
        self.message = message
        self.code = code
    }
    public var description: String { message }

    /// Another connection holds the lock SQLite needed (SQLITE_BUSY or SQLITE_LOCKED, extended or not).
    public var isBusy: Bool {
        guard let code else { return false }
        return code & 0xff == SQLITE_BUSY || code & 0xff == SQLITE_LOCKED
    }
}

/// SQLITE_TRANSIENT tells SQLite to copy bound text; the C macro is a cast Swift cannot import.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection, closed in `deinit`. Not shared across threads.
final class Connection {
    let handle: OpaquePointer
    let path: String
    let hooks: WriteHooks

    init(path: String, readOnly: Bool = false, hooks: WriteHooks = WriteHooks()) throws {
        var db: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let status = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard status == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "status \(status)"
            sqlite3_close(db)
            throw StoreError("cannot open the store \(path): \(message)", code: status)
        }
        handle = db
        self.path = path
        self.hooks = hooks
        // Wait for a concurrent writer instead of failing at once.
        sqlite3_busy_timeout(handle, 30_000)
    }

    deinit { sqlite3_close(handle) }

    var lastError: String { String(cString: sqlite3_errmsg(handle)) }
    /// The extended result code of the last failure on this connection.
    var lastCode: Int32 { sqlite3_extended_errcode(handle) }

    func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &error)
        if status != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? lastError
            sqlite3_free(error)
            throw StoreError("\(path): \(message) (in: \(sql.prefix(60)))", code: status)
        }
    }

    func prepare(_ sql: String) throws -> Statement { try Statement(self, sql) }

    /// Runs `body` in one transaction (BEGIN IMMEDIATE takes the write lock up front, so two writers
    /// wait for each other instead of deadlocking on an upgrade).
    func transaction<T>(_ body: () throws -> T) throws -> T {
        hooks.beforeBegin()
        try execute("BEGIN IMMEDIATE")
        hooks.afterBegin()
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }
}

/// A prepared statement, finalized in `deinit`.
final class Statement {
    let handle: OpaquePointer
    unowned let connection: Connection

    init(_ connection: Connection, _ sql: String) throws {
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v2(connection.handle, sql, -1, &statement, nil)
        guard status == SQLITE_OK, let statement else {
            throw StoreError("\(connection.path): \(connection.lastError) (preparing: \(sql.prefix(60)))",
                             code: status == SQLITE_OK ? connection.lastCode : status)
        }
        handle = statement
        self.connection = connection
    }

    deinit { sqlite3_finalize(handle) }

    enum Value {
        case text(String)
        case int(Int64)
        case null
    }

    @discardableResult
    func bind(_ values: [Value]) -> Statement {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (index, value) in values.enumerated() {
            let position = Int32(index + 1)
            switch value {
            case .text(let text): sqlite3_bind_text(handle, position, text, -1, transient)
            case .int(let number): sqlite3_bind_int64(handle, position, number)
            case .null: sqlite3_bind_null(handle, position)
            }
        }
        return self
    }

    /// Runs a statement that returns no rows.
    func run(_ values: [Value] = []) throws {
        bind(values)
        let status = sqlite3_step(handle)
        guard status == SQLITE_DONE || status == SQLITE_ROW else {
            throw StoreError("\(connection.path): \(connection.lastError)", code: status)
        }
    }

    /// Calls `row` for each result row.
    func query(_ values: [Value] = [], _ row: (Row) throws -> Void) throws {
        bind(values)
        while true {
            let status = sqlite3_step(handle)
            if status == SQLITE_DONE { return }
            guard status == SQLITE_ROW else { throw StoreError("\(connection.path): \(connection.lastError)", code: status) }
            try row(Row(handle: handle))
        }
    }
}

struct Row {
    let handle: OpaquePointer
    func text(_ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(handle, column) else { return nil }
        return String(cString: pointer)
    }
    func string(_ column: Int32) -> String { text(column) ?? "" }
    func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
}

/// Seams for a test that must hold one process inside a write transaction while another asks for
/// the write lock (so WAL and the busy timeout are exercised for certain, not by luck). Package
/// access: only the test scanner (Tests/KeysealTestScan) sets them; keyseal itself never does, and
/// no environment variable reaches them.
package struct WriteHooks: Sendable {
    /// Before BEGIN IMMEDIATE (the connection is about to ask for the write lock).
    package var beforeBegin: @Sendable () -> Void = {}
    /// Once the write lock is held.
    package var afterBegin: @Sendable () -> Void = {}
    /// Inside the transaction that records a chunk of scanned blobs, lock held.
    package var recordingBlobs: @Sendable () -> Void = {}
    package init() {}
}
