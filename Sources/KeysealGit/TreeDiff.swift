import CGit2
import Foundation

/// A tree handle owned for as long as this value lives.
final class Tree {
    let handle: OpaquePointer
    init(_ repo: Repository, _ id: ObjectID) throws {
        var oid = id.gitOID
        var tree: OpaquePointer?
        let status = git_tree_lookup(&tree, repo.handle, &oid)
        if status < 0 { throw repo.objectError(status, "git_tree_lookup", "tree", id) }
        handle = tree!  // Safe: success sets the out pointer.
    }
    deinit { git_tree_free(handle) }
}

/// Finds the blobs a commit introduces: entries whose id differs from the parent's at the same path.
/// Identical subtrees are skipped by id, so the cost follows the size of the change, not of the tree.
final class TreeDiffer {
    let repo: Repository
    private var path: [UInt8] = []
    private(set) var gitlinks = 0

    init(repo: Repository) { self.repo = repo }

    static let fileModes: Set<UInt32> = [0o100644, 0o100755, 0o100664, 0o120000]

    /// Calls `emit` with each (blob, path) that `new` has and `old` has not. `old == nil` is the empty tree.
    func diff(old: ObjectID?, new: ObjectID, emit: (ObjectID, [UInt8]) -> Void) throws {
        path.removeAll(keepingCapacity: true)
        let newTree = try Tree(repo, new)
        let oldTree = try old.map { try Tree(repo, $0) }
        try diff(oldTree?.handle, newTree.handle, emit)
    }

    private func diff(_ old: OpaquePointer?, _ new: OpaquePointer, _ emit: (ObjectID, [UInt8]) -> Void) throws {
        let newCount = git_tree_entrycount(new)
        let oldCount = old.map { git_tree_entrycount($0) } ?? 0
        var i = 0, j = 0
        while j < newCount {
            // Safe: indexes are below the entry counts libgit2 reported for these trees.
            let newEntry = git_tree_entry_byindex(new, j)!
            let newMode = git_tree_entry_filemode(newEntry).rawValue
            let newIsTree = newMode == GIT_FILEMODE_TREE.rawValue
            var oldEntry: OpaquePointer? = nil
            while i < oldCount, let old {
                let candidate = git_tree_entry_byindex(old, i)!
                let order = Self.compare(git_tree_entry_name(candidate), git_tree_entry_filemode(candidate).rawValue == GIT_FILEMODE_TREE.rawValue,
                                         git_tree_entry_name(newEntry), newIsTree)
                if order < 0 { i += 1; continue }  // only in old: removed, nothing to scan
                if order == 0 { oldEntry = candidate; i += 1 }
                break
            }
            j += 1
            let newID = git_tree_entry_id(newEntry)!
            if let oldEntry, git_oid_equal(git_tree_entry_id(oldEntry), newID) == 1 { continue }
            try visit(newEntry, newMode, newIsTree, ObjectID(newID), oldEntry, emit)
        }
    }

    private func visit(_ entry: OpaquePointer, _ mode: UInt32, _ isTree: Bool, _ id: ObjectID,
                       _ oldEntry: OpaquePointer?, _ emit: (ObjectID, [UInt8]) -> Void) throws {
        let mark = path.count
        defer { path.removeSubrange(mark...) }
        if mark > 0 { path.append(0x2f) }
        let name = git_tree_entry_name(entry)!
        name.withMemoryRebound(to: UInt8.self, capacity: strlen(name)) {
            path.append(contentsOf: UnsafeBufferPointer(start: $0, count: strlen(name)))
        }
        if isTree {
            let sub = try Tree(repo, id)
            let oldSub = try oldEntry.map { try Tree(repo, ObjectID(git_tree_entry_id($0))) }
            try diff(oldSub?.handle, sub.handle, emit)
        } else if mode == GIT_FILEMODE_COMMIT.rawValue {
            gitlinks += 1
        } else if Self.fileModes.contains(mode) {
            emit(id, path)
        }
    }

    /// git's tree order: names compared bytewise, a tree's name as if it ended in '/'.
    @inline(__always)
    static func compare(_ a: UnsafePointer<CChar>, _ aTree: Bool, _ b: UnsafePointer<CChar>, _ bTree: Bool) -> Int {
        var index = 0
        while true {
            let ca = UInt8(bitPattern: a[index]), cb = UInt8(bitPattern: b[index])
            if ca == 0 || cb == 0 || ca != cb {
                let ea: UInt8 = ca == 0 ? (aTree ? 0x2f : 0) : ca
                let eb: UInt8 = cb == 0 ? (bTree ? 0x2f : 0) : cb
                if ea != eb { return ea < eb ? -1 : 1 }
                if ca == 0 && cb == 0 { return 0 }
                return ca == 0 ? -1 : 1
            }
            index += 1
        }
    }

    /// The id of the entry at `path` in `tree`, or nil when there is none.
    func entryID(in tree: ObjectID, path: [UInt8]) throws -> ObjectID? {
        let handle = try Tree(repo, tree)
        var entry: OpaquePointer?
        let status = (path + [0]).withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                git_tree_entry_bypath(&entry, handle.handle, $0)
            }
        }
        if status == GIT_ENOTFOUND.rawValue { git_error_clear(); return nil }
        try check(status, "git_tree_entry_bypath")
        defer { git_tree_entry_free(entry) }
        return ObjectID(git_tree_entry_id(entry))
    }
}
