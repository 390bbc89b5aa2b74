import CGit2
import CGitOptions
import Foundation

/// Who made a commit, and when (seconds since the epoch, with the author's UTC offset in minutes).
public struct Signature: Sendable, Hashable {
    public let name: String
    public let email: String
    public let time: Int64
    public let offsetMinutes: Int32
}

/// What the scanner needs to know about one commit.
public struct CommitInfo: Sendable {
    public let id: ObjectID
    public let tree: ObjectID
    public let parents: [ObjectID]
    public let time: Int64
}

/// A ref and the commit it peels to.
public struct RefTip: Sendable, Hashable {
    public let name: String
    public let commit: ObjectID
}

/// One open repository. Owns its `git_repository` handle and frees it in `deinit`.
/// Not thread-safe: each thread opens its own (libgit2 handles must not be shared across threads).
public final class Repository {
    let handle: OpaquePointer
    /// The path the repository was opened from, used to open more handles for other threads.
    public let gitDirectory: String
    public let workDirectory: String?
    /// Opened from the environment git gives a hook (quarantine included): other handles must be too.
    let fromEnvironment: Bool

    /// Opens the repository at `path` or in a folder above it, as git does.
    public init(discovering path: String) throws {
        _ = GitRuntime.initialised
        var repo: OpaquePointer?
        let status = git_repository_open_ext(&repo, path, 0, nil)
        // libgit2, like git since 2.35.2, refuses a repository another user owns (a mounted
        // checkout in a container, a CI workspace). 1.5 reports it as not found, with the failed
        // lookup of `safe.directory` as its message; later versions as GIT_EOWNER.
        let libgitMessage = status < 0 ? (git_error_last()?.pointee.message.map { String(cString: $0) } ?? "") : ""
        if status == GIT_EOWNER.rawValue || libgitMessage.contains("safe.directory") || libgitMessage.contains("not owned by current user") {
            throw GitError(function: "git_repository_open_ext", code: status,
                           message: "the repository at \(path) is owned by another user, and git (and libgit2) refuse to open such a repository until it is trusted: git config --global --add safe.directory '\(path)' (or run keyseal as the owner)")
        }
        if status == GIT_ENOTFOUND.rawValue {
            throw GitError(function: "git_repository_open_ext", code: status,
                           message: "not a git repository (or any parent up to /): \(path)")
        }
        try check(status, "git_repository_open_ext")
        // Safe: libgit2 returned success, which guarantees the out pointer is set.
        handle = repo!
        gitDirectory = String(cString: git_repository_path(handle))
        workDirectory = git_repository_workdir(handle).map { String(cString: $0) }
        fromEnvironment = false
    }

    /// Opens exactly the git directory another handle found (no search).
    public init(gitDirectory: String) throws {
        _ = GitRuntime.initialised
        var repo: OpaquePointer?
        try check(git_repository_open_ext(&repo, gitDirectory, UInt32(GIT_REPOSITORY_OPEN_NO_SEARCH.rawValue), nil),
                  "git_repository_open_ext")
        handle = repo!  // Safe: success sets the out pointer.
        self.gitDirectory = String(cString: git_repository_path(handle))
        workDirectory = git_repository_workdir(handle).map { String(cString: $0) }
        fromEnvironment = false
    }

    /// Opens the repository as git describes it to a hook: `GIT_DIR`, and in a pre-receive hook
    /// the quarantine (`GIT_OBJECT_DIRECTORY`, with the main object store in
    /// `GIT_ALTERNATE_OBJECT_DIRECTORIES`), so that objects a push brings are visible before git
    /// moves them in. Without `GIT_DIR`, the repository at or above the current folder.
    public init(fromEnvironment _: Void) throws {
        _ = GitRuntime.initialised
        var repo: OpaquePointer?
        try check(git_repository_open_ext(&repo, nil, UInt32(GIT_REPOSITORY_OPEN_FROM_ENV.rawValue), nil),
                  "git_repository_open_ext")
        handle = repo!  // Safe: success sets the out pointer.
        gitDirectory = String(cString: git_repository_path(handle))
        workDirectory = git_repository_workdir(handle).map { String(cString: $0) }
        fromEnvironment = true
    }

