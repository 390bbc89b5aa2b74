import Foundation

/// What a blocked commit or push says on stderr: each finding, then every way out. Never a clear secret.
public enum GuardReport {
    public static func staged(_ result: GuardResult) -> String {
        var what: [String] = []
        if !result.findings.isEmpty { what.append(count(result.findings)) }
        if !result.audit.isEmpty { what.append("\(result.audit.count) risky file(s)") }
        var out = "keyseal: commit blocked: \(what.joined(separator: " and ")) in the staged changes\n\n"
        for finding in result.findings {
            out += "  \(e(finding.rule)) (\(e(finding.provider)))  \(e(finding.preview))  \(e(finding.path)):\(finding.line)\n"
        }
        for finding in result.audit {
            out += "  \(e(finding.rule))  \(e(finding.path)):\(finding.line)  \(e(finding.detail))\n      why: \(e(finding.why))\n      fix: \(e(finding.fix))\n"
        }
        let paths = Array(Set(result.findings.map(\.path) + result.audit.map(\.path))).sorted()
        out += """

            How to go on:
              1. Remove the secret from the file (or unstage the file: git restore --staged FILE) and stage again:
                   git add \(paths.map(quote).joined(separator: " "))
                 Load it at run time instead (an environment variable, a secrets manager, a mounted secret).
              2. A false positive? Add the comment `keyseal:allow` on that line, or allow it in .keyseal.toml:
                   [allowlist]
                   paths = [\(paths.map { "\"\(e($0))\"" }.joined(separator: ", "))]   # or regexes = [...], stopwords = [...]
              3. If this secret was ever committed, pushed or shared elsewhere, treat it as leaked and rotate it.

            """
        return out
    }

    public static func prePush(_ result: GuardResult, remote: String) -> String {
        var out = "keyseal: push to \(remote.isEmpty ? "the remote" : e(remote)) blocked: \(count(result.findings)) in \(result.commitsScanned) new commit(s)\n\n"
        var commits: [String] = []
        for finding in result.findings {
            if !commits.contains(finding.commit) { commits.append(finding.commit) }
            let subject = result.subjects[finding.commit].map { " \"\(e($0))\"" } ?? ""
            out += "  \(e(finding.rule)) (\(e(finding.provider)))  \(e(finding.preview))  \(e(finding.path)):\(finding.line)  commit \(finding.commit.prefix(10))\(subject)\n"
        }
        out += "\nHow to go on:\n  1. Remove the secret from every commit that adds it, then push again:\n"
        for commit in commits {
            let short = String(commit.prefix(10))
            if commit == result.head {
                out += "       \(short) is HEAD: remove the secret, `git add` the file, then `git commit --amend`\n"
            } else if result.roots.contains(commit) {
                out += "       git rebase -i --root   # mark \(short) as 'edit'; remove the secret; git commit --amend; git rebase --continue\n"
            } else {
                out += "       git rebase -i \(short)^   # mark \(short) as 'edit'; remove the secret; git commit --amend; git rebase --continue\n"
            }
        }
        let paths = Array(Set(result.findings.map(\.path))).sorted()
        out += """
              2. A false positive? Add the comment `keyseal:allow` on that line, or allow it in .keyseal.toml:
                   [allowlist]
                   paths = [\(paths.map { "\"\(e($0))\"" }.joined(separator: ", "))]   # or regexes, stopwords, commits = ["<id>"]
              3. The secret is in a commit, so treat it as leaked: rotate it with its provider now, even if it is
                 never pushed (clones, backups and stashes keep it).

            """
        return out
    }

    static func count(_ findings: [Finding]) -> String {
        let secrets = Set(findings.map(\.fingerprint)).count
        return secrets == 1 ? "1 secret" : "\(secrets) secrets"
    }

    /// Repository text (paths, subjects, rule names from a committed config) made safe for a terminal.
    static func e(_ text: String) -> String { TerminalText.escape(text) }

    static func quote(_ path: String) -> String {
        let path = e(path)
        return path.allSatisfy { $0.isLetter || $0.isNumber || "/._-".contains($0) } ? path : "'\(path.replacingOccurrences(of: "'", with: "'\\''"))'"
    }
}
