import Foundation
import KeysealEngine
import KeysealGit
import KeysealStore

/// One line of git's pre-push input: `<local ref> <local oid> <remote ref> <remote oid>`.
public struct PushUpdate: Sendable, Equatable {
    public let localRef: String
    public let localOID: String
    public let remoteRef: String
    public let remoteOID: String

    static let zero = String(repeating: "0", count: 40)
    public var isDeletion: Bool { localOID == Self.zero }
    public var remoteIsNew: Bool { remoteOID == Self.zero }

    public init(localRef: String, localOID: String, remoteRef: String, remoteOID: String) {
        self.localRef = localRef
        self.localOID = localOID
        self.remoteRef = remoteRef
        self.remoteOID = remoteOID
    }

    /// Parses git's pre-push standard input; a malformed line is an error that quotes it.
    public static func parse(_ text: String) throws -> [PushUpdate] {
        try text.split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(separator: " ").map(String.init)
            if fields.isEmpty { return nil }
            guard fields.count == 4, ObjectID(hex: fields[1]) != nil, ObjectID(hex: fields[3]) != nil else {
                throw KeysealError.invalidInput("pre-push: expected '<local ref> <local oid> <remote ref> <remote oid>' on standard input, got '\(line)'")
            }
            return PushUpdate(localRef: fields[0], localOID: fields[1], remoteRef: fields[2], remoteOID: fields[3])
        }
    }
}

/// What a hook found.
public struct GuardResult: Sendable {
    public var findings: [Finding]
    public var blobsScanned = 0
    public var commitsScanned = 0
    public var notes: [String] = []
    /// Commit id → subject line, for the messages of a blocked push.
    public var subjects: [String: String] = [:]
    /// Rule id → PCRE2 limit hits in the scanned files.
    public var regexLimitHits: [String: Int] = [:]
    /// The commit HEAD points at, for advice (`git commit --amend` fixes only that one).
    public var head: String?
    /// Commits with no parent in the push, for advice (`git rebase -i --root`).
    public var roots: Set<String> = []
    /// The commits a push adds, oldest first (topological order): advice rebases from the oldest.
    public var commitOrder: [String] = []
    /// Rules the findings may name, for SARIF descriptors.
    public var rules: [RuleInfo] = []
    /// Routes the staged change opens (a staged .env, a Dockerfile ENV secret): they block too.
    public var audit: [AuditFinding] = []
    /// Files the change adds that were not fully scanned (too large, an archive read in part, a
    /// regex limit), at paths the allowlist does not allow: they block too, as they may hide a secret.
    public var unscanned: [UnscannedBlob] = []
    /// The size limit in force, for advice.
    public var maxBlobSize = Settings.defaultMaxBlobSize
    /// The time budget ran out (pre-receive's `--timeout`): the rest was not scanned.
    public var timedOut = false
    /// With `timedOut`: the commits and files the budget left unscanned.
    public var commitsLeft = 0
    public var filesLeft = 0

    public var blocks: Bool { !findings.isEmpty || !audit.isEmpty || !unscanned.isEmpty }

    /// The same findings in a scan's shape, for the JSON and SARIF writers.
    public func asScanResult() -> ScanResult {
        var summary = ScanSummary()
        summary.commits = commitsScanned
        summary.blobsScanned = blobsScanned
        summary.findings = findings.count
        summary.secrets = Set(findings.map(\.fingerprint)).count
        summary.notes = notes
        summary.blobsNotFullyScanned = Set(unscanned.map(\.blob)).count
        summary.notFullyScanned = Array(unscanned.prefix(UnscannedBlob.listed))
        summary.blobsSkippedLarge = Set(unscanned.filter { $0.reasons.contains(.tooLarge) }.map(\.blob)).count
        summary.archivesTruncated = Set(unscanned.filter { $0.reasons.contains(.archiveTruncated) }.map(\.blob)).count
        summary.blobsRegexLimit = Set(unscanned.filter { $0.reasons.contains(.regexLimit) }.map(\.blob)).count
        summary.regexLimitHits = regexLimitHits
        var auditResult: AuditResult? = nil
        if !audit.isEmpty { auditResult = AuditResult(findings: audit, warnings: [], filesChecked: 0) }
        var result = ScanResult(summary: summary, findings: findings, rules: rules, audit: auditResult)
        result.origin = .hook
        return result
    }
}

