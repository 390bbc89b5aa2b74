import CFuzzDriver
import Foundation
@testable import KeysealGit

/// The history walk's reader of raw commit headers (`Repository.parseCommitHeader`): any bytes, no
/// crash and no read out of bounds; what it accepts names a tree and parents from hex digits of the
/// input, and a time it read there.
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let id = ObjectID(hex: String(repeating: "0", count: 40))!  // Safe: 40 hex digits.
    guard let info = Repository.parseCommitHeader(input, id: id) else { return 0 }
    let text = String(decoding: input, as: UTF8.self)
    precondition(text.hasPrefix("tree " + info.tree.hex + "\n"), "the tree is the first line's")
    for parent in info.parents { precondition(text.contains("parent " + parent.hex + "\n"), "a parent from its line") }
    // The time: the digits after the last '>' of the first committer line after the header's start
    // (leading zeros allowed, as git reads them). Bytes, not Characters: "\r\n" is one Character.
    let bytes = Array(input)
    let marker = Array("\ncommitter ".utf8)
    var at = 0
    while at + marker.count <= bytes.count, !bytes[at..<(at + marker.count)].elementsEqual(marker) { at += 1 }
    precondition(at + marker.count <= bytes.count, "a committer line")
    let line = bytes[(at + marker.count)...].prefix { $0 != 0x0a }
    let afterEmail = line[((line.lastIndex(of: 0x3e) ?? line.startIndex) + 1)...]
    let digits = afterEmail.drop { $0 == 0x20 }.prefix { $0 != 0x20 }
    precondition(Int64(String(decoding: digits, as: UTF8.self)) == info.time, "the committer time is the committer line's")
    return 0
}

/// SwiftPM aliases `main` to `FuzzCommitHeader_main`: hand control to libFuzzer with `fuzz` as the target.
@_cdecl("FuzzCommitHeader_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        // Safe: libFuzzer passes a valid pointer (to an empty buffer when size is 0).
        fuzz(data!, size)
    }
}
