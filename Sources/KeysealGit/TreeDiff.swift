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

/// A tree as git stores it: entries of `<octal mode> <name>\0<20-byte id>`, read through the
/// object database (whose cache, the repository's object cache, keeps recent trees by id).
final class RawTree {
    /// The object database's copy, freed with the tree; nil for bytes the tree owns (fuzzing).
    private let object: OpaquePointer?
    let bytes: UnsafeRawBufferPointer

    /// The repository's object database, opened once per differ.
    final class Database {
        let repo: Repository
        let handle: OpaquePointer
        init(_ repo: Repository) throws {
            var odb: OpaquePointer?
            try check(git_repository_odb(&odb, repo.handle), "git_repository_odb")
            self.repo = repo
            handle = odb!  // Safe: success sets the out pointer.
        }
        deinit { git_odb_free(handle) }

        func tree(_ id: ObjectID) throws -> RawTree {
            var oid = id.gitOID
            var object: OpaquePointer?
            let status = git_odb_read(&object, handle, &oid)
            if status < 0 { throw repo.objectError(status, "git_odb_read", "tree", id) }
            let read = object!  // Safe: success sets the out pointer.
            guard git_odb_object_type(read) == GIT_OBJECT_TREE else {
                git_odb_object_free(read)
                throw GitError(function: "git_odb_read", code: GIT_ENOTFOUND.rawValue,
                               message: "cannot read tree \(id.hex): the object is not a tree")
            }
            return RawTree(read)
        }
    }

    private init(_ object: OpaquePointer) {
        self.object = object
        bytes = UnsafeRawBufferPointer(start: git_odb_object_data(object), count: git_odb_object_size(object))
    }

