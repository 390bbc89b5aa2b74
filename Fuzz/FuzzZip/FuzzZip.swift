import CFuzzDriver
import Foundation
@testable import KeysealEngine

/// Zip central directory, local headers and members from arbitrary bytes.
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    var budget = ArchiveBudget()
    _ = Containers.forEachZipMember(bytes, budget: &budget) { member, budget in
        precondition(member.bytes.count <= ArchiveBudget.maxMemberBytes, "member over the bound")
        precondition(budget.peakHeldBytes <= ArchiveBudget.maxMemberBytes, "more than one member held")
        _ = member.bytes.reduce(0, &+)
    }
    return 0
}

/// SwiftPM aliases `main` to `FuzzZip_main`: hand control to libFuzzer with `fuzz` as the target.
@_cdecl("FuzzZip_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        // Safe: libFuzzer passes a valid pointer (to an empty buffer when size is 0).
        fuzz(data!, size)
    }
}
