import KeysealEngine

/// Counts a report's summary gives, so nothing is skipped silently.
public struct ScanSummary: Sendable, Codable {
    public var commits = 0
    /// Commits an earlier scan recorded in the store, not walked again (incremental scans).
    public var commitsFromStore = 0
    /// Blobs an earlier scan recorded in the store under the same rules: their findings come
    /// from the store, their bytes are not read again.
    public var blobsFromStore = 0
    public var refs = 0
    public var blobsScanned = 0
    public var bytesScanned = 0
    /// Binary blobs: scanned through their printable runs (of 8 bytes or more).
    public var blobsBinary = 0
    /// Zip, tar and gzip blobs: scanned through their members.
    public var archives = 0
    /// Archives only partly opened: a bound on depth, size or member count stopped them.
    public var archivesTruncated = 0
    /// Blobs over the size limit, not read (allowlisted paths included).
    public var blobsSkippedLarge = 0
    /// Blobs that history names but the object database does not hold (a partial or damaged
    /// clone): not read, and counted as not fully scanned.
    public var blobsMissing = 0
    /// Blobs in which PCRE2's match, depth or heap limit stopped a rule at some offset (the rule
    /// went on after it); `regexLimitHits` says which rules, how often.
    public var blobsRegexLimit = 0
    /// Rule id → the times a PCRE2 limit stopped it, over the scan.
    public var regexLimitHits: [String: Int] = [:]
    /// Blobs whose encoded text was decoded only in part (the hit budget for the places where it may
    /// start, or the decoding bounds, were reached). Every rule still ran over all their bytes, so
    /// these do not count as not fully scanned.
    public var blobsDecodedInPart = 0
    /// Blobs a rule may have missed clear text in: too large, an archive read only in part, a regex
    /// limit. Blobs whose every path (or commit) is allowlisted are left out. `scan
    /// --fail-on-unscanned` fails when this is not 0; hooks refuse such files.
    public var blobsNotFullyScanned = 0
    /// Those blobs (the first `UnscannedBlob.listed`, by path), each at one path that is not allowlisted.
    public var notFullyScanned: [UnscannedBlob] = []
    public var gitlinksSkipped = 0
    public var findings = 0
    public var secrets = 0
    public var durationSeconds = 0.0
    /// Things the user should know about the scan itself (empty repository, shallow boundary…).
    public var notes: [String] = []

    enum CodingKeys: String, CodingKey {
        case commits, refs, findings, secrets, notes
        case commitsFromStore = "commits_from_store"
        case blobsFromStore = "blobs_from_store"
        case blobsScanned = "blobs_scanned"
        case bytesScanned = "bytes_scanned"
        case blobsBinary = "blobs_binary"
        case archivesTruncated = "archives_truncated"
        case archives
        case blobsSkippedLarge = "blobs_skipped_large"
        case blobsMissing = "blobs_missing"
        case blobsRegexLimit = "blobs_regex_limit"
        case regexLimitHits = "regex_limit_hits"
        case blobsDecodedInPart = "blobs_decoded_in_part"
        case blobsNotFullyScanned = "blobs_not_fully_scanned"
        case notFullyScanned = "not_fully_scanned"
        case gitlinksSkipped = "gitlinks_skipped"
        case durationSeconds = "duration_seconds"
    }
}

/// Why a blob was not fully scanned.
public enum UnscannedReason: String, Sendable, Codable, Hashable, CaseIterable {
    /// Over the size limit (`max_blob_size`, `--max-blob-size`): not read at all.
    case tooLarge = "too-large"
    /// An archive whose opening stopped at a bound (depth, size or member count).
    case archiveTruncated = "archive-truncated"
    /// A PCRE2 limit stopped a rule at some offset in it.
    case regexLimit = "regex-limit"
    /// Named by history but not in the object database (a partial clone, a damaged repository).
    case missing = "missing"
    /// A file a hook was asked to scan (`staged --files`) that the index does not hold.
    case notStaged = "not-staged"

    /// For messages: what happened, in a few words.
    public var explanation: String {
        switch self {
        case .tooLarge: return "larger than the blob size limit, not read"
        case .archiveTruncated: return "an archive opened only in part (depth, size or member-count bound)"
        case .regexLimit: return "a rule stopped at PCRE2's match limit"
        case .missing: return "not in the repository's object database (a partial or damaged clone), not read"
        case .notStaged: return "not in the index (git add it, or leave it out), not scanned"
        }
    }

