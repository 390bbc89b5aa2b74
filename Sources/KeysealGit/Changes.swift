import CGit2
import Foundation

/// A blob that a change adds at a path, with the line ranges (1-based, inclusive) the change added to
/// it. Only findings on those lines count for hooks: a secret already in the parent is not the
/// change's doing.
public struct AddedContent: Sendable {
    public let blob: ObjectID
    public let path: [UInt8]
    public let addedLines: [ClosedRange<Int>]
    /// The commit that adds it; nil for staged content.
    public let commit: ObjectID?

    public func isAdded(line: Int) -> Bool { addedLines.contains { $0.contains(line) } }
}

/// A diff handle owned for as long as this value lives.
final class Diff {
    let handle: OpaquePointer
    init(_ handle: OpaquePointer) { self.handle = handle }
    deinit { git_diff_free(handle) }

    /// Pairs renamed files with their old content, so a rename adds only the lines it changed.
    func findRenames() throws {
        var options = git_diff_find_options()
        try check(git_diff_find_options_init(&options, UInt32(GIT_DIFF_FIND_OPTIONS_VERSION)), "git_diff_find_options_init")
        options.flags = GIT_DIFF_FIND_RENAMES.rawValue
        try check(git_diff_find_similar(handle, &options), "git_diff_find_similar")
    }

    /// Added or modified files with the line ranges added (zero context lines, so each hunk's new
    /// side is one contiguous run of added lines).
    func addedContent(commit: ObjectID?) throws -> [AddedContent] {
        var result: [AddedContent] = []
        let count = git_diff_num_deltas(handle)
        for index in 0..<count {
            // Safe: the index is below git_diff_num_deltas.
            let delta = git_diff_get_delta(handle, index)!.pointee
            guard [GIT_DELTA_ADDED, GIT_DELTA_MODIFIED, GIT_DELTA_RENAMED, GIT_DELTA_COPIED, GIT_DELTA_TYPECHANGE]
                .contains(delta.status) else { continue }
            let mode = UInt32(delta.new_file.mode)
            guard TreeDiffer.fileModes.contains(mode) else { continue }
            var patch: OpaquePointer?
            try check(git_patch_from_diff(&patch, handle, index), "git_patch_from_diff")
            defer { git_patch_free(patch) }
            var ranges: [ClosedRange<Int>] = []
            if let patch {
                for hunkIndex in 0..<git_patch_num_hunks(patch) {
                    var hunk: UnsafePointer<git_diff_hunk>?
                    var lines = 0
                    try check(git_patch_get_hunk(&hunk, &lines, patch, hunkIndex), "git_patch_get_hunk")
                    guard let hunk, hunk.pointee.new_lines > 0 else { continue }
                    let start = Int(hunk.pointee.new_start)
                    ranges.append(start...(start + Int(hunk.pointee.new_lines) - 1))
                }
            } else if delta.status == GIT_DELTA_ADDED {
                // libgit2 makes no patch for content it takes as binary: all of it is new.
                ranges = [1...Int.max]
            }
            if ranges.isEmpty, let patch, let patched = git_patch_get_delta(patch),
               patched.pointee.flags & UInt32(GIT_DIFF_FLAG_BINARY.rawValue) != 0 {
                // A binary patch has no hunks: the whole file is part of the change.
                ranges = [1...Int.max]
            }
            guard !ranges.isEmpty else { continue }
            let path = Array(String(cString: delta.new_file.path).utf8)
            result.append(AddedContent(blob: ObjectID(delta.new_file.id), path: path, addedLines: ranges, commit: commit))
        }
        return result
    }

    /// Every added, modified or retyped file as wholly added: no patch, so no blob is read.
    func changedFiles(commit: ObjectID?) -> [AddedContent] {
        var result: [AddedContent] = []
        let count = git_diff_num_deltas(handle)
        for index in 0..<count {
            // Safe: the index is below git_diff_num_deltas.
            let delta = git_diff_get_delta(handle, index)!.pointee
            guard [GIT_DELTA_ADDED, GIT_DELTA_MODIFIED, GIT_DELTA_TYPECHANGE].contains(delta.status),
                  TreeDiffer.fileModes.contains(UInt32(delta.new_file.mode)) else { continue }
            let path = Array(String(cString: delta.new_file.path).utf8)
            result.append(AddedContent(blob: ObjectID(delta.new_file.id), path: path, addedLines: [1...Int.max], commit: commit))
        }
        return result
    }

