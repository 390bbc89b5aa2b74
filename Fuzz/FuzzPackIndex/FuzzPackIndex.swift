import CFuzzDriver
import Foundation
@testable import KeysealGit

/// The pack `.idx` reader: the validator on the raw bytes, then lookups in an index built from them.
/// Raw bytes almost never pass the validator, so the input is also shaped into a well-formed index
/// (magic, a fan-out made non-decreasing, tables of the size the count asks for) whose names and
/// offsets are the fuzzer's, and ids from the input are looked up in it.
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    input.withUnsafeBytes { _ = PackOrder.isValid($0) }
    guard size >= 2 else { return 0 }
    let count = Int(input[0]) % 64
    var index: [UInt8] = [0xff, 0x74, 0x4f, 0x63, 0, 0, 0, 2]
    // Fan-out: the number of names whose first byte is <= slot; non-decreasing, ending at `count`.
    var bound = 0
    for slot in 0..<256 {
        if slot == 255 { bound = count } else if slot + 1 < size { bound = min(count, max(bound, Int(input[slot + 1]) % (count + 1))) }
        index += withUnsafeBytes(of: UInt32(bound).bigEndian, Array.init)
    }
    let largeOffsets = Int(input[1]) % (count + 1)
    let tables = count * 28 + largeOffsets * 8 + 40
    for i in 0..<tables { index.append(input[(i + 2) % size]) }
    let ids = input.withUnsafeBytes { bytes in
        stride(from: 0, to: size - 19, by: 20).map { ObjectID(rawBytes: bytes.baseAddress! + $0) }
    }
    index.withUnsafeBytes { raw in
        precondition(PackOrder.isValid(raw), "a well-formed index was refused")
        for id in ids { _ = PackOrder.offset(of: id, in: raw) }
        for name in 0..<count {
            _ = PackOrder.offset(of: ObjectID(rawBytes: raw.baseAddress! + 8 + 1024 + name * 20), in: raw)
        }
    }
    return 0
}

/// SwiftPM aliases `main` to `FuzzPackIndex_main`: hand control to libFuzzer with `fuzz` as the target.
@_cdecl("FuzzPackIndex_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        // Safe: libFuzzer passes a valid pointer (to an empty buffer when size is 0).
        fuzz(data!, size)
    }
}
