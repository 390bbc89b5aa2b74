import CFuzzDriver
import Foundation
@testable import KeysealCore
import KeysealStore

/// What a shared store's rows (written by many runners) and its URL reach: stored times, the names an
/// org-wide rebuild sends on, and the store address's parsing and redaction.
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = Timestamp.seconds(text)
    _ = ChecklistRenderer.humanTime(text)
    _ = ChecklistRenderer.day(text)
    _ = StoredNames.isRepositoryName(text)
    _ = StoredNames.isTagRef(text)
    _ = StoredNames.isCommitID(text)
    _ = StoreChoice.unreadableAddress(text)
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
