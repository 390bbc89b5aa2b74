import CFuzzDriver
import Foundation
@testable import KeysealCore

/// The Dockerfile parser (continuations, heredocs, escape directive) and its audit.
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = DockerfileAudit.check(path: "Dockerfile", text: text, dockerignore: ["*", "!src"])
    return 0
}

/// SwiftPM aliases `main` to `FuzzDockerfile_main`: hand control to libFuzzer with `fuzz` as the target.
@_cdecl("FuzzDockerfile_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        // Safe: libFuzzer passes a valid pointer (to an empty buffer when size is 0).
        fuzz(data!, size)
    }
}
