import Foundation
import XCTest

/// A real PostgreSQL server (Debian's `postgresql`) for the tests: a throwaway cluster made with
/// `initdb` in a temporary folder, started with `pg_ctl` on a free loopback port (as the `postgres`
/// user when the tests run as root, since the server refuses to run as root). Local socket
/// connections (the test's own setup through psql) are trusted; TCP connections, which keyseal
/// makes, need the password (SCRAM). Each test takes a database of its own.
final class PostgresServer: @unchecked Sendable {
    let folder: URL
    let binaries: String
    let port: Int
    /// The superuser's password, made at run time.
    let password = "pg-" + UUID().uuidString.prefix(12).lowercased()
    private let runAs: [String]
    private static let lock = NSLock()
    nonisolated(unsafe) private static var shared: PostgresServer?

    /// Where Debian installs the server's programs (not on PATH): the newest version's.
    static var binaryFolder: String? {
        let root = "/usr/lib/postgresql"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        for version in names.compactMap({ Int($0) }).sorted().reversed() {
            let folder = "\(root)/\(version)/bin"
            if FileManager.default.isExecutableFile(atPath: folder + "/initdb") { return folder }
        }
        return nil
    }

    /// The server every test of the process shares, started on first use and stopped at exit.
    static func sharedServer() throws -> PostgresServer {
        lock.lock()
        defer { lock.unlock() }
        if let shared { return shared }
        let server = try PostgresServer()
        shared = server
        atexit { PostgresServer.shared?.stop() }
        return server
    }

    /// Skips the test where PostgreSQL is not installed, except in CI (install.sh installs it there).
    static func require() throws -> PostgresServer {
        guard binaryFolder != nil else {
            if ProcessInfo.processInfo.environment["CI"] != nil {
                throw TestFailure("PostgreSQL is not installed: ./install.sh --deps-only installs it")
            }
            throw XCTSkip("PostgreSQL is not installed (./install.sh --deps-only installs it)")
        }
        return try sharedServer()
    }

    init() throws {
        guard let binaries = Self.binaryFolder else { throw TestFailure("no PostgreSQL server programs in /usr/lib/postgresql") }
        self.binaries = binaries
        folder = URL(fileURLWithPath: "/tmp").appendingPathComponent("keyseal-pg-\(UUID().uuidString.prefix(8))")
        let files = FileManager.default
        try files.createDirectory(at: folder.appendingPathComponent("data"), withIntermediateDirectories: true)
        try files.createDirectory(at: folder.appendingPathComponent("socket"), withIntermediateDirectories: true)
        try "\(password)\n".write(to: folder.appendingPathComponent("password"), atomically: true, encoding: .utf8)
        if getuid() == 0 {
            runAs = ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
            try files.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path)
            _ = try TestRepository.run("/bin/chown", ["-R", "postgres", folder.path], in: folder)
        } else {
            runAs = []
        }
        _ = try Self.run(runAs + ["\(binaries)/initdb", "-D", folder.appendingPathComponent("data").path, "-U", "postgres",
                                  "--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile", folder.appendingPathComponent("password").path,
                                  "-E", "UTF8", "--no-sync"], in: folder)
        var started: Int?
        for _ in 0..<5 where started == nil {
            let port = Int.random(in: 20_000...60_000)
            let options = "-p \(port) -k \(folder.appendingPathComponent("socket").path) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
            let out = try Self.run(runAs + ["\(binaries)/pg_ctl", "-D", folder.appendingPathComponent("data").path, "-l",
                                            folder.appendingPathComponent("data/server.log").path, "-w", "-o", options, "start"],
                                   in: folder, allowFailure: true)
            if out.status == 0 { started = port }
        }
        guard let started else { throw TestFailure("PostgreSQL did not start on a free port") }
        port = started
    }

    func stop() {
        _ = try? Self.run(runAs + ["\(binaries)/pg_ctl", "-D", folder.appendingPathComponent("data").path, "-m", "immediate", "stop"],
                          in: folder, allowFailure: true)
        try? FileManager.default.removeItem(at: folder)
    }

    /// Starts it again after `stop(keepingData:)`.
    func restart() throws {
        let options = "-p \(port) -k \(folder.appendingPathComponent("socket").path) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        _ = try Self.run(runAs + ["\(binaries)/pg_ctl", "-D", folder.appendingPathComponent("data").path, "-l",
                                  folder.appendingPathComponent("data/server.log").path, "-w", "-o", options, "start"], in: folder)
    }

    /// Stops the server at once (as a crash would), keeping its data.
    func halt() throws {
        _ = try Self.run(runAs + ["\(binaries)/pg_ctl", "-D", folder.appendingPathComponent("data").path, "-m", "immediate", "stop"], in: folder)
    }

    /// A new, empty database; its URL has no password (keyseal reads it from PGPASSWORD).
    func database() throws -> (name: String, url: String) {
        let name = "t_" + UUID().uuidString.prefix(8).lowercased()
        try sql("CREATE DATABASE \(name)")
        return (name, "postgres://postgres@127.0.0.1:\(port)/\(name)")
    }

    /// The environment keyseal needs to log in as the superuser.
    var environment: [String: String] { ["PGPASSWORD": password] }

    /// Runs SQL as the superuser through the local socket; returns psql's unaligned output.
    @discardableResult
    func sql(_ statements: String, database: String = "postgres") throws -> String {
        let out = try Self.run(["/usr/bin/psql", "-h", folder.appendingPathComponent("socket").path, "-p", String(port), "-U", "postgres",
                                "-d", database, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-c", statements], in: folder)
        return out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs a command with only standard input, output and error open: `pg_ctl start` leaves the
    /// server behind with every descriptor it inherited, and Foundation's Process waits for all
    /// holders of one of its own to close before it sees the child end (Python's subprocess closes
    /// the others).
    @discardableResult
    static func run(_ command: [String], in folder: URL, allowFailure: Bool = false) throws -> TestRepository.Output {
        let closing = ["/usr/bin/python3", "-c", "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:], close_fds=True))"]
        let out = try TestRepository.capture(closing[0], Array(closing.dropFirst()) + command, in: folder)
        if out.status != 0 && !allowFailure { throw TestFailure("\(command.joined(separator: " ")) exited \(out.status): \(out.stderr)") }
        return out
    }
}
