import CFuzzDriver
import Foundation
@testable import KeysealGit

/// The pack reader of delta scans: an entry's header at each offset of the input read as a pack,
/// the zlib inflate of what follows, and a delta's instructions (with the sizes the delta states, so
/// the parse goes past them). Whatever it returns must describe copies inside both buffers, and
/// applying it to a base must write the base's bytes where it copies them. libdeflate's whole-stream
/// inflate must read a stream zlib also takes as zlib does.
/// Kept for the whole run: its libdeflate state is freed with it.
nonisolated(unsafe) let reader = PackDeltas.Reader()
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    for offset in stride(from: 0, to: min(size, 64), by: 1) {
        guard let header = PackDeltas.header(input, at: offset) else { continue }
        precondition(header.dataStart > offset && header.dataStart <= size, "header past the pack")
        if let base = header.baseOffset { precondition(base >= 12 && base < offset, "base not before its delta") }
        let wanted = min(header.size, 1 << 16)
        let stream = UnsafeRawBufferPointer(rebasing: input[header.dataStart..<max(header.dataStart, size - 20)])
        var out = [UInt8](repeating: 0, count: wanted)
        let inflated = out.withUnsafeMutableBytes { PackDeltas.inflate(stream, into: $0, size: wanted) }
        // libdeflate, given the stream whole, reads what zlib reads where both take it. (It also
        // takes a few reserved codes zlib refuses: HistoryDeltaScanTests says why that is harmless.)
        var whole = [UInt8](repeating: 0, count: wanted)
        // Safe: the decompressor is nil only when its allocation failed.
        if whole.withUnsafeMutableBytes({ PackDeltas.inflateWhole(stream, into: $0, decompressor: reader.decompressor!) }), inflated {
            precondition(whole == out, "libdeflate read a stream otherwise than zlib")
        }
    }
    // The delta's own two sizes, read the way the parser reads them.
    var p = 0
    func varint() -> Int {
        var value = 0, shift = 0
        while p < size && shift <= 56 {
            let c = Int(input[p])
            p += 1
            value |= (c & 0x7f) << shift
            shift += 7
            if c & 0x80 == 0 { break }
        }
        return value
    }
    let base = varint(), target = varint()
    if let stated = PackDeltas.targetLength(input) { precondition(stated == target, "target length read otherwise") }
    if let copies = PackDeltas.parse(input, baseLength: base, targetLength: target) {
        var end = 0
        for copy in copies {
            precondition(copy.count > 0 && copy.target >= end && copy.base >= 0 && copy.base + copy.count <= base
                && copy.target + copy.count <= target, "a copy outside its buffers")
            end = copy.target + copy.count
        }
    }
    // Applied to a base (the input's bytes, repeated): the same copies, and the target holds the
    // base's bytes wherever a copy says so.
    if base <= 1 << 16, target <= 1 << 16, size > 0 {
        let baseBytes = (0..<base).map { input[$0 % size] }
        var out = [UInt8](repeating: 0, count: target)
        let applied = baseBytes.withUnsafeBytes { b in
            out.withUnsafeMutableBytes { PackDeltas.parse(input, baseLength: base, targetLength: target, apply: (b, $0)) }
        }
        precondition(applied == PackDeltas.parse(input, baseLength: base, targetLength: target), "applying changed the copies")
        for copy in applied ?? [] {
            precondition(out[copy.target..<(copy.target + copy.count)].elementsEqual(baseBytes[copy.base..<(copy.base + copy.count)]),
                         "a copy's bytes not the base's")
        }
    }
    return 0
}

/// SwiftPM aliases `main` to `FuzzPackDelta_main`: hand control to libFuzzer with `fuzz` as the target.
@_cdecl("FuzzPackDelta_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        // Safe: libFuzzer passes a valid pointer (to an empty buffer when size is 0).
        fuzz(data!, size)
    }
}