    static func from(_ gaps: ScanGaps) -> [UnscannedReason] {
        var out: [UnscannedReason] = []
        if gaps.contains(.archiveTruncated) { out.append(.archiveTruncated) }
        if gaps.contains(.regexLimit) { out.append(.regexLimit) }
        return out
    }
}

/// A blob (at one of its paths) that was not fully scanned, and why.
public struct UnscannedBlob: Sendable, Codable, Hashable {
    public let path: String
    /// The commit that brought it (empty for a staged file).
    public let commit: String
    public let blob: String
    public let reasons: [UnscannedReason]
    /// The rules a regex limit stopped, when that is a reason.
    public let rules: [String]?
    /// The blob's size in bytes, when it was too large.
    public let size: Int?

    /// How many a scan's summary lists (all are counted).
    public static let listed = 100

    public init(path: String, commit: String, blob: String, reasons: [UnscannedReason], rules: [String]? = nil, size: Int? = nil) {
        self.path = path
        self.commit = commit
        self.blob = blob
        self.reasons = reasons
        self.rules = rules
        self.size = size
    }

    /// `too large (30.0 MiB)`, `a rule stopped at PCRE2's match limit (nested-token)`.
    public var explanation: String {
        reasons.map { reason in
            switch reason {
            case .tooLarge:
                let size = self.size.map { " (\(SizeText.human($0)))" } ?? ""
                return "larger than the blob size limit\(size), not read"
            case .regexLimit: return reason.explanation + (rules.map { " (\($0.joined(separator: ", ")))" } ?? "")
            case .archiveTruncated, .missing, .notStaged: return reason.explanation
            }
        }.joined(separator: "; ")
    }
}

public struct ScanResult: Sendable {
    public var summary: ScanSummary
    /// Ordered by secret (first seen first), then by date, path and line.
    public var findings: [Finding]
    public var rules: [RuleInfo]
    /// The audit of HEAD (routes into history and images), when it ran.
    public var audit: AuditResult?
    /// `--fail-on-unscanned`: blobs not fully scanned fail the command.
    public var failOnUnscanned = false
    /// What produced the result: reports that keep runs apart (SARIF's category) say so.
    public var origin: ScanOrigin = .history
    /// Blobs this run scanned as deltas of another (what they inserted; the rest carried over).
    public var blobsScannedAsDeltas = 0
    /// Blobs this run rebuilt itself from their base's bytes and their delta (libgit2 read the rest).
    public var blobsRebuiltFromDeltas = 0

    public init(summary: ScanSummary, findings: [Finding], rules: [RuleInfo], audit: AuditResult? = nil) {
        self.summary = summary
        self.findings = findings
        self.rules = rules
        self.audit = audit
    }

    /// Whether anything found should fail the command.
    public var fails: Bool {
        findings.contains(where: \.blocks) || !(audit?.findings.isEmpty ?? true) || failsOnUnscanned
    }

    /// Blobs not fully scanned, and `--fail-on-unscanned` given.
    public var failsOnUnscanned: Bool { failOnUnscanned && summary.blobsNotFullyScanned > 0 }
}

/// What produced a result.
public enum ScanOrigin: String, Sendable, CaseIterable {
    /// `keyseal scan`: history (and the audit of HEAD).
    case history
    /// A hook (`keyseal staged`, `keyseal pre-push`): what is being committed or pushed.
    case hook
    /// `keyseal audit` alone.
    case audit
    /// `keyseal image`: container images.
    case image
}

/// What reports say about a rule: its name, and what SARIF, GitLab and CSV reports rank and explain
/// its findings by (how sure a match is, what kind of credential it finds, how to rotate one).
public struct RuleInfo: Sendable, Codable, Hashable {
    public let id: String
    public let provider: String
    public let description: String
    /// How sure a match is, as the rule states it (nil: not stated).
    public var confidence: RuleConfidence?
    /// A generic rule (passwords, assignments): more often a false positive than a provider's token.
    public var generic = false
    /// The provider builds a checksum into its tokens, which keyseal verifies offline.
    public var hasChecksum = false
    /// The provider's documentation of the token format.
    public var references: [String] = []
    /// How to rotate what the rule finds (its own guide, or the standard one).
    public var rotation: RotationGuide?

    public init(id: String, provider: String, description: String) {
        self.id = id
        self.provider = provider
        self.description = description
    }

    public init(_ rule: Rule) {
        self.init(id: rule.id, provider: rule.provider, description: rule.description)
        confidence = rule.confidence
        generic = rule.generic
        hasChecksum = rule.checksum != nil
        references = rule.references
        rotation = RotationGuide.guide(for: rule)
    }
}
