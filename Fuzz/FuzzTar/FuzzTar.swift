import CFuzzDriver
import Foundation
@testable import KeysealEngine

/// Tar headers and members from arbitrary bytes: must never trap, hang or over-allocate.
/// The header checksums are made valid first, along the chain of headers the sizes lead to, so the
/// fuzzer spends its time past the checksum check (the raw bytes are tried too).
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = Array(UnsafeBufferPointer(start: data, count: size))
    for fixed in [false, true] {
        if fixed { fixChecksums(&input) }
        input.withUnsafeBufferPointer { bytes in
            var budget = ArchiveBudget()
            Containers.forEachTarMember(bytes, budget: &budget) { member, _ in
                precondition(member.bytes.count <= ArchiveBudget.maxMemberBytes, "member over the bound")
                _ = member.bytes.reduce(0, &+)
            }
        }
    }
    return 0
}

func fixChecksums(_ input: inout [UInt8]) {
    var at = 0
    while at + 512 <= input.count {
        var sum = 0
        for i in 0..<512 { sum += (148..<156).contains(i) ? 0x20 : Int(input[at + i]) }
        let digits = Array(String(sum, radix: 8).utf8)
        let field = [UInt8](repeating: 0x30, count: max(0, 6 - digits.count)) + digits.suffix(6) + [0, 0x20]
        for i in 0..<8 { input[at + 148 + i] = field[i] }
        let sizeField = input.withUnsafeBufferPointer { UnsafeBufferPointer(rebasing: $0[(at + 124)..<(at + 136)]) }
        guard let size = Containers.tarNumber(sizeField), size < input.count else { return }
        at += 512 + (size + 511) / 512 * 512
    }
}

/// SwiftPM aliases `main` to `FuzzTar_main`: hand control to libFuzzer with `fuzz` as the target.
@_cdecl("FuzzTar_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        // Safe: libFuzzer passes a valid pointer (to an empty buffer when size is 0).
        fuzz(data!, size)
    }
}