    /// Another handle on the same repository, for another thread, opened the same way (a hook's
    /// handle sees the quarantined objects of a push; a handle opened by path would not).
    public func anotherHandle() throws -> Repository {
        fromEnvironment ? try Repository(fromEnvironment: ()) : try Repository(gitDirectory: gitDirectory)
    }

    deinit { git_repository_free(handle) }

    public var isBare: Bool { git_repository_is_bare(handle) == 1 }
    public var isShallow: Bool { git_repository_is_shallow(handle) == 1 }
    public var isHeadDetached: Bool { git_repository_head_detached(handle) == 1 }
    public var commonDirectory: String { String(cString: git_repository_commondir(handle)) }

    /// Process-wide read settings. Skipping libgit2's re-hash of every object read is most of the
    /// read time (see shared/notes/performance.md); git itself does not re-hash on read either.
    public static func configureReading(verifyHashes: Bool) throws {
        _ = GitRuntime.initialised
        try check(keyseal_git_set_strict_hash_verification(verifyHashes ? 1 : 0), "git_libgit2_opts")
        // Memory, measured on redis.git (2.1 GiB of blobs): libgit2's defaults (256 MiB object cache,
        // 1 GiB pack windows) peaked at 330 MiB RSS; these settings peak near 170 MiB for the same time.
        try check(keyseal_git_set_cache_max_size(32 << 20), "git_libgit2_opts")
        try check(keyseal_git_set_mwindow_size(8 << 20), "git_libgit2_opts")
        try check(keyseal_git_set_mwindow_mapped_limit(16 << 20), "git_libgit2_opts")
        // libgit2 caches trees of up to 4 KiB only: a project's root and source folders are larger
        // and were read and parsed again for every commit that compares them.
        try check(keyseal_git_set_tree_cache_limit(1 << 20), "git_libgit2_opts")
    }

    /// `objects/pack` of a repository's common git directory.
    static func packFolder(commonDirectory: String) -> String {
        (commonDirectory as NSString).appendingPathComponent("objects/pack")
    }