    /// A tree of the given bytes, held by the tree itself (for fuzzing the differ without a repository).
    init(copying source: [UInt8]) {
        object = nil
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, source.count), alignment: 8)
        storage.copyBytes(from: source)
        bytes = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(storage)[0..<source.count])
    }

    deinit {
        if let object { git_odb_object_free(object) } else { bytes.baseAddress.map { $0.deallocate() } }
    }

    /// One entry: where it starts and ends in the tree's bytes, its name's bounds, and its mode as
    /// libgit2 reports it (normalised: any mode with a tree's type bits is a tree, any with an execute
    /// bit an executable file, and so on).
    struct Entry {
        let start: Int
        let nameStart: Int
        let nameEnd: Int
        let mode: UInt32
        var end: Int { nameEnd + 21 }
        var length: Int { end - start }
        var isTree: Bool { mode == GIT_FILEMODE_TREE.rawValue }
        @inline(__always) func name(in bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(rebasing: bytes[nameStart..<nameEnd])
        }
        @inline(__always) func id(in bytes: UnsafeRawBufferPointer) -> ObjectID {
            ObjectID(rawBytes: bytes.baseAddress! + nameEnd + 1)  // Safe: `entry` checked 20 bytes follow the NUL.
        }
    }

    /// Parses the entry at `start`, refusing what libgit2's tree parser refuses (a mode that is not
    /// octal or above 0o177777, no space after it, an empty or unterminated name, a name longer than
    /// 65,535 bytes, a truncated id), so a malformed tree stops the scan as it did; also a mode with a
    /// sign, which libgit2 reads and git refuses. An old-side tree is parsed only as far as the
    /// comparison needs: each tree is parsed whole where it is new, in the commit that brings it
    /// (outside the walk, for commits an incremental or `--since-commit` scan does not walk, it may not be).
    @inline(__always)
    static func entry(in tree: RawTree, at start: Int) throws -> Entry {
        let bytes = tree.bytes
        var index = start
        var mode: UInt32 = 0
        while index < bytes.count, bytes[index] != 0x20 {
            let digit = bytes[index] &- 0x30
            guard digit < 8, mode <= 0o17777 else { throw malformed("can't parse filemode") }
            mode = mode << 3 | UInt32(digit)
            index += 1
        }
        guard index > start, index < bytes.count else { throw malformed("can't parse filemode") }
        let nameStart = index + 1
        guard nameStart < bytes.count,
              let nul = memchr(bytes.baseAddress! + nameStart, 0, bytes.count - nameStart)  // Safe: non-empty, in bounds.
        else { throw malformed("object is corrupted") }
        let nameEnd = UnsafeRawPointer(nul) - bytes.baseAddress!
        guard nameEnd > nameStart, nameEnd - nameStart <= 0xffff else { throw malformed("can't parse filename") }
        guard bytes.count - (nameEnd + 1) >= 20 else { throw malformed("can't parse OID") }
        return Entry(start: start, nameStart: nameStart, nameEnd: nameEnd, mode: normalised(mode))
    }

    private static func malformed(_ what: String) -> GitError {
        GitError(function: "git_odb_read", code: -1, errorClass: Int32(GIT_ERROR_TREE.rawValue),
                 message: "failed to parse tree: \(what)")
    }

    /// libgit2's `normalize_filemode`.
    @inline(__always)
    static func normalised(_ mode: UInt32) -> UInt32 {
        let type = mode & 0o170000
        if type == 0o040000 { return GIT_FILEMODE_TREE.rawValue }
        if mode & 0o100 != 0 { return GIT_FILEMODE_BLOB_EXECUTABLE.rawValue }  // GIT_PERMS_IS_EXEC: the owner's bit
        if type == 0o160000 { return GIT_FILEMODE_COMMIT.rawValue }
        if type == 0o120000 { return GIT_FILEMODE_LINK.rawValue }
        return GIT_FILEMODE_BLOB.rawValue
    }
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
    struct TreePair: Hashable {
        let old: ObjectID?
        let new: ObjectID
    }

    static let fileModes: Set<UInt32> = [0o100644, 0o100755, 0o100664, 0o120000]

    /// One tree being compared: the new tree's bytes, the old one's at the same path (nil: none), how
    /// far each has been read, and the path's length before this tree's name was appended.
    struct Frame {
        let old: RawTree?
        let new: RawTree
        var i = 0, j = 0
        let mark: Int
    }

    /// The object database handle trees are read through (its cache is the repository's object cache).
    private var odb: RawTree.Database?

    /// Calls `emit` with each (blob, path) that `new` has and `old` has not. `old == nil` is the empty tree.
    /// Iterative (an explicit stack of frames, one path buffer), so a tree nested tens of thousands of
    /// levels deep costs memory in proportion to its depth and never overflows the thread's stack.
    /// Trees are compared as git stores them, entry bytes against entry bytes: an entry the old tree
    /// has unchanged (same mode, name and id: the same bytes) is passed over with one comparison,
    /// without building libgit2's parsed tree (its entry array and name lookups) for either side.
    func diff(old: ObjectID?, new: ObjectID, emit: (ObjectID, [UInt8]) -> Void) throws {
        let database = try odb ?? RawTree.Database(repo)
        odb = database
        try Self.diff(old: try old.map { try database.tree($0) }, new: try database.tree(new), read: database.tree,
                      path: &path, gitlinks: &gitlinks, repeatsSkipped: &repeatsSkipped, emit: emit)
    }

    /// The comparison itself, with subtrees from `read` (the object database, or a fuzzer's trees).
    static func diff(old: RawTree?, new: RawTree, read: (ObjectID) throws -> RawTree, path: inout [UInt8],
                     gitlinks: inout Int, repeatsSkipped: inout Int, emit: (ObjectID, [UInt8]) -> Void) throws {
        path.removeAll(keepingCapacity: true)
        var expansions: [TreePair: Int] = [:]
        var stack = [Frame(old: old, new: new, mark: 0)]
        while let top = stack.indices.last {
            let newBytes = stack[top].new.bytes
            let j = stack[top].j
            guard j < newBytes.count else {
                path.removeSubrange(stack[top].mark...)
                stack.removeLast()
                continue
            }
            let newEntry = try RawTree.entry(in: stack[top].new, at: j)
            stack[top].j = newEntry.end
            var oldEntry: RawTree.Entry? = nil
            if let oldTree = stack[top].old {
                let oldBytes = oldTree.bytes
                var i = stack[top].i
                // Unchanged: the old tree has the same bytes here (mode, name, its NUL and the id).
                if i + newEntry.length <= oldBytes.count,
                   memcmp(oldBytes.baseAddress! + i, newBytes.baseAddress! + j, newEntry.length) == 0 {  // Safe: both in bounds, non-empty.
                    stack[top].i = i + newEntry.length
                    continue
                }
                while i < oldBytes.count {
                    let candidate = try RawTree.entry(in: oldTree, at: i)
                    let order = compare(candidate.name(in: oldBytes), candidate.isTree, newEntry.name(in: newBytes), newEntry.isTree)
                    if order < 0 { i = candidate.end; continue }  // only in old: removed, nothing to scan
                    if order == 0 { oldEntry = candidate; i = candidate.end }
                    break
                }
                stack[top].i = i
                // The same id is the same content only as the same kind: a submodule link and a file may
                // name the same id (a crafted tree), and the file's blob was never scanned as a link.
                if let oldEntry, oldEntry.id(in: oldBytes) == newEntry.id(in: newBytes),
                   (oldEntry.mode == GIT_FILEMODE_COMMIT.rawValue) == (newEntry.mode == GIT_FILEMODE_COMMIT.rawValue) { continue }
            }
            let id = newEntry.id(in: newBytes)
            let mark = path.count
            if mark > 0 { path.append(0x2f) }
            path.append(contentsOf: newEntry.name(in: newBytes))
            if newEntry.isTree {
                let oldID = oldEntry.map { $0.id(in: stack[top].old!.bytes) }  // Safe: an old entry comes from an old tree.
                let pair = TreePair(old: oldID, new: id)
                let seen = expansions[pair, default: 0]
                if seen >= maxRepeats {
                    repeatsSkipped += 1
                    path.removeSubrange(mark...)
                    continue
                }
                expansions[pair] = seen + 1
                let sub = try read(id)
                let oldSub = try oldID.map { try read($0) }
                stack.append(Frame(old: oldSub, new: sub, mark: mark))
                continue  // the frame removes its name from the path when it is done
            }
            if newEntry.mode == GIT_FILEMODE_COMMIT.rawValue {
                gitlinks += 1
            } else if fileModes.contains(newEntry.mode) {
                emit(id, path)
            }
            path.removeSubrange(mark...)
        }
    }

    /// git's tree order for raw names (no NUL inside), a tree's name as if it ended in '/'.
    @inline(__always)
    static func compare(_ a: UnsafeRawBufferPointer, _ aTree: Bool, _ b: UnsafeRawBufferPointer, _ bTree: Bool) -> Int {
        let common = min(a.count, b.count)
        if common > 0 {
            let order = memcmp(a.baseAddress!, b.baseAddress!, common)  // Safe: both non-empty.
            if order != 0 { return order < 0 ? -1 : 1 }
        }
        let ca: UInt8 = a.count > common ? a[common] : (aTree ? 0x2f : 0)
        let cb: UInt8 = b.count > common ? b[common] : (bTree ? 0x2f : 0)
        if ca != cb { return ca < cb ? -1 : 1 }
        // Equal so far: one name is a prefix of the other ending where '/' was compared, or both end.
        if a.count == b.count { return 0 }
        return a.count < b.count ? -1 : 1
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
