import CPostgres
import Foundation

/// Where a PostgreSQL store is: a `postgres://` or `postgresql://` URI as libpq reads it (host,
/// port, database, user, `sslmode`, `sslrootcert`, `service`… pass through unchanged). The password
/// comes from PGPASSWORD, ~/.pgpass or a service file; `redacted` is what messages show.
public struct PostgresAddress: Sendable, Equatable {
    /// The URI as given, its scheme in lower case (libpq reads only `postgres://` and `postgresql://`,
    /// and would quote any other spelling, password and all, in its error).
    public let uri: String
    /// Seconds to wait for the server when the URI sets no `connect_timeout` (libpq would wait for
    /// the kernel's TCP timeout, minutes, and a hook must not hang a commit or a push).
    public var connectTimeout = 10

    /// The URI as libpq reads it, read once: every keyword it gives a value.
    private let parsed: Parsed
    enum Parsed: Sendable, Equatable { case values([String: String]), unparsable, unavailable }

    public init?(_ text: String) {
        guard let colon = text.range(of: "://") else { return nil }
        let scheme = text[..<colon.lowerBound].lowercased()
        guard scheme == "postgres" || scheme == "postgresql" else { return nil }
        uri = scheme + text[colon.lowerBound...]
        parsed = Self.parse(uri)
    }

    private static func parse(_ uri: String) -> Parsed {
        final class Collected { var values: [String: String] = [:] }
        let collected = Collected()
        let status = withExtendedLifetime(collected) {
            keyseal_pq_conninfo_parse(uri, Unmanaged.passUnretained(collected).toOpaque()) { context, keyword, value in
                guard let context, let keyword, let value else { return }
                Unmanaged<Collected>.fromOpaque(context).takeUnretainedValue().values[String(cString: keyword)] = String(cString: value)
            }
        }
        switch status {
        case 1: return .values(collected.values)
        case -2: return .unavailable
        default: return .unparsable
        }
    }

    /// The same store, waiting at most `seconds` to connect unless the URI says otherwise.
    public func connecting(within seconds: Int) -> PostgresAddress {
        var copy = self
        copy.connectTimeout = seconds
        return copy
    }

    /// libpq cannot read the URI (and would quote it, password and all, in its error).
    var isUnparsable: Bool { parsed == .unparsable }

    /// What libpq reads for `keyword` from the URI (decoded as libpq decodes it); `.unparsable` when
    /// libpq cannot read the URI, `.unavailable` without libpq.
    enum Value: Equatable { case given(String), absent, unparsable, unavailable }
    func value(_ keyword: String) -> Value {
        switch parsed {
        case .values(let values): return values[keyword].map(Value.given) ?? .absent
        case .unparsable: return .unparsable
        case .unavailable: return .unavailable
        }
    }

    /// The secrets the URI itself carries (a password, a client key's passphrase), as libpq reads
    /// them: what messages must never show.
    var secrets: [String] {
        ["password", "sslpassword"].compactMap { if case .given(let text) = value($0), !text.isEmpty { return text } else { return nil } }
            + [textualPassword].compactMap { $0 }
    }

    /// What a person meant as `user:password@`, read as text: from the first `:` after the scheme
    /// to the last `@`. libpq may read such a URL otherwise (`user:a/b@host` is host `user`, port
    /// `a`), and would then print the "password" as part of a database name.
    var textualPassword: String? {
        guard let scheme = uri.range(of: "://"), let at = uri.lastIndex(of: "@"), scheme.upperBound < at,
              let colon = uri[scheme.upperBound..<at].firstIndex(of: ":") else { return nil }
        let text = String(uri[uri.index(after: colon)..<at])
        return text.isEmpty ? nil : text
    }

