import Foundation
import KeysealEngine
import KeysealGit

public struct AuditResult: Sendable, Codable {
    public var findings: [AuditFinding] = []
    /// Files that could not be fully understood (malformed Dockerfile, YAML, JSON); the audit went on.
    public var warnings: [String] = []
    public var filesChecked = 0
    /// The commit whose tree was audited (HEAD's, or `--rev`'s); nil when there is none yet. Reports
    /// that tie every finding to a commit (GitLab's) name this one.
    public var commit: String?

    enum CodingKeys: String, CodingKey {
        case findings, warnings, commit
        case filesChecked = "files_checked"
    }
}

/// `keyseal audit`: the routes by which secrets reach history and images, over the tracked tree and
/// the repository's configuration.
public enum Auditor {
    /// The files an audit reads, with their contents on demand.
    struct File {
        let path: String
        let text: () -> String?
    }

    public static func audit(path: String, revision: String?, configFile: String?) throws -> AuditResult {
        let repository = try Repository.open(path)
        let settings = try Settings.load(workDirectory: repository.workDirectory, configFile: configFile)
        return try audit(repository: repository, settings: settings, revision: revision)
    }

    /// The audit of an opened repository; `matcher`: the rules already compiled (a scan's), else
    /// compiled here when a finding needs them.
    static func audit(repository: Repository, settings: Settings, revision: String?, matcher: Matcher? = nil) throws -> AuditResult {
        let tracked = try repository.trackedFiles(at: revision)
        let files = tracked.map { file in
            File(path: file.path, text: { (try? repository.text(of: file.blob)) ?? nil })
        }
        var result = try audit(files, settings: settings, matcher: matcher)
        result.findings += GitConfigAudit.check(entries: try repository.configEntries(matching: "^(remote\\..*\\.(push)?url|credential\\.helper)$"))
        if revision == nil {
            for untracked in try repository.untrackedFiles() {
                let name = PathText.lastComponent(untracked)
                if TrackedFileAudit.isEnvFile(name) || TrackedFileAudit.keyNames.contains(name) || name.hasSuffix(".pem") || name.hasSuffix(".key") {
                    result.findings.append(AuditRules.finding("audit-untracked-secret-file", path: untracked, line: 1,
                                                              detail: "\(name) is not ignored"))
                }
            }
        }
        result.findings.sort { ($0.path, $0.line, $0.rule) < ($1.path, $1.line, $1.rule) }
        result.commit = try (revision.map { try repository.resolveCommit($0) } ?? repository.headCommit())?.hex
        return result
    }

    /// Runs every file detector; then the content rules over the files that have findings, so a
    /// route and the provider of the value on the same line are reported together.
    static func audit(_ files: [File], settings: Settings, matcher: Matcher? = nil) throws -> AuditResult {
        var result = AuditResult()
        let byPath = Dictionary(files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        var texts: [String: String] = [:]
        func text(_ file: File) -> String? {
            if let known = texts[file.path] { return known }
            let value = file.text()
            texts[file.path] = value
            return value
        }
        var decoded: [(path: String, line: Int, text: String)] = []
        for file in files where !settings.allowlist.allowsPath(file.path) {
            result.filesChecked += 1
            let firstFinding = result.findings.count
            if let finding = TrackedFileAudit.check(path: file.path, content: { text(file) }) { result.findings.append(finding) }
            let name = PathText.lastComponent(file.path).lowercased()
            if DockerfileAudit.isDockerfile(file.path), let body = text(file) {
                let folder = (file.path as NSString).deletingLastPathComponent
                let ignoreFile = [((folder as NSString).appendingPathComponent(name + ".dockerignore")),
                                  ((folder as NSString).appendingPathComponent(".dockerignore"))]
                    .compactMap { byPath[$0.hasPrefix("/") ? String($0.dropFirst()) : $0] }.first
                let patterns = ignoreFile.flatMap { text($0) }.map { $0.split(separator: "\n").map(String.init) }
                let (found, warnings) = DockerfileAudit.check(path: file.path, text: body, dockerignore: patterns)
                result.findings += found
                result.warnings += warnings
            } else if ComposeAudit.isCompose(file.path), let body = text(file) {
                result.findings += ComposeAudit.check(path: file.path, text: body)
            } else if [".npmrc", ".pypirc", "pip.conf", "pip.ini"].contains(name), let body = text(file) {
                result.findings += PackageConfigAudit.check(path: file.path, text: body)
            }
            if name.hasSuffix(".yaml") || name.hasSuffix(".yml"), let body = text(file), body.contains("kind: Secret") {
                let k8s = KubernetesAudit.check(path: file.path, text: body)
                result.findings += k8s.findings
                result.warnings += k8s.warnings
                decoded += k8s.decoded.map { (file.path, $0.line, $0.text) }
            }
            if name.hasSuffix(".json"), let body = text(file), (body.hasPrefix("{") || body.hasPrefix("[")),
               (try? JSONSerialization.jsonObject(with: Data(body.utf8))) == nil,
               result.findings[firstFinding...].contains(where: { $0.path == file.path }) {
                result.warnings.append("\(file.path): not valid JSON; checked as text")
            }
        }
        try attachContent(&result, texts: texts, decoded: decoded, settings: settings, matcher: matcher)
        return result
    }

    /// Tags route findings with the content rule that fires on their line, and adds findings for
    /// Kubernetes `data:` values that decode to a known kind of secret.
    static func attachContent(_ result: inout AuditResult, texts: [String: String], decoded: [(path: String, line: Int, text: String)],
                              settings: Settings, matcher given: Matcher? = nil) throws {
        // Each path's findings, and each line's first match: no search per finding.
        let byPath = Dictionary(grouping: result.findings.indices, by: { result.findings[$0].path })
        guard !byPath.isEmpty || !decoded.isEmpty else { return }
        let matcher = try given ?? settings.matcher()
        let scratch = try matcher.makeScratch()
        for (path, indices) in byPath {
            guard let body = texts[path] else { continue }
            let matches = try Array(body.utf8).withUnsafeBytes { try matcher.scan($0, scratch: scratch) }
            var firstOnLine: [Int: EngineMatch] = [:]
            for match in matches where firstOnLine[match.line] == nil { firstOnLine[match.line] = match }
            for index in indices {
                if let match = firstOnLine[result.findings[index].line] {
                    result.findings[index].provider = matcher.rules[match.rule].provider
                    result.findings[index].contentRule = matcher.rules[match.rule].id
                }
            }
        }
        for value in decoded {
            let matches = try Array(value.text.utf8).withUnsafeBytes { try matcher.scan($0, scratch: scratch) }
            for match in matches {
                let rule = matcher.rules[match.rule]
                var finding = AuditRules.finding("audit-k8s-secret-manifest", path: value.path, line: value.line,
                                                 detail: "data value decodes to a \(rule.provider) secret \(SecretText.preview(match.secret, rule: rule))")
                finding.provider = rule.provider
                finding.contentRule = rule.id
                result.findings.append(finding)
            }
        }
    }
}
