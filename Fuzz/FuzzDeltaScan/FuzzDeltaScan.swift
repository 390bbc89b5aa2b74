import CFuzzDriver
import Foundation
@testable import KeysealEngine

/// Delta scans against full scans: the input's first part is the base, the rest a program of copies
/// (from anywhere in the base) and inserts that builds the target; scanning the target against the
/// base's recorded hits must give exactly the full scan's matches. Also the pattern reader
/// (`NewlineReach`) on the input as a pattern.
let matcher: Matcher = {
    let cache = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-fuzz-rules")
    // Safe to force: the built-in rules compile (a test checks); a failure here is a bug to see.
    return try! Matcher(rules: BuiltInRules.all, cacheDirectory: cache, deltaScans: true)
}()
nonisolated(unsafe) let scratch = try! matcher.makeScratch()  // Safe: as above.

func describe(_ scan: BlobScan) -> [String] {
    scan.matches.map { "\($0.rule) \($0.secretStart) \($0.secretEnd) \($0.line) \($0.column) \($0.secret) \($0.encoding ?? "")" }.sorted()
        + ["\(scan.kind) \(scan.gaps.rawValue)"]
}

func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    _ = NewlineReach.maxNewlines(String(decoding: input, as: UTF8.self))
    guard size >= 4 else { return 0 }
    let split = min(size, Int(input[0]) << 8 | Int(input[1]))
    let base = Array(input[2..<max(2, split)])
    let program = input[max(2, split)...]
    guard let recorded = try? base.withUnsafeBytes({ try matcher.scanBlob($0, scratch: scratch, record: true) }).recorded
    else { return 0 }
    var target: [UInt8] = []
    var segments: [CopySegment] = []
    var i = program.startIndex
    while i + 2 < program.endIndex {
        let op = program[i], a = Int(program[i + 1]), b = Int(program[i + 2])
        i += 3
        if op & 1 == 0, !base.isEmpty {
            let from = (a << 8 | b) % base.count
            let count = 1 + Int(op >> 1) * 8 % (base.count - from)
            segments.append(CopySegment(target: target.count, base: from, count: min(count, base.count - from)))
            target += base[from..<(from + min(count, base.count - from))]
        } else {
            let count = min(Int(op >> 1), program.endIndex - i)
            target += program[i..<(i + count)]
            i += count
        }
    }
    let full = try? target.withUnsafeBytes { try matcher.scanBlob($0, scratch: scratch) }
    let delta = try? target.withUnsafeBytes {
        try matcher.scanBlob($0, scratch: scratch, delta: DeltaBase(hits: recorded, segments: segments))
    }
    precondition((full.map(describe) ?? []) == (delta.map(describe) ?? []), "a delta scan found other matches than a full scan")
    return 0
}

/// SwiftPM aliases `main` to `FuzzDeltaScan_main`: hand control to libFuzzer with `fuzz` as the target.
@_cdecl("FuzzDeltaScan_main")
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
