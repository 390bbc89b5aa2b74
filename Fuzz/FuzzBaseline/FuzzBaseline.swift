import CFuzzDriver
import Foundation
@testable import KeysealCore

/// `.keyseal-baseline.json`.
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? Baseline.parse(Data(bytes: data, count: size), path: ".keyseal-baseline.json")
    return 0
}

/// SwiftPM aliases `main` to `FuzzBaseline_main`: hand control to libFuzzer with `fuzz` as the target.
@_cdecl("FuzzBaseline_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        // Safe: libFuzzer passes a valid pointer (to an empty buffer when size is 0).
        fuzz(data!, size)
    }
}
