import Foundation
@testable import KeysealCore
import KeysealGit
@testable import KeysealStore
import XCTest

/// Errors keep their type through the core (the executable alone turns them into a line), and
/// decisions about them are made from their codes, never from their text.
final class TypedErrorTests: XCTestCase {
    func testACorruptObjectReachesTheCallerAsAGitErrorWithLibgit2sClassAndCode() throws {
        let repo = try TestRepository()
        try repo.write("a.txt", "hello\n")
        try repo.commit("a")
        let blob = try repo.git(["rev-parse", "HEAD:a.txt"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let object = repo.url.appendingPathComponent(".git/objects/\(blob.prefix(2))/\(blob.dropFirst(2))")
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: object.path)
        try Data("not zlib at all".utf8).write(to: object)
        XCTAssertThrowsError(try HistoryScan.scan(ScanOptions(path: repo.path, threads: 1))) { error in
            guard let error = error as? GitError else { return XCTFail("not a GitError: \(type(of: error)) \(error)") }
            XCTAssertLessThan(error.code, 0)
            XCTAssertNotEqual(error.errorClass, 0, "libgit2's error class is kept")
            XCTAssertTrue(error.message.contains(blob), error.message)
        }
    }

    func testNoRepositoryAndAnUnknownRevisionAreTypedWithTheirGitError() throws {
        let folder = try TestRepository(initialise: false)
        XCTAssertThrowsError(try HistoryScan.scan(ScanOptions(path: folder.path, threads: 1))) { error in
            guard case KeysealError.repository(let git)? = error as? KeysealError else { return XCTFail("\(error)") }
            XCTAssertTrue(git.isNotFound, "\(git.code)")
        }
        let repo = try TestRepository()
        try repo.write("a.txt", "a\n")
        try repo.commit("a")
        XCTAssertThrowsError(try HistoryScan.scan(ScanOptions(path: repo.path, sinceCommit: "v9.9", threads: 1))) { error in
            guard case KeysealError.revision(let option, let git)? = error as? KeysealError else { return XCTFail("\(error)") }
            XCTAssertEqual(option, "--since-commit")
            XCTAssertTrue(git.isNotFound, "\(git.code)")
            XCTAssertEqual("\(error)", "--since-commit: \(git.message)")
        }
    }

    /// A second connection asking for a lock the first holds gets SQLITE_BUSY in the error's code.
    func testALockedStoreIsBusyByItsResultCode() throws {
        let folder = try TestRepository(initialise: false)
        let path = folder.url.appendingPathComponent("store.sqlite").path
        let holder = try SQLiteConnection(path: path)
        let other = try SQLiteConnection(path: path)
        try other.execute("PRAGMA busy_timeout = 0")
        try holder.execute("CREATE TABLE t (x)")
        try holder.execute("BEGIN EXCLUSIVE")
        XCTAssertThrowsError(try other.execute("BEGIN EXCLUSIVE")) { error in
            guard let error = error as? StoreError else { return XCTFail("\(error)") }
            XCTAssertNotNil(error.code)
            XCTAssertTrue(error.isBusy, "\(String(describing: error.code)) \(error.message)")
        }
        try holder.execute("COMMIT")
        try other.execute("BEGIN EXCLUSIVE")
        try other.execute("COMMIT")
    }

    /// The busy retry goes by the result code: a busy code is retried, and words such as "locked" in
    /// a message (a path, say) are not a reason to retry.
    func testBusyRetryDecidesFromTheCodeNotTheText() throws {
        var attempts = 0
        try FindingStore.retryingBusy {
            attempts += 1
            if attempts < 3 { throw StoreError("store.sqlite: database is busy", code: 5) }  // SQLITE_BUSY
        }
        XCTAssertEqual(attempts, 3)

        attempts = 0
        XCTAssertThrowsError(try FindingStore.retryingBusy {
            attempts += 1
            throw StoreError("/srv/locked/busy/store.sqlite: disk I/O error", code: 10)  // SQLITE_IOERR
        })
        XCTAssertEqual(attempts, 1)
        XCTAssertTrue(StoreError("x", code: 6).isBusy)  // SQLITE_LOCKED
        XCTAssertTrue(StoreError("x", code: 5 | (2 << 8)).isBusy)  // SQLITE_BUSY_SNAPSHOT
        XCTAssertFalse(StoreError("database is locked").isBusy)
    }
}