    /// Sizes libgit2's pack windows and object cache to this repository's packs. Up to 256 MiB of
    /// packs: an eighth of their bytes mapped at most (16 MiB at least) in 1 MiB windows and 32 MiB
    /// of cache; larger:
    /// 96 MiB mapped and 112 MiB cached (the walk's trees and commits), shared out among the walk's
    /// handles, 32 MiB each at least. With 16 MiB of
    /// windows (two 8 MiB windows, shared by every thread) a large, deeply deltified pack thrashes:
    /// git.git scanned in 47 s, with 64 MiB in 37 s. Its history walk (318 MiB of pack) took 10.7 s
    /// with 64 MiB of windows and 32 MiB of cache, 6.8-7.5 s with 96 and 56 (peak RSS 245 against
    /// 320-326 MiB), 5.9 s with 96 and 64 (351 MiB: about half of the lowest peer's, too close).
    /// On redis.git (140 MiB) more of either costs more peak RSS than it saves time (64 MiB of
    /// cache: walk 1.0 against 1.1 s, RSS 242 against 184 MiB).
    public func sizePackWindows() throws {
        let folder = Self.packFolder(commonDirectory: commonDirectory)
        // readdir and stat: FileManager's attribute dictionaries cost a hook 0.3 ms here.
        var bytes: UInt64 = 0
        if let directory = opendir(folder) {
            defer { closedir(directory) }
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                guard name.hasSuffix(".pack") else { continue }
                var info = stat()
                if stat(folder + "/" + name, &info) == 0 { bytes += UInt64(max(info.st_size, 0)) }
            }
        }
        let large = bytes > 256 << 20
        try check(keyseal_git_set_mwindow_mapped_limit(large ? 96 << 20 : max(bytes / 8, 16 << 20)), "git_libgit2_opts")
        // Windows of 1 MiB under that limit, not 8: the walk reads trees from all over the pack, and
        // with two 8 MiB windows libgit2 unmapped one and mapped another 4,600 times in a redis scan
        // (each unmap a TLB shootdown on the other core). redis.git, medians of 7: walk 0.57 -> 0.34 s,
        // scan 1.93 -> 1.65 s, peak RSS 132 -> 133 MiB. A large pack's 96 MiB of windows thrash
        // little: git.git gained nothing from smaller ones and peaked 9 MiB higher, so it keeps 8 MiB.
        try check(keyseal_git_set_mwindow_size(large ? 8 << 20 : 1 << 20), "git_libgit2_opts")
        // The cap is each repository handle's, and the walk opens one per thread: 112 MiB shared
        // out (56 each on two cores), never less than the 32 MiB smaller repositories get.
        let threads = max(1, ProcessInfo.processInfo.activeProcessorCount)
        try check(keyseal_git_set_cache_max_size(large ? max(32 << 20, (112 << 20) / Int64(threads)) : 32 << 20), "git_libgit2_opts")
    }

    /// Every ref that peels to a commit, plus HEAD when it is detached. Refs that peel to a tree or
    /// blob are returned in `skipped`.
    public func tips() throws -> (tips: [RefTip], skipped: [String]) {
        var iterator: OpaquePointer?
        try check(git_reference_iterator_new(&iterator, handle), "git_reference_iterator_new")
        defer { git_reference_iterator_free(iterator) }
        var tips: [RefTip] = []
        var skipped: [String] = []
        while true {
            var ref: OpaquePointer?
            let status = git_reference_next(&ref, iterator)
            if status == GIT_ITEROVER.rawValue { break }
            try check(status, "git_reference_next")
            defer { git_reference_free(ref) }
            let name = String(cString: git_reference_name(ref))
            var object: OpaquePointer?
            let peeled = git_reference_peel(&object, ref, GIT_OBJECT_COMMIT)
            if peeled < 0 {
                // A symbolic ref to nothing, or a tag of a tree or blob: not history to walk. Anything
                // else (a commit libgit2 cannot read or parse, a missing object) stops the scan: a
                // branch passed over in silence would be history never scanned.
                let failure = lastError(peeled, "git_reference_peel")
                git_error_clear()
                let symbolic = git_reference_type(ref) == GIT_REFERENCE_SYMBOLIC
                if peeled == GIT_EPEEL.rawValue || peeled == GIT_EINVALIDSPEC.rawValue || (symbolic && peeled == GIT_ENOTFOUND.rawValue) {
                    skipped.append(name)
                    continue
                }
                throw GitError(function: failure.function, code: peeled, errorClass: failure.errorClass,
                               message: "cannot read the commit \(name) points to: \(failure.message)")
            }
            defer { git_object_free(object) }
            tips.append(RefTip(name: name, commit: ObjectID(git_object_id(object))))
        }
        if isHeadDetached, let head = try? resolveCommit("HEAD") {
            tips.append(RefTip(name: "HEAD", commit: head))
        }
        return (tips, skipped)
    }

    /// Resolves a revision expression (`v1.2`, `main~3`, an id) to a commit.
    public func resolveCommit(_ spec: String) throws -> ObjectID {
        var object: OpaquePointer?
        let status = git_revparse_single(&object, handle, spec)
        if status < 0 {
            let base = lastError(status, "git_revparse_single")
            throw GitError(function: base.function, code: status, errorClass: base.errorClass,
                           message: "unknown revision '\(spec)': \(base.message)")
        }
        defer { git_object_free(object) }
        var commit: OpaquePointer?
        try check(git_object_peel(&commit, object, GIT_OBJECT_COMMIT), "git_object_peel")
        defer { git_object_free(commit) }
        return ObjectID(git_object_id(commit))
    }

    /// The commit HEAD points at, or nil on an unborn branch.
    public func headCommit() throws -> ObjectID? {
        var ref: OpaquePointer?
        let status = git_repository_head(&ref, handle)
        if status == GIT_EUNBORNBRANCH.rawValue || status == GIT_ENOTFOUND.rawValue {
            git_error_clear()
            return nil
        }
        try check(status, "git_repository_head")
        defer { git_reference_free(ref) }
        var object: OpaquePointer?
        try check(git_reference_peel(&object, ref, GIT_OBJECT_COMMIT), "git_reference_peel")
        defer { git_object_free(object) }
        return ObjectID(git_object_id(object))
    }

    /// Commits listed in `.git/shallow`: their parents are not in this clone.
    public func shallowBoundary() -> Set<ObjectID> {
        let path = (commonDirectory as NSString).appendingPathComponent("shallow")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return Set(text.split(whereSeparator: \.isNewline).compactMap { ObjectID(hex: String($0)) })
    }

    /// Runs `body` with the commit's handle, freed right after.
    func withCommit<T>(_ id: ObjectID, _ body: (OpaquePointer) throws -> T) throws -> T {
        var oid = id.gitOID
        var commit: OpaquePointer?
        let status = git_commit_lookup(&commit, handle, &oid)
        if status < 0 { throw objectError(status, "git_commit_lookup", "commit", id) }
        defer { git_commit_free(commit) }
        return try body(commit!)  // Safe: success sets the out pointer.
    }

    public func commit(_ id: ObjectID) throws -> CommitInfo {
        try withCommit(id) { commit in
            let count = git_commit_parentcount(commit)
            var parents: [ObjectID] = []
            parents.reserveCapacity(Int(count))
            for index in 0..<count {
                parents.append(ObjectID(git_commit_parent_id(commit, index)))
            }
            return CommitInfo(id: id, tree: ObjectID(git_commit_tree_id(commit)), parents: parents,
                              time: Int64(git_commit_time(commit)))
        }
    }

    public func author(of id: ObjectID) throws -> Signature {
        try withCommit(id) { commit in
            // Safe: libgit2 documents git_commit_author as never NULL for a parsed commit.
            let sig = git_commit_author(commit)!.pointee
            return Signature(name: Self.lossyString(sig.name), email: Self.lossyString(sig.email),
                             time: Int64(sig.when.time), offsetMinutes: Int32(sig.when.offset))
        }
    }

    /// Names the missing or unreadable object in the error, so a corrupt repository says where.
    func objectError(_ status: Int32, _ function: StaticString, _ kind: String, _ id: ObjectID) -> GitError {
        let base = lastError(status, function)
        return GitError(function: base.function, code: status, errorClass: base.errorClass,
                        message: "cannot read \(kind) \(id.hex): \(base.message)")
    }

    static func lossyString(_ pointer: UnsafePointer<CChar>?) -> String {
        guard let pointer else { return "" }
        let length = strlen(pointer)
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }
}

