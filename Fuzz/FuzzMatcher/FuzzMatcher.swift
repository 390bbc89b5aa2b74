import CFuzzDriver
import Foundation
@testable import KeysealEngine

/// Every built-in rule, the locators, decoders, binary runs and archives on an arbitrary blob.
let matcher: Matcher = {
    let cache = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-fuzz-rules")
    // Safe to force: the built-in rules compile (a test checks); a failure here is a bug to see.
    return try! Matcher(rules: BuiltInRules.all, cacheDirectory: cache)
}()
nonisolated(unsafe) let scratch = try! matcher.makeScratch()  // Safe: as above.

func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let result = try? matcher.scanBlob(UnsafeRawBufferPointer(start: data, count: size), scratch: scratch)
    for match in result?.matches ?? [] {
        precondition(match.secretStart <= match.secretEnd && !match.secret.isEmpty, "malformed match")
    }
    return 0
}

/// SwiftPM aliases `main` to `FuzzMatcher_main`: hand control to libFuzzer with `fuzz` as the target.
@_cdecl("FuzzMatcher_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    // Compile the rules before the first input, so that input is not charged for it (a timeout).
    _ = scratch
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        // Safe: libFuzzer passes a valid pointer (to an empty buffer when size is 0).
        fuzz(data!, size)
    }
}
