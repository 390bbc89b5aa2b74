import CPostgres
import Foundation

/// Where a PostgreSQL store is: a `postgres://` or `postgresql://` URI as libpq reads it (host,
/// port, database, user, `sslmode`, `sslrootcert`, `service`… pass through unchanged). The password
/// comes from PGPASSWORD, ~/.pgpass or a service file; `redacted` is what messages show.
public struct PostgresAddress: Sendable, Equatable {
    public let uri: String

    public init?(_ text: String) {
        let lower = text.lowercased()
        guard lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://") else { return nil }
        uri = text
    }

    /// Whether the URI itself carries a password (`user:password@`, or `password=` in its query).
    public var hasPassword: Bool { redacted != uri }

    /// The URI with any password replaced by `***`: safe to print.
    public var redacted: String {
        var text = uri
        if let schemeEnd = text.range(of: "://") {
            let rest = text[schemeEnd.upperBound...]
            let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            // user:password@host: everything between the first ':' and the last '@' of the authority.
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                text = String(text[..<colon]) + ":***" + String(text[at...])
            }
        }
        // password=… in the query string.
        guard let query = text.firstIndex(of: "?") else { return text }
        let parameters = text[text.index(after: query)...].split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            pair.lowercased().hasPrefix("password=") ? "password=***" : String(pair)
        }
        return String(text[...query]) + parameters.joined(separator: "&")
    }
}

/// One libpq connection. Statements are sent with text parameters (`?` and `?N` become `$N`). A
/// connection the server drops is made again, with backoff, and the statement or whole transaction
/// it broke runs again: every write the store makes is idempotent, so a retry adds nothing twice.
final class PostgresConnection: DatabaseConnection {
    var dialect: SQLDialect { .postgres }
    let address: PostgresAddress
    var name: String { address.redacted }
    let hooks: WriteHooks
    private var handle: UnsafeMutableRawPointer?
    private var inTransaction = false
    /// Seconds to wait before each new attempt after a lost connection, deadlock or serialisation failure.
    static let retryDelays: [Double] = [0.1, 0.3, 1, 2, 4]

    init(_ address: PostgresAddress, hooks: WriteHooks = WriteHooks()) throws {
        self.address = address
        self.hooks = hooks
        try connect()
    }

    deinit { keyseal_pq_finish(handle) }

    private func connect() throws {
        keyseal_pq_finish(handle)
        handle = nil
        var error = [CChar](repeating: 0, count: 1024)
        guard let connection = keyseal_pq_connect(address.uri, &error, error.count) else {
            let message = String(cString: error).trimmingCharacters(in: .whitespacesAndNewlines)
            throw StoreError("cannot connect to the store \(name): \(message)", sqlState: "08000")
        }
        handle = connection
        // The store's tables live in their own schema; `public` stays the team's.
        try exec("SET search_path TO keyseal, public", [])
    }

    var backendPID: Int { Int(keyseal_pq_backend_pid(handle)) }
    var usedPassword: Bool { keyseal_pq_used_password(handle) != 0 }

    /// Runs one statement; returns its rows' result, which the caller clears.
    private func exec(_ sql: String, _ values: [SQLValue]) throws -> UnsafeMutableRawPointer? {
        let texts: [String?] = values.map {
            switch $0 {
            case .text(let text): return text
            case .int(let number): return String(number)
            case .null: return nil
            }
        }
        let result = withCStrings(texts) { keyseal_pq_exec(handle, sql, Int32(texts.count), $0) }
        if keyseal_pq_result_kind(result) >= 0 { return result }
        let state = String(cString: keyseal_pq_sqlstate(result))
        var message = result.map { String(cString: keyseal_pq_result_error($0)) } ?? ""
        if message.isEmpty { message = String(cString: keyseal_pq_connection_error(handle)) }
        keyseal_pq_clear(result)
        let lost = keyseal_pq_ok(handle) == 0
        throw StoreError("\(name): \(message.trimmingCharacters(in: .whitespacesAndNewlines)) (in: \(sql.prefix(60)))",
                         sqlState: lost && (state.isEmpty || !state.hasPrefix("08")) ? "08006" : state)
    }

