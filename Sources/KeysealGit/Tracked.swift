import CGit2
import Foundation

/// A file tracked in a tree.
public struct TrackedFile: Sendable {
    public let path: String
    public let blob: ObjectID
    public let mode: UInt32
}

extension Repository {
    /// Every file in the tree of `revision` (default HEAD); empty on an unborn branch.
    public func trackedFiles(at revision: String? = nil) throws -> [TrackedFile] {
        let commitID: ObjectID
        if let revision {
            commitID = try resolveCommit(revision)
        } else if let head = try headCommit() {
            commitID = head
        } else {
            return []
        }
        // Depth first in tree order, with an explicit stack (a tree may nest tens of thousands of
        // levels) and one path buffer: each level keeps only where its name starts.
        var files: [TrackedFile] = []
        var path: [UInt8] = []
        // As in TreeDiffer: a subtree met more than `maxRepeats` times (a tree bomb) is not expanded again.
        var expansions: [ObjectID: Int] = [:]
        var stack: [(tree: Tree, next: Int, mark: Int)] = [(try Tree(self, try commit(commitID).tree), 0, 0)]
        while let top = stack.indices.last {
            let handle = stack[top].tree.handle
            guard stack[top].next < git_tree_entrycount(handle) else {
                path.removeSubrange(stack[top].mark...)
                stack.removeLast()
                continue
            }
            // Safe: the index is below the entry count.
            let entry = git_tree_entry_byindex(handle, stack[top].next)!
            stack[top].next += 1
            let mark = path.count
            if mark > 0 { path.append(0x2f) }
            path.append(contentsOf: UnsafeRawBufferPointer(start: git_tree_entry_name(entry), count: strlen(git_tree_entry_name(entry))))
            let mode = git_tree_entry_filemode(entry).rawValue
            let id = ObjectID(git_tree_entry_id(entry))
            if mode == GIT_FILEMODE_TREE.rawValue {
                let seen = expansions[id, default: 0]
                if seen < TreeDiffer.maxRepeats {
                    expansions[id] = seen + 1
                    stack.append((try Tree(self, id), 0, mark))
                    continue
                }
            }
            if TreeDiffer.fileModes.contains(mode) {
                files.append(TrackedFile(path: String(decoding: path, as: UTF8.self), blob: id, mode: mode))
            }
            path.removeSubrange(mark...)
        }
        return files
    }

    /// Entries of the repository's own config (`.git/config`, not the user's or the system's) whose
    /// names match `pattern` (a regular expression, as `git config --get-regexp`).
    public func configEntries(matching pattern: String) throws -> [(name: String, value: String)] {
        var config: OpaquePointer?
        try check(git_repository_config_snapshot(&config, handle), "git_repository_config_snapshot")
        defer { git_config_free(config) }
        var local: OpaquePointer?
        let status = git_config_open_level(&local, config, GIT_CONFIG_LEVEL_LOCAL)
        if status == GIT_ENOTFOUND.rawValue { git_error_clear(); return [] }
        try check(status, "git_config_open_level")
        defer { git_config_free(local) }
        var iterator: OpaquePointer?
        try check(git_config_iterator_glob_new(&iterator, local, pattern), "git_config_iterator_glob_new")
        defer { git_config_iterator_free(iterator) }
        var out: [(String, String)] = []
        var entry: UnsafeMutablePointer<git_config_entry>?
        while git_config_next(&entry, iterator) == 0, let entry {
            out.append((String(cString: entry.pointee.name), entry.pointee.value.map { String(cString: $0) } ?? ""))
        }
        git_error_clear()
        return out
    }

    /// Files in the work tree that git neither tracks nor ignores (one `git add .` away).
    public func untrackedFiles() throws -> [String] {
        guard workDirectory != nil else { return [] }
        var options = git_status_options()
        try check(git_status_options_init(&options, UInt32(GIT_STATUS_OPTIONS_VERSION)), "git_status_options_init")
        options.show = GIT_STATUS_SHOW_WORKDIR_ONLY
        options.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED.rawValue | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS.rawValue
        var list: OpaquePointer?
        try check(git_status_list_new(&list, handle, &options), "git_status_list_new")
        defer { git_status_list_free(list) }
        var out: [String] = []
        for index in 0..<git_status_list_entrycount(list) {
            guard let entry = git_status_byindex(list, index)?.pointee,
                  entry.status.rawValue & GIT_STATUS_WT_NEW.rawValue != 0,
                  let delta = entry.index_to_workdir else { continue }
            out.append(Repository.lossyString(delta.pointee.new_file.path))
        }
        return out
    }

    /// The bytes of a blob as text (lossy UTF-8), for the audit's small config files.
    public func text(of blob: ObjectID, limit: Int = 4 << 20) throws -> String? {
        guard try blobSize(blob) <= limit else { return nil }
        return try withBlob(blob) { bytes in
            bytes.contains(0) ? nil : String(decoding: bytes, as: UTF8.self)
        }
    }
}
