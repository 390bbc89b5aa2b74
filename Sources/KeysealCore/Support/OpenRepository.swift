import KeysealGit

extension Repository {
    /// Opens the repository at (or above) `path` with keyseal's read settings (libgit2's re-hash of
    /// every object read only when `verifyHashes`). Every command that reads a repository opens it here.
    static func open(_ path: String, verifyHashes: Bool = false) throws -> Repository {
        do {
            try Repository.configureReading(verifyHashes: verifyHashes)
            let repository = try Repository(discovering: path)
            try repository.sizePackWindows()
            return repository
        } catch let error as GitError {
            throw KeysealError.repository(error)
        }
    }

    /// Opens the repository a server-side hook runs in, quarantined objects included.
    static func openForHook(verifyHashes: Bool = false) throws -> Repository {
        do {
            try Repository.configureReading(verifyHashes: verifyHashes)
            return try Repository(fromEnvironment: ())
        } catch let error as GitError {
            throw KeysealError.repository(error)
        }
    }
}
