import CFuzzDriver
import Foundation
@testable import KeysealCore

/// `.keyseal.toml`: TOML, then keyseal's own checks (sizes, allowlists, custom rules and their
/// examples). Errors are expected; traps are not.
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let config = try? KeysealConfig.parse(text, file: ".keyseal.toml") {
        _ = try? config.rules()
    }
    return 0
}

/// SwiftPM aliases `main` to `FuzzConfig_main`: hand control to libFuzzer with `fuzz` as the target.
@_cdecl("FuzzConfig_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        // Safe: libFuzzer passes a valid pointer (to an empty buffer when size is 0).
        fuzz(data!, size)
    }
}
