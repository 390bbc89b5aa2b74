import CFuzzDriver
import Foundation
@testable import KeysealGit

/// The history walk's tree comparison on raw tree bytes (`TreeDiffer`, `RawTree.entry`). The input is
/// up to eight trees separated by the bytes FF FE; tree k's id is k followed by 19 zero bytes, so an
/// entry naming such an id nests that tree (cycles included: real ids cannot form one, these can).
/// Malformed trees must throw, never read out of bounds; a tree compared with itself yields nothing;
/// the work stays bounded (libFuzzer's timeout) whatever the nesting.
func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    var parts: [[UInt8]] = [[]]
    var index = 0
    while index < input.count {
        if input[index] == 0xff, index + 1 < input.count, input[index + 1] == 0xfe, parts.count < 8 {
            parts.append([])
            index += 2
            continue
        }
        parts[parts.count - 1].append(input[index])
        index += 1
    }
    var trees: [ObjectID: RawTree] = [:]
    var ids: [ObjectID] = []
    for (k, part) in parts.enumerated() {
        let id = ([UInt8(k)] + [UInt8](repeating: 0, count: 19)).withUnsafeBytes { ObjectID(rawBytes: $0.baseAddress!) }
        trees[id] = RawTree(copying: part)
        ids.append(id)
    }
    func read(_ id: ObjectID) throws -> RawTree {
        guard let tree = trees[id] else { throw GitError(function: "fuzz", code: -3, message: "no such tree") }
        return tree
    }
    var path: [UInt8] = []
    var gitlinks = 0, repeats = 0
    var emitted = 0
    let pairs: [(ObjectID?, ObjectID)] = [(nil, ids[0]), (ids[0], ids[ids.count - 1]), (ids[ids.count - 1], ids[0])]
    for (old, new) in pairs {
        _ = try? TreeDiffer.diff(old: try? old.map(read), new: read(new), read: read, path: &path, gitlinks: &gitlinks,
                                 repeatsSkipped: &repeats) { _, _ in emitted += 1 }
    }
    // Never a miss: every (path, blob) the new tree lists that the old one does not (as libgit2 reads
    // modes: files, executables and links; not submodule links or folders) is reported. Checked when
    // both trees list whole (every entry parses, nesting below 8, no repeat cap reached).
    func listing(_ id: ObjectID, _ prefix: [UInt8], _ depth: Int, _ out: inout Set<[UInt8]>) -> Bool {
        guard depth < 8, let tree = trees[id] else { return false }
        var at = 0
        while at < tree.bytes.count {
            guard let entry = try? RawTree.entry(in: tree, at: at) else { return false }
            let path = prefix + (prefix.isEmpty ? [] : [0x2f]) + Array(entry.name(in: tree.bytes))
            let child = entry.id(in: tree.bytes)
            if entry.isTree {
                guard listing(child, path, depth + 1, &out) else { return false }
            } else if TreeDiffer.fileModes.contains(entry.mode) {
                out.insert(path + [0] + child.bytes)
            }
            at = entry.end
        }
        return true
    }
    for (old, new) in pairs {
        var newList = Set<[UInt8]>(), oldList = Set<[UInt8]>()
        guard listing(new, [], 0, &newList), old.map({ listing($0, [], 0, &oldList) }) ?? true else { continue }
        var reported = Set<[UInt8]>()
        var skipped = 0
        let ran: Void? = try? TreeDiffer.diff(old: try? old.map(read), new: read(new), read: read, path: &path, gitlinks: &gitlinks,
                                              repeatsSkipped: &skipped) { blob, at in reported.insert(at + [0] + blob.bytes) }
        guard ran != nil, skipped == 0 else { continue }
        let missed = newList.subtracting(oldList).subtracting(reported)
        precondition(missed.isEmpty, "the differ missed \(missed.count) new (path, blob) pair(s)")
    }
    // The same tree on both sides: every entry is the old one's, byte for byte.
    var same = 0
    _ = try? TreeDiffer.diff(old: read(ids[0]), new: read(ids[0]), read: read, path: &path, gitlinks: &gitlinks,
                             repeatsSkipped: &repeats) { _, _ in same += 1 }
    precondition(same == 0, "a tree compared with itself reported \(same) entries")
    // Every entry of a tree parses within its bytes, each past the last.
    for part in parts {
        let tree = RawTree(copying: part)
        var at = 0
        while at < tree.bytes.count, let entry = try? RawTree.entry(in: tree, at: at) {
            precondition(entry.end > at && entry.end <= tree.bytes.count && entry.nameEnd > entry.nameStart)
            at = entry.end
        }
    }
    return 0
}

/// SwiftPM aliases `main` to `FuzzTreeDiff_main`: hand control to libFuzzer with `fuzz` as the target.
@_cdecl("FuzzTreeDiff_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        // Safe: libFuzzer passes a valid pointer (to an empty buffer when size is 0).
        fuzz(data!, size)
    }
}
