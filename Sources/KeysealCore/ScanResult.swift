/// Counts a report's summary gives, so nothing is skipped silently.
public struct ScanSummary: Sendable, Codable {
    public var commits = 0
    public var refs = 0
    public var blobsScanned = 0
    public var bytesScanned = 0
    /// Binary blobs: scanned through their printable runs (of 8 bytes or more).
    public var blobsBinary = 0
    /// Zip, tar and gzip blobs: scanned through their members.
    public var archives = 0
    /// Archives only partly opened: a bound on depth, size or member count stopped them.
    public var archivesTruncated = 0
    public var blobsSkippedLarge = 0
    public var gitlinksSkipped = 0
    public var findings = 0
    public var secrets = 0
    public var durationSeconds = 0.0
    /// Things the user should know about the scan itself (empty repository, shallow boundary…).
    public var notes: [String] = []

    enum CodingKeys: String, CodingKey {
        case commits, refs, findings, secrets, notes
        case blobsScanned = "blobs_scanned"
        case bytesScanned = "bytes_scanned"
        case blobsBinary = "blobs_binary"
        case archivesTruncated = "archives_truncated"
        case archives
        case blobsSkippedLarge = "blobs_skipped_large"
        case gitlinksSkipped = "gitlinks_skipped"
        case durationSeconds = "duration_seconds"
    }
}

public struct ScanResult: Sendable {
    public var summary: ScanSummary
    /// Ordered by secret (first seen first), then by date, path and line.
    public var findings: [Finding]
    public var rules: [RuleInfo]
    /// The audit of HEAD (routes into history and images), when it ran.
    public var audit: AuditResult?

    public init(summary: ScanSummary, findings: [Finding], rules: [RuleInfo], audit: AuditResult? = nil) {
        self.summary = summary
        self.findings = findings
        self.rules = rules
        self.audit = audit
    }

    /// Whether anything found should fail the command.
    public var fails: Bool { findings.contains(where: \.blocks) || !(audit?.findings.isEmpty ?? true) }
}

/// What reports say about a rule.
public struct RuleInfo: Sendable, Codable, Hashable {
    public let id: String
    public let provider: String
    public let description: String
}