    private func withCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { $0.flatMap { strdup($0) } }
        defer { pointers.forEach { free($0) } }
        return pointers.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: max(buffer.count, 1)) { body($0) }
        }
    }

    /// A connection lost (class 08, or the server shutting the backend: 57P01-57P03), a deadlock
    /// or a serialisation failure: worth one more attempt.
    static func retryable(_ error: StoreError) -> Bool {
        guard let state = error.sqlState else { return false }
        return state.hasPrefix("08") || ["57P01", "57P02", "57P03", "40P01", "40001"].contains(state)
    }

    /// Runs `attempt`, and again after each retryable failure (reconnecting when the connection is
    /// gone), until it succeeds or the delays run out.
    private func retrying<T>(_ attempt: () throws -> T) throws -> T {
        var failures = 0
        while true {
            do {
                if handle == nil || !(keyseal_pq_ok(handle) != 0) { try connect() }
                return try attempt()
            } catch let error as StoreError where Self.retryable(error) {
                guard failures < Self.retryDelays.count else {
                    throw StoreError("\(error.message); gave up after \(failures + 1) attempts", sqlState: error.sqlState)
                }
                Thread.sleep(forTimeInterval: Self.retryDelays[failures])
                failures += 1
            }
        }
    }

    func execute(_ sql: String) throws {
        if inTransaction {
            keyseal_pq_clear(try exec(Self.placeholders(sql), []))
        } else {
            try retrying { keyseal_pq_clear(try exec(Self.placeholders(sql), [])) }
        }
    }

    func prepare(_ sql: String) throws -> any DatabaseStatement { PostgresStatement(self, Self.placeholders(sql)) }

    func transaction<T>(_ body: () throws -> T) throws -> T {
        if inTransaction { return try body() }
        return try retrying {
            hooks.beforeBegin()
            keyseal_pq_clear(try exec("BEGIN", []))
            inTransaction = true
            defer { inTransaction = false }
            hooks.afterBegin()
            do {
                let result = try body()
                keyseal_pq_clear(try exec("COMMIT", []))
                return result
            } catch {
                if keyseal_pq_ok(handle) != 0 { keyseal_pq_clear(try? exec("ROLLBACK", [])) }
                throw error
            }
        }
    }

    /// Runs a statement: inside a transaction once (the transaction retries), outside it with retries.
    fileprivate func run(_ sql: String, _ values: [SQLValue], rows: (Row) throws -> Void) throws {
        func once() throws {
            let result = try exec(sql, values)
            defer { keyseal_pq_clear(result) }
            guard let result else { return }
            for index in 0..<keyseal_pq_rows(result) { try rows(Row(source: .postgres(UnsafeRawPointer(result), row: index))) }
        }
        if inTransaction { try once() } else { try retrying(once) }
    }

    /// `?N` becomes `$N`, and each bare `?` the next number; quoted text is left alone.
    static func placeholders(_ sql: String) -> String {
        var out = ""
        var next = 1
        var quoted = false
        var characters = sql.makeIterator()
        var pending: Character? = characters.next()
        while let character = pending {
            pending = characters.next()
            if character == "'" { quoted.toggle() }
            guard character == "?", !quoted else {
                out.append(character)
                continue
            }
            var digits = ""
            while let digit = pending, digit.isASCII, digit.isNumber {
                digits.append(digit)
                pending = characters.next()
            }
            if digits.isEmpty {
                out += "$\(next)"
                next += 1
            } else {
                out += "$" + digits
            }
        }
        return out
    }
}

final class PostgresStatement: DatabaseStatement {
    unowned let connection: PostgresConnection
    let sql: String

    init(_ connection: PostgresConnection, _ sql: String) {
        self.connection = connection
        self.sql = sql
    }

    func run(_ values: [SQLValue]) throws { try connection.run(sql, values, rows: { _ in }) }

    func query(_ values: [SQLValue], _ row: (Row) throws -> Void) throws { try connection.run(sql, values, rows: row) }
}
