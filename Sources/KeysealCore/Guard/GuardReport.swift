import Foundation

/// What a blocked commit or push says on stderr: each finding, then every way out. Never a clear secret.
public enum GuardReport {
    public static func staged(_ result: GuardResult) -> String {
        var what: [String] = []
        if !result.findings.isEmpty { what.append(count(result.findings)) }
        if !result.audit.isEmpty { what.append("\(result.audit.count) risky file(s)") }
        if !result.unscanned.isEmpty { what.append(unscannedCount(result.unscanned)) }
        var out = "keyseal: commit blocked: \(what.joined(separator: " and ")) in the staged changes\n\n"
        for finding in result.findings {
            out += "  \(e(finding.rule)) (\(e(finding.provider)))  \(e(finding.preview))  \(e(finding.path)):\(finding.line)\n"
        }
        for finding in result.audit {
            out += "  \(e(finding.rule))  \(e(finding.path)):\(finding.line)  \(e(finding.detail))\n      why: \(e(finding.why))\n      fix: \(e(finding.fix))\n"
        }
        out += unscannedLines(result.unscanned, commits: false)
        guard !result.findings.isEmpty || !result.audit.isEmpty else {
            return out + "\nHow to go on:\n" + unscannedAdvice(result, number: 1)
        }
        let paths = Array(Set(result.findings.map(\.path) + result.audit.map(\.path))).sorted()
        // Files that must not be in git at all (`.env`, key files, state files): the way out is to
        // untrack them, not to edit a line. Their paths are listed apart from files that hold a secret.
        let untrack = Array(Set(result.audit.filter { $0.rule.hasPrefix("audit-tracked-") }.map(\.path))).sorted()
        let edit = paths.filter { !untrack.contains($0) }
        var step = 1
        out += "\nHow to go on:\n"
        if !edit.isEmpty {
            out += """
                  \(step). Remove the secret from the file (or unstage the file: git restore --staged FILE) and stage again:
                       git add \(edit.map(quote).joined(separator: " "))
                     Load it at run time instead (an environment variable, a secrets manager, a mounted secret).

                """
            step += 1
        }
        if !untrack.isEmpty {
            out += """
                  \(step). Keep these files out of git (the file stays on disk), and ignore them from now on:
                       git rm --cached \(untrack.map(quote).joined(separator: " "))
                       printf '%s\\n' \(untrack.map(quote).joined(separator: " ")) >> .gitignore && git add .gitignore
                     Commit a template with placeholder values instead (.env.example).

                """
            step += 1
        }
        out += """
              \(step). A false positive, or a file meant to be committed? Add the comment `keyseal:allow` on that line,
                 or allow it in .keyseal.toml:
                   [allowlist]
                   paths = [\(paths.map { "\"\(e($0))\"" }.joined(separator: ", "))]   # or regexes = [...], stopwords = [...]
              \(step + 1). If this secret was ever committed, pushed or shared elsewhere, treat it as leaked and rotate it.

            """
        if !result.unscanned.isEmpty { out += unscannedAdvice(result, number: step + 2) }
        return out
    }

    public static func prePush(_ result: GuardResult, remote: String) -> String {
        var what: [String] = []
        if !result.findings.isEmpty { what.append(count(result.findings)) }
        if !result.unscanned.isEmpty { what.append(unscannedCount(result.unscanned)) }
        var out = "keyseal: push to \(remote.isEmpty ? "the remote" : e(remote)) blocked: \(what.joined(separator: " and ")) in \(result.commitsScanned) new commit(s)\n\n"
        let (lines, commits) = pushFindings(result, fingerprints: false)
        out += lines + unscannedLines(result.unscanned, commits: true)
        guard !result.findings.isEmpty else {
            return out + "\nHow to go on:\n" + unscannedAdvice(result, number: 1)
        }
        out += "\nHow to go on:\n  1. Remove the secret from every commit that adds it, then push again:\n"
        out += rebaseAdvice(result, commits: commits)
        let paths = Array(Set(result.findings.map(\.path))).sorted()
        out += """
              2. A false positive? Add the comment `keyseal:allow` on that line, or allow it in .keyseal.toml:
                   [allowlist]
                   paths = [\(paths.map { "\"\(e($0))\"" }.joined(separator: ", "))]   # or regexes, stopwords, commits = ["<id>"]
              3. The secret is in a commit, so treat it as leaked: rotate it with its provider now, even if it is
                 never pushed (clones, backups and stashes keep it).

            """
        if !result.unscanned.isEmpty { out += unscannedAdvice(result, number: 4) }
        return out
    }

    /// What the pusher reads (git prefixes each line with `remote:`): what was found, in which
    /// commit and path, how to rewrite the commits, and how an exception is made on the server.
    public static func preReceive(_ result: GuardResult, warnOnly: Bool) -> String {
        var what: [String] = []
        if !result.findings.isEmpty { what.append(count(result.findings)) }
        if !result.unscanned.isEmpty { what.append(unscannedCount(result.unscanned)) }
        let verdict = warnOnly ? "WARNING (warn-only mode): this push would be refused" : "push refused"
        var out = "keyseal: \(verdict): \(what.joined(separator: " and ")) in \(result.commitsScanned) new commit(s)\n\n"
        // The fingerprint too: it is what the server's admins triage by.
        let (lines, commits) = pushFindings(result, fingerprints: true)
        out += lines + unscannedLines(result.unscanned, commits: true)
        if result.findings.isEmpty {
            return out + "\nHow to go on:\n" + unscannedAdvice(result, number: 1)
        }
        out += "\nHow to go on:\n  1. Remove the secret from every commit that adds it (on your machine), then push again:\n"
        out += rebaseAdvice(result, commits: commits)
        out += """
              2. A false positive? Add the comment `keyseal:allow` on that line, or ask the repository's admins to
                 mark it on the server: keyseal triage FINGERPRINT --status false-positive --note "why"
              3. The secret left your machine with this push attempt: rotate it with its provider now.

            """
        if !result.unscanned.isEmpty { out += unscannedAdvice(result, number: 4) }
        return out
    }

