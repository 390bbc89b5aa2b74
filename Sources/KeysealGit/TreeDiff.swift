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
    /// Subtrees met again, with the same old side, more often than `maxRepeats` in one comparison:
    /// not expanded again (their blobs were introduced at the earlier paths).
    private(set) var repeatsSkipped = 0

    /// A "tree bomb" points each level at the same subtree twice, so 40 levels would expand to 2^40
    /// paths; identical directories in real repositories repeat a handful of times.
    static let maxRepeats = 16

    init(repo: Repository) { self.repo = repo }

    /// A subtree compared against its old side (a struct, not an array: no allocation per subtree).
    private struct TreePair: Hashable {
        let old: ObjectID?
        let new: ObjectID
    }

    static let fileModes: Set<UInt32> = [0o100644, 0o100755, 0o100664, 0o120000]

    /// One tree being compared: the new tree, the old one at the same path (nil: none), how far
    /// each has been read, and the path's length before this tree's name was appended.
    private struct Frame {
        let old: Tree?
        let new: Tree
        var i = 0, j = 0
        let mark: Int
    }

    /// Calls `emit` with each (blob, path) that `new` has and `old` has not. `old == nil` is the empty tree.
    /// Iterative (an explicit stack of frames, one path buffer), so a tree nested tens of thousands of
    /// levels deep costs memory in proportion to its depth and never overflows the thread's stack.
    func diff(old: ObjectID?, new: ObjectID, emit: (ObjectID, [UInt8]) -> Void) throws {
        path.removeAll(keepingCapacity: true)
        var expansions: [TreePair: Int] = [:]
        var stack = [Frame(old: try old.map { try Tree(repo, $0) }, new: try Tree(repo, new), mark: 0)]
        while let top = stack.indices.last {
            let newTree = stack[top].new.handle
            let oldTree = stack[top].old?.handle
            let newCount = git_tree_entrycount(newTree)
            let oldCount = oldTree.map { git_tree_entrycount($0) } ?? 0
            guard stack[top].j < newCount else {
                path.removeSubrange(stack[top].mark...)
                stack.removeLast()
                continue
            }
            // Safe: indexes are below the entry counts libgit2 reported for these trees.
            let newEntry = git_tree_entry_byindex(newTree, stack[top].j)!
            let newMode = git_tree_entry_filemode(newEntry).rawValue
            let newIsTree = newMode == GIT_FILEMODE_TREE.rawValue
            var oldEntry: OpaquePointer? = nil
            while stack[top].i < oldCount, let oldTree {
                let candidate = git_tree_entry_byindex(oldTree, stack[top].i)!
                let order = Self.compare(git_tree_entry_name(candidate), git_tree_entry_filemode(candidate).rawValue == GIT_FILEMODE_TREE.rawValue,
                                         git_tree_entry_name(newEntry), newIsTree)
                if order < 0 { stack[top].i += 1; continue }  // only in old: removed, nothing to scan
                if order == 0 { oldEntry = candidate; stack[top].i += 1 }
                break
            }
            stack[top].j += 1
            let newID = git_tree_entry_id(newEntry)!
            if let oldEntry, git_oid_equal(git_tree_entry_id(oldEntry), newID) == 1 { continue }
            let id = ObjectID(newID)
            let mark = path.count
            if mark > 0 { path.append(0x2f) }
            let name = git_tree_entry_name(newEntry)!
            name.withMemoryRebound(to: UInt8.self, capacity: strlen(name)) {
                path.append(contentsOf: UnsafeBufferPointer(start: $0, count: strlen(name)))
            }
            if newIsTree {
                let oldID = oldEntry.map { ObjectID(git_tree_entry_id($0)) }
                let pair = TreePair(old: oldID, new: id)
                let seen = expansions[pair, default: 0]
                if seen >= Self.maxRepeats {
                    repeatsSkipped += 1
                    path.removeSubrange(mark...)
                    continue
                }
                expansions[pair] = seen + 1
                let sub = try Tree(repo, id)
                let oldSub = try oldID.map { try Tree(repo, $0) }
                stack.append(Frame(old: oldSub, new: sub, mark: mark))
                continue  // the frame removes its name from the path when it is done
            }
            if newMode == GIT_FILEMODE_COMMIT.rawValue {
                gitlinks += 1
            } else if Self.fileModes.contains(newMode) {
                emit(id, path)
            }
            path.removeSubrange(mark...)
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

    /// The id of the entry at `path` in `tree`, or nil when there is none. One level at a time
    /// (libgit2's `git_tree_entry_bypath` recurses once per path component).
    func entryID(in tree: ObjectID, path: [UInt8]) throws -> ObjectID? {
        var current = try Tree(repo, tree)
        var components = path.split(separator: 0x2f, omittingEmptySubsequences: false)[...]
        while let component = components.popFirst() {
            let entry: OpaquePointer? = (Array(component) + [0]).withUnsafeBufferPointer { buffer in
                buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {  // Safe: never empty (NUL).
                    git_tree_entry_byname(current.handle, $0)
                }
            }
            guard let entry else { return nil }
            let id = ObjectID(git_tree_entry_id(entry))
            if components.isEmpty { return id }
            guard git_tree_entry_filemode(entry).rawValue == GIT_FILEMODE_TREE.rawValue else { return nil }
            current = try Tree(repo, id)
        }
        return nil
    }
}
