import CGit2
import Dispatch
import Foundation
import Synchronization

/// What to walk: every ref, or given tips, minus everything reachable from `hide`.
public struct HistoryRange: Sendable {
    public var tips: [RefTip]
    public var hide: [ObjectID]
    /// Commits already walked (by an earlier scan): not walked again, though their trees still serve
    /// as the parents of new commits. Their ancestors are taken as walked too.
    public var known: Set<ObjectID>
    public init(tips: [RefTip], hide: [ObjectID] = [], known: Set<ObjectID> = []) {
        self.tips = tips
        self.hide = hide
        self.known = known
    }
}

/// One place a blob stands: at path `path` (index into `HistoryIndex.paths`), first brought there by
/// commit `commit` (index into `HistoryIndex.commits`).
public struct BlobPlacement: Sendable, Hashable {
    public let path: Int32
    public let commit: Int32
}

/// Every blob the walked commits introduce, each once, with every path it was introduced at and
/// the earliest commit (commit time, then topological order) that introduced it there.
public struct HistoryIndex: Sendable {
    /// Walked commits, parents before children.
    public let commits: [CommitInfo]
    public let paths: [[UInt8]]
    public let blobs: [ObjectID]
    public let placements: [[BlobPlacement]]
    public let gitlinks: Int
    /// Subtrees not expanded again because one commit repeats them more than `TreeDiffer.maxRepeats`
    /// times (a tree bomb): their blobs were scanned, and are reported at their first paths.
    public var repeatedSubtrees = 0
    public static let maxSubtreeRepeats = TreeDiffer.maxRepeats
    /// Commits whose parents this (shallow) clone does not have; they were compared with the empty tree.
    public let shallowBoundary: [ObjectID]
}

/// Collects errors from worker threads; the first one wins.
final class FirstError: Sendable {
    private let storage = Mutex<Error?>(nil)
    func record(_ error: Error) { storage.withLock { if $0 == nil { $0 = error } } }
    var error: Error? { storage.withLock { $0 } }
}

