import CFuzzDriver
import Foundation
@testable import KeysealCore
@testable import KeysealStore

// Safe: an in-memory database always opens.
nonisolated(unsafe) let database = try! SQLiteConnection(path: ":memory:")  // libFuzzer calls `fuzz` from one thread

/// What a shared store's rows (written by many runners) and its URL reach: stored times, the names an
/// org-wide rebuild sends on, the store address's parsing and redaction, and the JSON id lists.
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = Timestamp.seconds(text)
    _ = ChecklistRenderer.humanTime(text)
    _ = ChecklistRenderer.day(text)
    _ = StoredNames.isRepositoryName(text)
    _ = StoredNames.isTagRef(text)
    _ = StoredNames.isCommitID(text)
    _ = StoreChoice.unreadableAddress(text)
    // Ids and rule names (a repository's custom rules) as one JSON array for SQLite's json_each:
    // each string comes back as it went in, up to a NUL (SQLite's text ends there). Read back by
    // SQLite itself: Foundation's JSON reader drops a U+FEFF inside a string.
    let strings = text.split(separator: "\u{1e}", omittingEmptySubsequences: false).map(String.init)
    var decoded: [String] = []
    try! database.prepare("SELECT value FROM json_each(?)").query([.text(FindingStore.jsonArray(of: strings))]) { decoded.append($0.string(0)) }
    let expected = strings.map { String($0.unicodeScalars.prefix { $0 != "\0" }) }
    if decoded.map({ Array($0.utf8) }) != expected.map({ Array($0.utf8) }) { fatalError("jsonArray does not round-trip") }
    if let address = PostgresAddress(text) {
        _ = address.redacted
        _ = address.hasPassword
        _ = address.isLocal
    }
    if let address = PostgresAddress("postgres://" + text) {
        _ = address.redacted
        _ = address.hasPassword
    }
    return 0
}

/// SwiftPM aliases `main` to `FuzzStoreRows_main`: hand control to libFuzzer with `fuzz` as the target.
@_cdecl("FuzzStoreRows_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        // Safe: libFuzzer passes a valid pointer (to an empty buffer when size is 0).
        fuzz(data!, size)
    }
}