    static func options() throws -> git_diff_options {
        var options = git_diff_options()
        try check(git_diff_options_init(&options, UInt32(GIT_DIFF_OPTIONS_VERSION)), "git_diff_options_init")
        options.context_lines = 0
        options.interhunk_lines = 0
        // Submodules are gitlinks here: never look into their work trees.
        options.ignore_submodules = GIT_SUBMODULE_IGNORE_ALL
        return options
    }
}

/// How many levels trees nest (a tree holding only files is 1) and how many entries they expand to,
/// remembered by tree id: a commit's trees share most subtrees with its parent's, so checking a run
/// of commits costs about one walk.
public final class TreeHeights {
    let repo: Repository
    private var known: [ObjectID: (height: Int, entries: Int)] = [:]

    public init(_ repo: Repository) { self.repo = repo }

    /// libgit2's diff expands every path of a tree: a tree bomb (each level naming the same subtree
    /// twice) of 40 levels has 2^40. No checkout of a real repository comes near this many entries.
    public static let entryLimit = 1 << 22

    /// Whether `tree` nests more than `limit` levels or expands to more than `entryLimit` entries.
    /// Iterative, linear in the number of distinct trees, and it stops once `limit` is passed.
    func exceeds(_ tree: ObjectID, limit: Int) throws -> Bool {
        func over(_ facts: (height: Int, entries: Int)) -> Bool { facts.height > limit || facts.entries > Self.entryLimit }
        if let facts = known[tree] { return over(facts) }
        var stack: [(tree: Tree, id: ObjectID, next: Int, tallest: Int, entries: Int)] = [(try Tree(repo, tree), tree, 0, 0, 0)]
        while let top = stack.indices.last {
            if stack.count > limit { return true }
            let handle = stack[top].tree.handle
            guard stack[top].next < git_tree_entrycount(handle) else {
                let done = stack.removeLast()
                known[done.id] = (done.tallest + 1, done.entries)
                if let parent = stack.indices.last {
                    stack[parent].tallest = max(stack[parent].tallest, done.tallest + 1)
                    stack[parent].entries = min(stack[parent].entries + done.entries, Int.max / 2)
                }
                continue
            }
            // Safe: the index is below the entry count.
            let entry = git_tree_entry_byindex(handle, stack[top].next)!
            stack[top].next += 1
            stack[top].entries = min(stack[top].entries + 1, Int.max / 2)
            guard git_tree_entry_filemode(entry).rawValue == GIT_FILEMODE_TREE.rawValue else { continue }
            let id = ObjectID(git_tree_entry_id(entry))
            if let facts = known[id] {
                stack[top].tallest = max(stack[top].tallest, facts.height)
                stack[top].entries = min(stack[top].entries + facts.entries, Int.max / 2)
            } else {
                stack.append((try Tree(repo, id), id, 0, 0, 0))
            }
        }
        return known[tree].map(over) ?? false
    }
}

extension Repository {
    /// libgit2's diff descends into every tree of both sides (identical ones too) and keeps a copy of
    /// the path for each level: memory in the square of the depth (7 GB for a tree 60,000 levels
    /// deep). Hooks hand it no tree deeper than this; no real repository comes near it.
    public static let diffDepthLimit = 1024

    /// What `git commit` would record: the index against HEAD (the empty tree on an unborn branch).
    /// `git commit -a` and `git commit PATHS` stage into a temporary index named by GIT_INDEX_FILE
    /// while hooks run; that one is read when it is set.
    /// The index git would commit: `GIT_INDEX_FILE` when set (git sets it for hooks of
    /// `git commit -a` and partial commits), else the repository's. The caller frees it.
    private func openIndex() throws -> OpaquePointer {
        var index: OpaquePointer?
        if let file = getenv("GIT_INDEX_FILE").map({ String(cString: $0) }), !file.isEmpty {
            let path = file.hasPrefix("/") ? file : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(file)
            try check(git_index_open(&index, path), "git_index_open")
            do {
                try check(git_index_read(index, 1), "git_index_read")
            } catch {
                git_index_free(index)
                throw error
            }
        } else {
            try check(git_repository_index(&index, handle), "git_repository_index")
        }
        return index!  // Safe: success sets the out pointer.
    }

