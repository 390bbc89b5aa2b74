import CFuzzDriver
import Foundation
@testable import KeysealCore

/// What a hook reads from outside: git's pre-receive and pre-push lines on standard input, a
/// remote's URL from the repository's config, and push options from the environment.
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? ReceiveUpdate.parse(text)
    _ = try? PushUpdate.parse(text)
    _ = RepositoryName.normalise(remoteURL: text)
    var environment = ["GIT_PUSH_OPTION_COUNT": "3"]
    for (index, option) in text.split(separator: "\n", maxSplits: 2).enumerated() { environment["GIT_PUSH_OPTION_\(index)"] = String(option) }
    _ = GuardScanner.bypassReason(environment: environment)
    return 0
}

/// SwiftPM aliases `main` to `FuzzHookInput_main`: hand control to libFuzzer with `fuzz` as the target.
@_cdecl("FuzzHookInput_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        // Safe: libFuzzer passes a valid pointer (to an empty buffer when size is 0).
        fuzz(data!, size)
    }
}
