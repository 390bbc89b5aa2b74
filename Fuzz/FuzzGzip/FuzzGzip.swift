import CFuzzDriver
import Foundation
@testable import KeysealEngine

/// gzip framing and inflate from arbitrary bytes (the two magic bytes are supplied, so every input
/// reaches zlib).
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input: [UInt8] = [0x1f, 0x8b, 0x08] + Array(UnsafeBufferPointer(start: data, count: size))
    input.withUnsafeBufferPointer { bytes in
        var budget = ArchiveBudget()
        _ = Containers.forEachMember(bytes, format: .gzip, budget: &budget) { member, _ in
            _ = member.bytes.reduce(0, &+)
        }
    }
    return 0
}

/// SwiftPM aliases `main` to `FuzzGzip_main`: hand control to libFuzzer with `fuzz` as the target.
@_cdecl("FuzzGzip_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        // Safe: libFuzzer passes a valid pointer (to an empty buffer when size is 0).
        fuzz(data!, size)
    }
}