    /// The staged version of each of `paths` (relative to the work tree's root), whole: every line
    /// counts as added. Paths the index does not hold come back in `missing`.
    public func indexContent(paths: [String]) throws -> (content: [AddedContent], missing: [String]) {
        let index = try openIndex()
        defer { git_index_free(index) }
        var content: [AddedContent] = []
        var missing: [String] = []
        for path in paths {
            var relative = path
            while relative.hasPrefix("./") { relative.removeFirst(2) }
            guard let entry = git_index_get_bypath(index, relative, 0) else {
                missing.append(path)
                continue
            }
            content.append(AddedContent(blob: ObjectID(entry.pointee.id), path: Array(relative.utf8), addedLines: [1...Int.max], commit: nil))
        }
        return (content, missing)
    }

    public func stagedContent() throws -> [AddedContent] {
        let index = try openIndex()
        defer { git_index_free(index) }
        let headTree = try headCommit().map { try commit($0).tree }
        if let headTree, try TreeHeights(self).exceeds(headTree, limit: Self.diffDepthLimit) {
            throw GitError(function: "keyseal staged", code: -1,
                           message: "HEAD's tree \(headTree.hex) nests more than \(Self.diffDepthLimit) levels deep or expands to more than \(TreeHeights.entryLimit) entries; keyseal staged does not diff such a tree (keyseal scan reads it)")
        }
        let head = try headTree.map { try Tree(self, $0) }
        var options = try Diff.options()
        var raw: OpaquePointer?
        try check(git_diff_tree_to_index(&raw, handle, head?.handle, index, &options), "git_diff_tree_to_index")
        let diff = Diff(raw!)  // Safe: success sets the out pointer.
        try diff.findRenames()
        return try diff.addedContent(commit: nil)
    }

    /// What a commit adds relative to its parents. For a merge, a line counts only if it is new
    /// relative to every parent (a conflict resolution or an evil merge), not what a side branch brought.
    /// Where a tree on either side nests deeper than `diffDepthLimit`, the commit is compared by
    /// `TreeDiffer` instead (iterative), and each file it changes counts as wholly added.
    /// `heights`: shared over the commits of one push, so each tree is measured once.
    public func addedContent(of commitID: ObjectID, treatAsRoot: Bool = false,
                             heights: TreeHeights? = nil) throws -> [AddedContent] {
        let info = try commit(commitID)
        let parents = treatAsRoot ? [] : info.parents
        let parentTrees = try parents.map { try commit($0).tree }
        let heights = heights ?? TreeHeights(self)
        if try ([info.tree] + parentTrees).contains(where: { try heights.exceeds($0, limit: Self.diffDepthLimit) }) {
            let differ = TreeDiffer(repo: self)
            var perParent: [[AddedContent]] = []
            for parentTree in parentTrees.isEmpty ? [nil] : parentTrees.map(Optional.some) {
                var added: [AddedContent] = []
                try differ.diff(old: parentTree, new: info.tree) {
                    added.append(AddedContent(blob: $0, path: $1, addedLines: [1...Int.max], commit: commitID))
                }
                perParent.append(added)
            }
            return Self.common(perParent, commit: commitID)
        }
        return try Self.common(diffs(info.tree, against: parentTrees) { diff in
            try diff.findRenames()
            return try diff.addedContent(commit: commitID)
        }, commit: commitID)
    }

    /// `body` applied to the tree diff of `tree` against each parent tree (against an empty tree
    /// for a root), in parent order.
    private func diffs(_ tree: ObjectID, against parentTrees: [ObjectID],
                       _ body: (Diff) throws -> [AddedContent]) throws -> [[AddedContent]] {
        let new = try Tree(self, tree)
        return try (parentTrees.isEmpty ? [nil] : parentTrees.map(Optional.some)).map { parent in
            let old = try parent.map { try Tree(self, $0) }
            var options = try Diff.options()
            var raw: OpaquePointer?
            try check(git_diff_tree_to_tree(&raw, handle, old?.handle, new.handle, &options), "git_diff_tree_to_tree")
            return try body(Diff(raw!))  // Safe: success sets the out pointer.
        }
    }

    /// The files a commit changes relative to every parent, each as wholly added: a tree comparison
    /// only, with no rename detection and no line diff. A superset of what `addedContent(of:)` gives
    /// (a path with lines new to every parent differs from every parent), so a hook can scan these
    /// blobs first and diff line by line only the commits whose blobs hold a match.
    public func changedFiles(of commitID: ObjectID, treatAsRoot: Bool = false, heights: TreeHeights? = nil) throws -> [AddedContent] {
        let info = try commit(commitID)
        let parentTrees = try (treatAsRoot ? [] : info.parents).map { try commit($0).tree }
        let heights = heights ?? TreeHeights(self)
        if try ([info.tree] + parentTrees).contains(where: { try heights.exceeds($0, limit: Self.diffDepthLimit) }) {
            return try addedContent(of: commitID, treatAsRoot: treatAsRoot, heights: heights)
        }
        return Self.common(try diffs(info.tree, against: parentTrees) { $0.changedFiles(commit: commitID) }, commit: commitID)
    }

