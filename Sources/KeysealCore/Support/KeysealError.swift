import KeysealGit

/// The failures keyseal's core raises itself. Failures of the layers below keep their own types as
/// they travel up: `GitError` (libgit2's class and code), `StoreError` (SQLite's result code),
/// `EngineError`, `ConfigError`. The executable turns any of them into one line and exit 2.
/// No message quotes scanned content.
public enum KeysealError: Error, Sendable {
    /// No repository at (or above) the path, or one libgit2 cannot open.
    case repository(GitError)
    /// A revision given to an option (`--since-commit`) names no commit.
    case revision(option: String, GitError)
    /// The command needs the findings store, and `--no-store` was given.
    case needsStore
    /// The command reads the store, and there is none yet.
    case noStore(path: String)
    /// An option's value cannot be used as given (`--exec` with an unbalanced quote).
    case usage(String)
    /// Input that is not what it must be: pre-push's standard input, a baseline file's contents.
    case invalidInput(String)
    /// A file or folder keyseal reads or writes (a baseline, a hook) could not be, or is in the way.
    case file(String)
    /// The slow fingerprint of a guessable secret could not be derived (the rule is named; the secret is not).
    case fingerprint(rule: String, reason: String)
    /// A container image that cannot be read as one (missing or altered blob, malformed JSON, a bad layer).
    case image(String)
}

extension KeysealError: CustomStringConvertible {
    /// One line (the store's ambiguous-prefix list aside) that says what failed and, where it can, what to do.
    public var description: String {
        switch self {
        case .repository(let error): return error.message
        case .revision(let option, let error): return "\(option): \(error.message)"
        case .needsStore: return "this command needs the store; drop --no-store"
        case .noStore(let path): return "no findings store at \(path) yet: run `keyseal scan` first"
        case .usage(let message), .invalidInput(let message), .file(let message): return message
        case .fingerprint(let rule, let reason): return "cannot derive the fingerprint of a \(rule) secret: \(reason)"
        case .image(let message): return message
        }
    }
}