    /// Whether the URI itself carries a password (`user:password@`, `password=`, `sslpassword=`, in
    /// any spelling libpq decodes). Without libpq, any `:` before an `@`, or `password` anywhere, counts.
    public var hasPassword: Bool {
        switch value("password") {
        case .unavailable:
            let lower = uri.lowercased()
            if lower.contains("password") { return true }
            guard let at = uri.lastIndex(of: "@"), let scheme = uri.range(of: "://") else { return false }
            return uri[scheme.upperBound..<at].contains(":")
        case .unparsable: return true  // unknown: refuse rather than risk showing one
        case .given(let text): return !text.isEmpty || !secrets.isEmpty
        case .absent: return !secrets.isEmpty
        }
    }

    /// A password where libpq reads none (see `textualPassword`): nothing of the URL can be shown.
    private var misreadPassword: Bool {
        guard let textual = textualPassword else { return false }
        if case .given(let password) = value("password"), textual.hasSuffix(password) { return false }
        return true
    }

    /// Safe to print: rebuilt from the parts libpq reads (user, host, port, database, service), with
    /// `***` where the URI holds a password. Never the URI's own text.
    public var redacted: String {
        func part(_ keyword: String) -> String? { if case .given(let text) = value(keyword), !text.isEmpty { return text } else { return nil } }
        switch value("host") {
        case .unparsable: return "postgres://(a URL libpq cannot read)"
        case .unavailable: return "postgres://(libpq is not available to read the URL)"
        default: break
        }
        if misreadPassword { return "postgres://(a URL whose user:password@ part libpq reads otherwise)" }
        var text = "postgres://"
        if let user = part("user") { text += user + (hasPassword ? ":***" : "") + "@" } else if hasPassword { text += ":***@" }
        if let host = part("host") ?? part("hostaddr") { text += host.contains(":") && !host.contains(",") ? "[\(host)]" : host }
        if let port = part("port") { text += ":" + port }
        text += "/" + (part("dbname") ?? "")
        if let service = part("service") { text += "?service=" + service }
        return text
    }

    /// `message` with every secret the URI carries, and the URI itself, replaced: libpq quotes the
    /// connection string in some of its errors.
    func scrubbed(_ message: String) -> String {
        var out = message.replacingOccurrences(of: uri, with: redacted)
        for secret in secrets.sorted(by: { $0.count > $1.count }) { out = out.replacingOccurrences(of: secret, with: "***") }
        return out
    }

    /// Whether the server is on this machine (a Unix socket, or a loopback address), where a
    /// connection without TLS crosses no network.
    public var isLocal: Bool {
        guard case .given(let host) = value("host"), !host.isEmpty else { return value("hostaddr") == .absent }
        return host.split(separator: ",").allSatisfy { $0.hasPrefix("/") || ["localhost", "127.0.0.1", "::1"].contains($0) }
    }

    /// The connection string handed to libpq: the URI, with `connect_timeout` unless it sets one.
    var connectionString: String {
        guard value("connect_timeout") == .absent else { return uri }
        return uri + (uri.contains("?") ? "&" : "?") + "connect_timeout=\(connectTimeout)"
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
        // libpq's errors about a URL it cannot read quote the URL: say so in keyseal's words.
        if address.isUnparsable {
            throw StoreError("cannot connect to the store \(name): libpq cannot read the URL (check its spelling: postgres://USER@HOST:PORT/DB?PARAMETERS)")
        }
        var error = [CChar](repeating: 0, count: 1024)
        guard let connection = keyseal_pq_connect(address.connectionString, &error, error.count) else {
            let message = address.scrubbed(String(cString: error).trimmingCharacters(in: .whitespacesAndNewlines))
            throw StoreError("cannot connect to the store \(name): \(message)", sqlState: "08000")
        }
        handle = connection
        // The store's tables live in their own schema. `public` is left out: on PostgreSQL before 15
        // any role may create functions there, and one named like a built-in (unnest) would run
        // with the rights of whoever calls it next, a lead.
        keyseal_pq_clear(try exec("SET search_path TO keyseal, pg_catalog", []))
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
        message = address.scrubbed(message)
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
