import CGit2

/// A failure reported by libgit2 (with the C function that failed) or by the git layer itself.
public struct GitError: Error, CustomStringConvertible, Sendable {
    public let function: String
    /// libgit2's return code (`git_error_code`: GIT_ENOTFOUND, GIT_ELOCKED…), or -1 for the git
    /// layer's own failures.
    public let code: Int32
    /// libgit2's error class (`git_error_t`: GIT_ERROR_ODB, GIT_ERROR_ZLIB…); 0 (GIT_ERROR_NONE)
    /// when libgit2 gave none or the git layer raised the error itself.
    public let errorClass: Int32
    public let message: String

    public init(function: String, code: Int32, errorClass: Int32 = 0, message: String) {
        self.function = function
        self.code = code
        self.errorClass = errorClass
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
    var errorClass: Int32 = 0
    if let error = git_error_last() {
        errorClass = error.pointee.klass
        if let text = error.pointee.message { message = String(cString: text) }
    }
    return GitError(function: "\(function)", code: status, errorClass: errorClass, message: message)
}

/// libgit2 must be initialised once per process before any call; the options are process-wide.
enum GitRuntime {
    static let initialised: Bool = {
        git_libgit2_init()
        return true
    }()
}