/// The guard behind `keyseal staged` and `keyseal pre-push`: scans only what a change adds, and of
/// it only the added lines.
public enum GuardScanner {
    /// What `git commit` would record. With `files` (the pre-commit framework passes the files a
    /// run is about, all of them with `--all-files`), those files' staged content is scanned whole
    /// as well: a run over files must not pass a secret because no line of it is new. A named
    /// file the index does not hold cannot be scanned, and is refused as not scanned.
    public static func staged(path: String, files: [String] = [], configFile: String?, showSecrets: Bool,
                              cacheDirectory: URL? = Matcher.defaultCacheDirectory) throws -> GuardResult {
        let repository = try Repository.open(path)
        let settings = try Settings.load(workDirectory: repository.workDirectory, configFile: configFile)
        var added = try repository.stagedContent()
        var missing: [String] = []
        if !files.isEmpty {
            let whole = try repository.indexContent(paths: files)
            let wholePaths = Set(whole.content.map(\.path))
            added = added.filter { !wholePaths.contains($0.path) } + whole.content
            missing = whole.missing
        }
        var result = try scan(added, repository: repository, settings: settings, showSecrets: showSecrets,
                              cacheDirectory: cacheDirectory)
        for file in missing where !settings.allowlist.allowsPath(file) {
            result.unscanned.append(UnscannedBlob(path: file, commit: "", blob: "", reasons: [.notStaged]))
        }
        result.audit = try stagedAudit(added, repository: repository, settings: settings)
        result.notes += settings.config.warnings
        return result
    }

    /// The tracked-file and Dockerfile checks, on what is staged. Dockerfile findings count only
    /// on lines the change adds.
    static func stagedAudit(_ added: [AddedContent], repository: Repository, settings: Settings) throws -> [AuditFinding] {
        var out: [AuditFinding] = []
        for content in added {
            let path = String(decoding: content.path, as: UTF8.self)
            if settings.allowlist.allowsPath(path) { continue }
            let text = { (try? repository.text(of: content.blob)) ?? nil }
            if let finding = TrackedFileAudit.check(path: path, content: text) { out.append(finding) }
            if DockerfileAudit.isDockerfile(path), let body = text() {
                let folder = ((repository.workDirectory ?? "") as NSString).appendingPathComponent((path as NSString).deletingLastPathComponent)
                let ignore = try? String(contentsOfFile: (folder as NSString).appendingPathComponent(".dockerignore"), encoding: .utf8)
                let patterns = ignore.map { $0.split(separator: "\n").map(String.init) }
                out += DockerfileAudit.check(path: path, text: body, dockerignore: patterns).findings.filter { content.isAdded(line: $0.line) }
            }
        }
        return out
    }

    public static func prePush(path: String, remote: String, updates: [PushUpdate], configFile: String?,
                               showSecrets: Bool, cacheDirectory: URL? = Matcher.defaultCacheDirectory) throws -> GuardResult {
        let repository = try Repository.open(path)
        let settings = try Settings.load(workDirectory: repository.workDirectory, configFile: configFile)
        let shallow = repository.shallowBoundary()
        // A remote given by name: everything its remote-tracking refs hold is already there.
        let isName = !remote.isEmpty && !remote.contains("/") && !remote.contains(":")
        let globs = isName ? ["refs/remotes/\(remote)/*"] : []
        var commits: [ObjectID] = []
        var seen = Set<ObjectID>()
        for update in updates where !update.isDeletion {
            // An update without an id (the pre-commit framework gives none for a push holding a
            // root commit) names its local ref: its commit is resolved here.
            let tip = update.localOID.isEmpty ? try repository.resolveCommit(update.localRef) : ObjectID(hex: update.localOID)
            guard let tip else { continue }
            let hidden = update.remoteIsNew ? [] : [ObjectID(hex: update.remoteOID)].compactMap { $0 }
            for commit in try repository.commits(from: tip, hiding: hidden, hidingGlobs: globs)
            where seen.insert(commit).inserted {
                commits.append(commit)
            }
        }
        var changed: [AddedContent] = []
        var authors: [ObjectID: Signature] = [:]
        var subjects: [String: String] = [:]
        var roots: Set<String> = []
        let heights = TreeHeights(repository)
        for commit in commits {
            let boundary = shallow.contains(commit)
            changed += try repository.changedFiles(of: commit, treatAsRoot: boundary, heights: heights)
            authors[commit] = try repository.author(of: commit)
            subjects[commit.hex] = try repository.subject(of: commit)
            let isRoot = try repository.commit(commit).parents.isEmpty
            if boundary || isRoot { roots.insert(commit.hex) }
        }
        let matcher = try settings.matcher(cacheDirectory: cacheDirectory)
        let prescan = try addedContent(changed, repository: repository, settings: settings, matcher: matcher, heights: heights,
                                       roots: Set(commits.filter { shallow.contains($0) }), deadline: nil)
        var result = try scan(prescan.added, repository: repository, settings: settings, showSecrets: showSecrets,
                              authors: authors, cacheDirectory: cacheDirectory, matcher: matcher)
        result.blobsScanned = prescan.scanned
        result.commitsScanned = commits.count
        result.subjects = subjects
        result.roots = roots
        result.commitOrder = commits.map(\.hex)
        result.head = try? repository.headCommit()?.hex
        result.notes += settings.config.warnings
        return result
    }