public enum HistoryWalker {
    /// Walks the commits in `range` and diffs each against its parents on `threads` threads.
    /// `readPacks`: commits stored whole are read from the pack files here (`PackObjects`); false
    /// when every object read must be checked against its id. `trace` hears when each step of the
    /// walk ends (for KEYSEAL_TRACE).
    public static func index(repository: Repository, range: HistoryRange, threads: Int, readPacks: Bool = false,
                             progress: ScanProgress? = nil, trace: ((String) -> Void)? = nil) throws -> HistoryIndex {
        let shallow = repository.shallowBoundary()
        let hidden = try ancestors(of: range.hide, repository: repository, shallow: shallow).union(range.known)
        let (commits, boundary) = try collect(range.tips.map(\.commit), hidden: hidden, repository: repository,
                                              shallow: shallow, packs: readPacks ? PackObjects(repository: repository) : nil)
        progress?.commitsTotal.store(commits.count, ordering: .relaxed)
        trace?("walk: \(commits.count) commits read and ordered")
        let position: [ObjectID: Int32] = Dictionary(
            uniqueKeysWithValues: commits.enumerated().map { ($0.element.id, Int32($0.offset)) })

        // Diff commits in contiguous batches (neighbours share trees in libgit2's object cache).
        let workers = max(1, min(threads, commits.count))
        let batch = 64
        let next = Atomic<Int>(0)
        let failure = FirstError()
        let results = Mutex<[WorkerIntroductions]>([])
        let gitDirectory = repository.gitDirectory
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            do {
                let repo = try Repository(gitDirectory: gitDirectory)
                let differ = TreeDiffer(repo: repo)
                var out = WorkerIntroductions()
                while failure.error == nil {
                    let start = next.add(batch, ordering: .relaxed).oldValue
                    if start >= commits.count { break }
                    for index in start..<min(start + batch, commits.count) {
                        try introduce(commits[index], index: Int32(index), differ: differ, boundary: boundary,
                                      position: position, commits: commits, into: &out)
                    }
                    progress?.commitsWalked.add(min(batch, commits.count - start), ordering: .relaxed)
                }
                out.gitlinks = differ.gitlinks
                out.repeatedSubtrees = differ.repeatsSkipped
                let finished = out
                results.withLock { $0.append(finished) }
            } catch {
                failure.record(error)
            }
        }
        if let error = failure.error { throw error }
        trace?("walk: trees compared")
        return merge(results.withLock { $0 }, commits: commits, boundary: boundary)
    }

    /// Commits reachable from `starts` (each loaded once). Missing parents of shallow commits end the walk there.
    private static func collect(_ starts: [ObjectID], hidden: Set<ObjectID>, repository: Repository,
                                shallow: Set<ObjectID>, packs: PackObjects?) throws -> ([CommitInfo], Set<ObjectID>) {
        var loaded: [ObjectID: CommitInfo] = [:]
        var boundary: Set<ObjectID> = []
        var stack = starts.filter { !hidden.contains($0) }
        let odb = try repository.objectDatabase()
        defer { git_odb_free(odb) }
        while let id = stack.popLast() {
            if loaded[id] != nil { continue }
            let info = try repository.commitForWalk(id, odb: odb, packs: packs)
            loaded[id] = info
            if shallow.contains(id) { boundary.insert(id); continue }
            for parent in info.parents where loaded[parent] == nil && !hidden.contains(parent) {
                stack.append(parent)
            }
        }
        // Topological order, parents first: iterative depth-first post-order.
        var order: [CommitInfo] = []
        order.reserveCapacity(loaded.count)
        var state: [ObjectID: UInt8] = [:]  // 1 = open, 2 = done
        for start in starts.sorted() where loaded[start] != nil {
            var frames: [(ObjectID, Int)] = [(start, 0)]
            while case (let id, var next)? = frames.popLast() {
                if next == 0 {
                    if state[id] != nil { continue }
                    state[id] = 1
                }
                // Safe: only ids present in `loaded` are ever pushed.
                let info = loaded[id]!
                let parents = boundary.contains(id) ? [] : info.parents
                var pushed = false
                while next < parents.count {
                    let parent = parents[next]
                    next += 1
                    if loaded[parent] != nil && state[parent] == nil {
                        frames.append((id, next))
                        frames.append((parent, 0))
                        pushed = true
                        break
                    }
                }
                if !pushed {
                    state[id] = 2
                    order.append(info)
                }
            }
        }
        return (order, boundary)
    }

    /// Every commit reachable from `starts`, for `--since-commit`.
    private static func ancestors(of starts: [ObjectID], repository: Repository,
                                  shallow: Set<ObjectID>) throws -> Set<ObjectID> {
        var seen: Set<ObjectID> = []
        var stack = starts
        while let id = stack.popLast() {
            guard seen.insert(id).inserted, !shallow.contains(id) else { continue }
            stack.append(contentsOf: try repository.commit(id).parents)
        }
        return seen
    }

    private static func introduce(_ commit: CommitInfo, index: Int32, differ: TreeDiffer, boundary: Set<ObjectID>,
                                  position: [ObjectID: Int32], commits: [CommitInfo],
                                  into out: inout WorkerIntroductions) throws {
        let parents = boundary.contains(commit.id) ? [] : commit.parents
        func parentTree(_ id: ObjectID) throws -> ObjectID {
            if let at = position[id] { return commits[Int(at)].tree }
            return try differ.repo.commit(id).tree  // a hidden parent (outside the range)
        }
        if parents.count <= 1 {
            let old = try parents.first.map(parentTree)
            try differ.diff(old: old, new: commit.tree) { blob, path in out.add(blob, path, index) }
            return
        }
        // A merge introduces only what differs from every parent (a conflict resolution, an evil merge).
        var candidates: [(ObjectID, [UInt8])] = []
        try differ.diff(old: try parentTree(parents[0]), new: commit.tree) { candidates.append(($0, $1)) }
        for parent in parents.dropFirst() where !candidates.isEmpty {
            let tree = try parentTree(parent)
            candidates = try candidates.filter { try differ.entryID(in: tree, path: $0.1) != $0.0 }
        }
        for (blob, path) in candidates { out.add(blob, path, index) }
    }

    private static func merge(_ parts: [WorkerIntroductions], commits: [CommitInfo],
                              boundary: Set<ObjectID>) -> HistoryIndex {
        var pathIndex: [[UInt8]: Int32] = [:]
        var paths: [[UInt8]] = []
        var blobIndex: [ObjectID: Int32] = [:]
        var blobs: [ObjectID] = []
        var earliest: [UInt64: Int32] = [:]  // (blob << 32 | path) -> commit
        var gitlinks = 0, repeatedSubtrees = 0
        func earlier(_ a: Int32, _ b: Int32) -> Bool {
            let ta = commits[Int(a)].time, tb = commits[Int(b)].time
            return ta != tb ? ta < tb : a < b
        }
        for part in parts {
            gitlinks += part.gitlinks
            repeatedSubtrees += part.repeatedSubtrees
            let localToGlobal: [Int32] = part.paths.map { path in
                if let known = pathIndex[path] { return known }
                let id = Int32(paths.count)
                paths.append(path)
                pathIndex[path] = id
                return id
            }
            for k in 0..<part.blobs.count {
                let blob = part.blobs[k]
                let b: Int32
                if let known = blobIndex[blob] {
                    b = known
                } else {
                    b = Int32(blobs.count)
                    blobs.append(blob)
                    blobIndex[blob] = b
                }
                let key = UInt64(UInt32(b)) << 32 | UInt64(UInt32(localToGlobal[Int(part.pathOf[k])]))
                let commit = part.commitOf[k]
                if let current = earliest[key], !earlier(commit, current) { continue }
                earliest[key] = commit
            }
        }
        var placements = [[BlobPlacement]](repeating: [], count: blobs.count)
        for (key, commit) in earliest {
            placements[Int(key >> 32)].append(BlobPlacement(path: Int32(truncatingIfNeeded: key & 0xffff_ffff), commit: commit))
        }
        for i in placements.indices where placements[i].count > 1 {
            placements[i].sort { earlier($0.commit, $1.commit) || ($0.commit == $1.commit && $0.path < $1.path) }
        }
        var index = HistoryIndex(commits: commits, paths: paths, blobs: blobs, placements: placements,
                                 gitlinks: gitlinks, shallowBoundary: boundary.sorted())
        index.repeatedSubtrees = repeatedSubtrees
        return index
    }
}

/// One worker's introductions, with its own path table (merged once at the end).
struct WorkerIntroductions {
    var paths: [[UInt8]] = []
    var pathIndex: [[UInt8]: Int32] = [:]
    var blobs: [ObjectID] = []
    var pathOf: [Int32] = []
    var commitOf: [Int32] = []
    var gitlinks = 0
    var repeatedSubtrees = 0

    mutating func add(_ blob: ObjectID, _ path: [UInt8], _ commit: Int32) {
        let local: Int32
        if let known = pathIndex[path] {
            local = known
        } else {
            local = Int32(paths.count)
            paths.append(path)
            pathIndex[path] = local
        }
        blobs.append(blob)
        pathOf.append(local)
        commitOf.append(commit)
    }
}