extension Repository {
    /// The URL of the remote that names this repository: `origin` when it exists, else the first
    /// remote in name order; nil when there is none. The URL is as configured and may carry
    /// credentials: callers normalise it before showing or sending it.
    public func primaryRemoteURL() throws -> String? {
        var names = git_strarray()
        try check(git_remote_list(&names, handle), "git_remote_list")
        defer { git_strarray_dispose(&names) }
        var remotes: [String] = []
        for index in 0..<names.count {
            if let name = names.strings[index] { remotes.append(String(cString: name)) }
        }
        guard let chosen = remotes.contains("origin") ? "origin" : remotes.sorted().first else { return nil }
        // The URL as configured, not as `url.<base>.insteadOf` rewrites it for this machine's fetches:
        // a repository's name must be the same on every runner (a mirror is a transport detail).
        var config: OpaquePointer?
        try check(git_repository_config_snapshot(&config, handle), "git_repository_config_snapshot")
        defer { git_config_free(config) }
        var value: UnsafePointer<CChar>?
        let status = git_config_get_string(&value, config, "remote.\(chosen).url")
        // A remote named in config but without a url is not an error for naming purposes.
        if status == GIT_ENOTFOUND.rawValue { return nil }
        try check(status, "git_config_get_string")
        return value.map { String(cString: $0) }
    }
}