    /// Scans each distinct blob once, then keeps the matches on lines the change added.
    static func scan(_ added: [AddedContent], repository: Repository, settings: Settings, showSecrets: Bool,
                     authors: [ObjectID: Signature] = [:], cacheDirectory: URL?, matcher prepared: Matcher? = nil,
                     deadline: Date? = nil) throws -> GuardResult {
        var result = GuardResult(findings: [])
        result.maxBlobSize = settings.maxBlobSize
        // Read only when a match needs a decision: most commits add none, and an organisation's
        // store is a network round trip.
        var loadedDecisions: [String: SecretStatus]? = nil
        func decisions() throws -> [String: SecretStatus] {
            if let loadedDecisions { return loadedDecisions }
            let loaded = try Decisions.forHooks(repository: repository)
            loadedDecisions = loaded
            return loaded
        }
        result.rules = settings.rules.map(RuleInfo.init)
        if added.isEmpty { return result }
        let matcher = try prepared ?? settings.matcher(cacheDirectory: cacheDirectory)
        let scratch = try matcher.makeScratch()
        /// One blob's scan: its matches, and what it left out.
        struct Scanned {
            var matches: [EngineMatch] = []
            var reasons: [UnscannedReason] = []
            var rules: [String] = []
            var size: Int? = nil
        }
        var byBlob: [ObjectID: Scanned] = [:]
        var unscannedPlaces = Set<String>()
        for (position, content) in added.enumerated() {
            if let deadline, Date() > deadline {
                result.timedOut = true
                result.filesLeft = added.count - position
                break
            }
            let path = String(decoding: content.path, as: UTF8.self)
            // An allowlisted path (or commit) is neither scanned nor refused.
            if settings.allowlist.allowsPath(path) { continue }
            if let commit = content.commit, settings.allowlist.allowsCommit(commit.hex) { continue }
            let scanned: Scanned
            if let known = byBlob[content.blob] {
                scanned = known
            } else {
                let size = try repository.blobSize(content.blob)
                if size > settings.maxBlobSize {
                    scanned = Scanned(reasons: [.tooLarge], size: size)
                } else {
                    let scan = try repository.withBlob(content.blob) { try matcher.scanBlob($0, scratch: scratch) }
                    if scan.gaps.contains(.decodedInPart) {
                        result.notes.append("\(path): encoded text (base64, percent, JSON escapes) decoded only in part, "
                                            + "past the decoding bounds (every rule still ran over the file)")
                    }
                    result.regexLimitHits.merge(scan.regexLimitHits, uniquingKeysWith: +)
                    scanned = Scanned(matches: scan.matches, reasons: UnscannedReason.from(scan.gaps),
                                      rules: scan.regexLimitHits.keys.sorted())
                }
                byBlob[content.blob] = scanned
                if scanned.size == nil { result.blobsScanned += 1 }
            }
            if !scanned.reasons.isEmpty && unscannedPlaces.insert(content.blob.hex + "\u{0}" + path).inserted {
                result.unscanned.append(UnscannedBlob(path: path, commit: content.commit?.hex ?? "", blob: content.blob.hex,
                                                      reasons: scanned.reasons, rules: scanned.rules.isEmpty ? nil : scanned.rules,
                                                      size: scanned.size))
            }
            let matches = scanned.matches
            // Fingerprints only for the matches that count (a slow one costs milliseconds), each once.
            var prints: [Int: SecretPrint] = [:]
            func secretPrint(_ k: Int) throws -> SecretPrint {
                if let known = prints[k] { return known }
                let made = try SecretText.identify(rule: matcher.rules[matches[k].rule], secret: matches[k].secret)
                prints[k] = made
                return made
            }
            for (k, match) in matches.enumerated() {
                guard match.outsideBlobLines || content.addedLines.contains(where: { $0.overlaps(match.line...match.endLine) })
                else { continue }
                if settings.allowlist.allowsSecret(String(decoding: match.secret, as: UTF8.self)) { continue }
                let secret = try secretPrint(k)
                // Triaged as a false positive or accepted (in the store or the committed baseline, under
                // this fingerprint or the legacy one): let it pass.
                if let status = Decisions.status(of: secret.fingerprint, legacy: secret.legacy, in: try decisions()),
                   !status.blocks { continue }
                result.findings.append(Finding(
                    rule: matcher.rules[match.rule], match: match, fingerprint: secret.fingerprint,
                    pairedWith: try match.pairedWith.map { try secretPrint($0).fingerprint }, commit: content.commit?.hex ?? "",
                    author: content.commit.flatMap { authors[$0] }, path: path, blob: content.blob.hex,
                    showSecret: showSecrets))
            }
        }
        return result
    }
}
