import Foundation
import KeysealGit

/// The hook scripts `keyseal hooks install` writes. The same text is in the repository's `hooks/`
/// folder (a test keeps them identical), for teams that install hooks their own way.
public enum HookScript: String, CaseIterable, Sendable {
    case preCommit = "pre-commit"
    case prePush = "pre-push"
    /// The server's guard, in a bare repository (`keyseal hooks install --server`).
    case preReceive = "pre-receive"

    /// The hooks a developer's clone gets by default.
    public static let client: [HookScript] = [.preCommit, .prePush]

    /// Marks a hook file as keyseal's, so install and uninstall recognise their own work.
    static let marker = "# keyseal-hook v1"

    /// The whole script: the shared preamble, this hook's check, then the hook it replaced, if any.
    public var text: String {
        switch self {
        case .preCommit:
            return preamble + """
                "$keyseal" staged || exit $?
                \(chained(["exec \"$chained\" \"$@\""]))
                """
        case .prePush:
            return preamble + """
                # git writes the refs being pushed on standard input; both keyseal and a chained hook read them.
                updates="$(cat)"
                printf '%s\\n' "$updates" | "$keyseal" pre-push "$@" || exit $?
                \(chained(["printf '%s\\n' \"$updates\" | \"$chained\" \"$@\"", "exit $?"]))
                """
        case .preReceive:
            return preamble + """
                # git writes `<old> <new> <ref>` lines on standard input; both keyseal and a chained hook read them.
                # Server options (--warn-only, --timeout SECONDS, --on-timeout pass, --config FILE) come from
                # KEYSEAL_PRE_RECEIVE_OPTIONS in the server's environment, or edit this line.
                updates="$(cat)"
                # shellcheck disable=SC2086
                printf '%s\\n' "$updates" | "$keyseal" pre-receive ${KEYSEAL_PRE_RECEIVE_OPTIONS:-} || exit $?
                \(chained(["printf '%s\\n' \"$updates\" | \"$chained\" \"$@\"", "exit $?"]))
                """
        }
    }

    /// The git command a hook guards, and what it blocks.
    private var guarded: (command: String, blocks: String) {
        switch self {
        case .preCommit: return ("commit", "a commit whose staged changes add a secret")
        case .prePush: return ("push", "a push whose new commits add a secret")
        case .preReceive: return ("push", "a push to this repository whose new commits add a secret")
        }
    }

    /// What both hooks begin with: the marker, what the hook blocks, and failing closed (exit 1)
    /// when the keyseal binary cannot be found.
    var preamble: String {
        let (command, blocks) = guarded
        return """
            #!/bin/sh
            \(Self.marker): \(rawValue)
            # Blocks \(blocks). Installed by `keyseal hooks install`;
            # `keyseal hooks uninstall` removes it and restores any hook it replaced.
            keyseal="${KEYSEAL:-keyseal}"
            if ! command -v "$keyseal" >/dev/null 2>&1; then
            \(missingBinary)
              exit 1
            fi

            """
    }

    /// Without the binary a hook fails closed; a client can skip it once, a server's pusher cannot.
    private var missingBinary: String {
        let (command, _) = guarded
        if self == .preReceive {
            return """
                  echo "keyseal: the keyseal binary was not found on the server, so this push cannot be checked for secrets and is refused." >&2
                  echo "  Server admins: install keyseal, or set KEYSEAL=/path/to/keyseal in the hook's environment." >&2
                """
        }
        return """
              echo "keyseal: the keyseal binary was not found, so this \(command) cannot be checked for secrets." >&2
              echo "  Install it (./install.sh in the keyseal repository) or set KEYSEAL=/path/to/keyseal." >&2
              echo "  To \(command) without the check, once: git \(command) --no-verify" >&2
            """
    }

    /// What both hooks end with: the hook `keyseal hooks install` kept aside runs after keyseal's
    /// check, through `run` (lines that use `$chained`); the script ends with a newline.
    private func chained(_ run: [String]) -> String {
        """
        chained="$(dirname "$0")/\(rawValue).keyseal-chained"
        if [ -x "$chained" ]; then
        \(run.map { "  " + $0 }.joined(separator: "\n"))
        fi
        exit 0

        """
    }
}

/// Installs and removes keyseal's hooks without ever losing a hook that was there before.
public enum HookInstaller {
    public struct Outcome: Sendable {
        public var messages: [String] = []
    }

    static func isOurs(_ path: String) -> Bool {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return false }
        return text.contains(HookScript.marker)
    }

    public static func hooksDirectory(repository path: String) throws -> String {
        do {
            return try Repository(discovering: path).hooksDirectory()
        } catch let error as GitError {
            throw KeysealError.repository(error)
        }
    }

    public static func install(repository path: String, hooks: [HookScript]) throws -> Outcome {
        let folder = try hooksDirectory(repository: path)
        var outcome = Outcome()
        let files = FileManager.default
        do {
            try files.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw KeysealError.file("cannot create the hooks folder \(folder): \(error.localizedDescription)")
        }
        for hook in hooks {
            let target = (folder as NSString).appendingPathComponent(hook.rawValue)
            let chained = target + ".keyseal-chained"
            if files.fileExists(atPath: target) && !isOurs(target) {
                // Keep the user's hook: it runs after ours.
                if files.fileExists(atPath: chained) {
                    throw KeysealError.file("\(target) is not keyseal's, and \(chained) already exists; move one of them away, then install again (nothing was changed)")
                }
                do {
                    try files.moveItem(atPath: target, toPath: chained)
                } catch {
                    throw KeysealError.file("cannot move \(target) aside: \(error.localizedDescription)")
                }
                outcome.messages.append("kept your \(hook.rawValue) hook as \(chained); it runs after keyseal")
            }
            let already = (try? String(contentsOfFile: target, encoding: .utf8)) == hook.text
            if already {
                outcome.messages.append("\(hook.rawValue): already installed in \(folder)")
                continue
            }
            do {
                try write(hook.text, to: target)
            } catch {
                throw KeysealError.file("cannot write \(target): \(error.localizedDescription)")
            }
            outcome.messages.append("\(hook.rawValue): installed in \(folder)")
        }
        return outcome
    }

    public static func uninstall(repository path: String, hooks: [HookScript]) throws -> Outcome {
        let folder = try hooksDirectory(repository: path)
        var outcome = Outcome()
        let files = FileManager.default
        for hook in hooks {
            let target = (folder as NSString).appendingPathComponent(hook.rawValue)
            let chained = target + ".keyseal-chained"
            guard files.fileExists(atPath: target) else {
                outcome.messages.append("\(hook.rawValue): not installed")
                continue
            }
            guard isOurs(target) else {
                outcome.messages.append("\(hook.rawValue): not keyseal's hook; left as it is")
                continue
            }
            do {
                try files.removeItem(atPath: target)
                if files.fileExists(atPath: chained) {
                    try files.moveItem(atPath: chained, toPath: target)
                    outcome.messages.append("\(hook.rawValue): removed; your previous hook is back in place")
                } else {
                    outcome.messages.append("\(hook.rawValue): removed")
                }
            } catch {
                throw KeysealError.file("cannot restore \(target): \(error.localizedDescription)")
            }
        }
        return outcome
    }

    /// Written to a temporary file and renamed, so a hook is never half-written.
    static func write(_ text: String, to path: String) throws {
        let temporary = path + ".keyseal-tmp"
        try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: temporary)
        guard rename(temporary, path) == 0 else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw KeysealError.file("rename to \(path) failed: \(String(cString: strerror(errno)))")
        }
    }
}