    /// What every parent's comparison added: for a merge, per path, the lines added relative to all.
    static func common(_ perParent: [[AddedContent]], commit commitID: ObjectID) -> [AddedContent] {
        guard perParent.count > 1 else { return perParent.first ?? [] }
        // Intersect: keep, per path, the lines added relative to every parent.
        var result: [AddedContent] = []
        for candidate in perParent[0] {
            var ranges = candidate.addedLines
            for other in perParent.dropFirst() {
                guard let match = other.first(where: { $0.path == candidate.path }) else { ranges = []; break }
                ranges = Self.intersect(ranges, match.addedLines)
                if ranges.isEmpty { break }
            }
            if !ranges.isEmpty {
                result.append(AddedContent(blob: candidate.blob, path: candidate.path, addedLines: ranges, commit: commitID))
            }
        }
        return result
    }

    static func intersect(_ a: [ClosedRange<Int>], _ b: [ClosedRange<Int>]) -> [ClosedRange<Int>] {
        var out: [ClosedRange<Int>] = []
        for x in a {
            for y in b where x.overlaps(y) {
                out.append(max(x.lowerBound, y.lowerBound)...min(x.upperBound, y.upperBound))
            }
        }
        return out
    }

    /// Commits reachable from `tip` and from none of `hidden` nor of the refs matching `hiddenGlobs`,
    /// oldest first. libgit2's revision walk stops once the hidden side is settled, so a push of a
    /// few commits costs a few commits, not the whole history.
    public func commits(from tip: ObjectID, hiding hidden: [ObjectID], hidingGlobs: [String]) throws -> [ObjectID] {
        var walk: OpaquePointer?
        try check(git_revwalk_new(&walk, handle), "git_revwalk_new")
        defer { git_revwalk_free(walk) }
        try check(git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL.rawValue | GIT_SORT_REVERSE.rawValue), "git_revwalk_sorting")
        var oid = tip.gitOID
        let status = git_revwalk_push(walk, &oid)
        if status < 0 { throw objectError(status, "git_revwalk_push", "commit", tip) }
        for id in hidden {
            var hide = id.gitOID
            // A remote id this clone has never seen cannot be hidden, and needs not be.
            if git_revwalk_hide(walk, &hide) < 0 { git_error_clear() }
        }
        for glob in hidingGlobs where git_revwalk_hide_glob(walk, glob) < 0 { git_error_clear() }
        var result: [ObjectID] = []
        var next = git_oid()
        while true {
            let step = git_revwalk_next(&next, walk)
            if step == GIT_ITEROVER.rawValue { break }
            try check(step, "git_revwalk_next")
            result.append(ObjectID(next))
        }
        return result
    }

    /// The folder git runs hooks from: `core.hooksPath` when set (relative to the work tree), else
    /// `hooks` in the git directory.
    public func hooksDirectory() throws -> String {
        var config: OpaquePointer?
        try check(git_repository_config_snapshot(&config, handle), "git_repository_config_snapshot")
        defer { git_config_free(config) }
        var value: UnsafePointer<CChar>?
        if git_config_get_string(&value, config, "core.hooksPath") == 0, let value {
            let path = (String(cString: value) as NSString).expandingTildeInPath
            if path.hasPrefix("/") { return path }
            return ((workDirectory ?? gitDirectory) as NSString).appendingPathComponent(path)
        }
        git_error_clear()
        return (commonDirectory as NSString).appendingPathComponent("hooks")
    }

    /// The blob's bytes, for a caller that reads a handful (hooks).
    public func withBlob<T>(_ id: ObjectID, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        try ObjectDatabase(self).withBlob(id, body)
    }

    /// The blob's size; a blob the database lacks is an error here (a hook never passes what it
    /// could not read).
    public func blobSize(_ id: ObjectID) throws -> Int {
        guard let size = try ObjectDatabase(self).size(of: id) else {
            throw objectError(GIT_ENOTFOUND.rawValue, "git_odb_read_header", "blob", id)
        }
        return size
    }
}

extension Repository {
    /// The first line of a commit's message.
    public func subject(of id: ObjectID) throws -> String {
        try withCommit(id) { git_commit_summary($0).map { String(cString: $0) } ?? "" }
    }
}