    /// The time budget ran out: what was left, and what the server did about it.
    public static func preReceiveTimeout(_ result: GuardResult, seconds: Double, refused: Bool) -> String {
        let left = [result.commitsLeft > 0 ? "\(result.commitsLeft) commit(s)" : nil,
                    result.filesLeft > 0 ? "\(result.filesLeft) changed file(s)" : nil].compactMap { $0 }.joined(separator: " and ")
        let budget = seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
        if refused {
            return "keyseal: push refused: the scan did not finish within its time budget (\(budget)); \(left) not scanned.\n"
                + "  Push fewer commits at a time, or ask the repository's admins to raise keyseal's --timeout.\n"
        }
        return "keyseal: WARNING: the scan did not finish within its time budget (\(budget)); \(left) not scanned, and the push was let through.\n"
    }

    /// One line per finding of a push (rule, preview, path, commit and its subject), and the
    /// offending commits in the order first met.
    static func pushFindings(_ result: GuardResult, fingerprints: Bool) -> (lines: String, commits: [String]) {
        var out = "", commits: [String] = []
        for finding in result.findings {
            if !commits.contains(finding.commit) { commits.append(finding.commit) }
            let subject = result.subjects[finding.commit].map { " \"\(e($0))\"" } ?? ""
            let print = fingerprints ? "  fingerprint \(finding.fingerprint.prefix(12))" : ""
            out += "  \(e(finding.rule)) (\(e(finding.provider)))  \(e(finding.preview))  \(e(finding.path)):\(finding.line)  commit \(finding.commit.prefix(10))\(subject)\(print)\n"
        }
        return (out, commits)
    }

    /// One rebase, from the oldest offending commit: a second `rebase -i X^` would name a commit
    /// the first rebase has rewritten. HEAD alone needs only an amend.
    static func rebaseAdvice(_ result: GuardResult, commits: [String]) -> String {
        let offending = Set(commits), ordered = Set(result.commitOrder)
        let oldestFirst = result.commitOrder.filter { offending.contains($0) } + commits.filter { !ordered.contains($0) }
        let marked = oldestFirst.map { String($0.prefix(10)) }.joined(separator: ", ")
        if oldestFirst == [result.head].compactMap({ $0 }) {
            return "       \(marked) is HEAD: remove the secret, `git add` the file, then `git commit --amend`\n"
        }
        guard let oldest = oldestFirst.first else { return "" }
        let base = result.roots.contains(oldest) ? "--root" : "\(oldest.prefix(10))^"
        return "       git rebase -i \(base)\n"
            + "       # mark \(marked) as 'edit'; at each stop remove the secret, git add the file, git commit --amend,\n"
            + "       # then git rebase --continue\n"
    }

    static func unscannedCount(_ unscanned: [UnscannedBlob]) -> String {
        let files = Set(unscanned.map(\.path)).count
        return files == 1 ? "1 file not fully scanned" : "\(files) files not fully scanned"
    }

    /// One line per file not fully scanned: path, why, and the commit in a push.
    static func unscannedLines(_ unscanned: [UnscannedBlob], commits: Bool) -> String {
        var out = ""
        for blob in unscanned {
            let commit = commits && !blob.commit.isEmpty ? "  commit \(blob.commit.prefix(10))" : ""
            out += "  \(e(blob.path))  not fully scanned: \(e(blob.explanation))\(commit)\n"
        }
        return out
    }

    /// The ways past a file keyseal could not scan in full: check it, then allow its path, or
    /// (too large) raise the size limit.
    static func unscannedAdvice(_ result: GuardResult, number: Int) -> String {
        let paths = Array(Set(result.unscanned.map(\.path))).sorted()
        var out = """
              \(number). keyseal could not scan these files in full, so they may hide a secret. Check them yourself; then,
                 to let them through, allow their paths in .keyseal.toml:
                   [allowlist]
                   paths = [\(paths.map { "\"\(e($0))\"" }.joined(separator: ", "))]

            """
        let largest = result.unscanned.compactMap(\.size).max()
        if let largest {
            let current = SizeText.describe(result.maxBlobSize)
            if largest < Int(UInt32.max) - 1 {
                let needed = (largest + (1 << 20) - 1) >> 20
                out += """
                     or, for a file over the size limit (now \(current)), raise it in .keyseal.toml:
                       max_blob_size = "\(needed)M"

                """
            } else {
                out += "     (a file over 4 GiB cannot be scanned: the size limit stays below 4G)\n"
            }
        }
        if result.unscanned.contains(where: { $0.reasons.contains(.regexLimit) }) {
            out += "     For a regex limit, simplify the rule's pattern (nested quantifiers such as (a+)+ backtrack without end);\n"
                + "     `keyseal config check` shows whether its own examples hit the limit.\n"
        }
        return out + "\n"
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
