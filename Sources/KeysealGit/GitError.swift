import CGit2

/// A failure reported by libgit2 (with the C function that failed) or by the git layer itself.
public struct GitError: Error, CustomStringConvertible, Sendable {
    public let function: String
    public let code: Int32
    public let message: String

    public init(function: String, code: Int32, message: String) {
        self.function = function
        self.code = code
        self.message = message
    }

    public var isNotFound: Bool { code == GIT_ENOTFOUND.rawValue }

    public var description: String { "\(function): \(message)" }
}

/// Every libgit2 status goes through here: a negative status becomes a `GitError` carrying
/// `git_error_last()`'s text and the name of the C function that returned it.
@inline(__always)
func check(_ status: Int32, _ function: StaticString) throws {
    guard status < 0 else { return }
    throw lastError(status, function)
}

func lastError(_ status: Int32, _ function: StaticString) -> GitError {
    var message = "error \(status)"
    if let error = git_error_last(), let text = error.pointee.message {
        message = String(cString: text)
    }
    return GitError(function: "\(function)", code: status, message: message)
}

/// libgit2 must be initialised once per process before any call; the options are process-wide.
enum GitRuntime {
    static let initialised: Bool = {
        git_libgit2_init()
        return true
    }()
}
