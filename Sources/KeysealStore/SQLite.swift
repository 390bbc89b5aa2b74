import CSQLite
import Foundation

/// SQLITE_TRANSIENT tells SQLite to copy bound text; the C macro is a cast Swift cannot import.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection, closed in `deinit`. Not shared across threads.
final class SQLiteConnection: DatabaseConnection {
    var dialect: SQLDialect { .sqlite }
    var name: String { path }
    let handle: OpaquePointer
    let path: String
    let hooks: WriteHooks

    /// `create`: make the file when it is not there. `busyTimeout`: how long a step waits for
    /// another connection's lock before it fails, in milliseconds.
    init(path: String, readOnly: Bool = false, create: Bool = true, busyTimeout: Int32 = 30_000,
         hooks: WriteHooks = WriteHooks()) throws {
        var db: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0))
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
        sqlite3_busy_timeout(handle, busyTimeout)
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

    func prepare(_ sql: String) throws -> any DatabaseStatement { try SQLiteStatement(self, sql) }

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
final class SQLiteStatement: DatabaseStatement {
    let handle: OpaquePointer
    unowned let connection: SQLiteConnection

    init(_ connection: SQLiteConnection, _ sql: String) throws {
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

    @discardableResult
    func bind(_ values: [SQLValue]) -> SQLiteStatement {
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
    func run(_ values: [SQLValue]) throws {
        bind(values)
        let status = sqlite3_step(handle)
        guard status == SQLITE_DONE || status == SQLITE_ROW else {
            throw StoreError("\(connection.path): \(connection.lastError)", code: status)
        }
    }

    /// Calls `row` for each result row.
    func query(_ values: [SQLValue], _ row: (Row) throws -> Void) throws {
        bind(values)
        while true {
            let status = sqlite3_step(handle)
            if status == SQLITE_DONE { return }
            guard status == SQLITE_ROW else { throw StoreError("\(connection.path): \(connection.lastError)", code: status) }
            try row(Row(source: .sqlite(handle)))
        }
    }
}
