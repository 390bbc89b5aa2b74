import Foundation
import KeysealEngine
import KeysealStore

/// GitLab's secret detection report (`artifacts:reports:secret_detection`), version 15.2.1 of the
/// schema in GitLab's security-report-schemas project: one vulnerability per finding, each tied to
/// its commit (GitLab links a vulnerability to the file at that commit, so a secret only in history
/// is shown where it was, not on a later version's line), and one per audit finding.
///
/// Triage: a false positive carries GitLab's `flagged-as-likely-false-positive` flag; a rotated
/// secret is of `Info` severity (it no longer opens anything; its history still wants cleaning); an
/// accepted one keeps its severity. Every status and note is in the vulnerability's details.
/// The clear secret is written (as `raw_source_code_extract`) only with `--show-secrets`.
enum GitLabReport {
    static let schemaVersion = "15.2.1"
    static let schemaURI = "https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/v15.2.1/dist/secret-detection-report-format.json"
    /// What a vulnerability names as its commit when there is none: a staged change not yet
    /// committed. GitLab requires a sha; git's own word for "no object" is the all-zero id.
    static let noCommit = String(repeating: "0", count: 40)

    struct Document: Encodable {
        let version = GitLabReport.schemaVersion
        let schema = GitLabReport.schemaURI
        let scan: Scan
        let vulnerabilities: [Vulnerability]
    }

    struct Scan: Encodable {
        let analyzer = Tool()
        let scanner = Tool()
        let type = "secret_detection"
        let status = "success"
        let startTime: String
        let endTime: String
        let messages: [Message]

        enum CodingKeys: String, CodingKey {
            case analyzer, scanner, type, status, messages
            case startTime = "start_time"
            case endTime = "end_time"
        }
    }

    struct Tool: Encodable {
        let id = "keyseal"
        let name = "keyseal"
        let version = KeysealVersion.current
        let vendor = Vendor()
        let url = KeysealVersion.informationURI
    }

    struct Vendor: Encodable {
        let name = "keyseal"
    }

    struct Message: Encodable {
        /// `info`, `warn` or `fatal`.
        let level: String
        let value: String
    }

    struct Vulnerability: Encodable {
        let id: String
        let name: String
        let description: String
        let severity: String
        let solution: String
        let identifiers: [Identifier]
        let links: [Link]?
        let location: Location
        let details: [String: Detail]
        let flags: [Flag]?
        /// The clear secret: only with `--show-secrets`.
        let rawSourceCodeExtract: String?

        enum CodingKeys: String, CodingKey {
            case id, name, description, severity, solution, identifiers, links, location, details, flags
            case rawSourceCodeExtract = "raw_source_code_extract"
        }
    }

    struct Identifier: Encodable {
        let type: String
        let name: String
        let value: String
        let url: String?
    }

    struct Link: Encodable {
        let name: String
        let url: String
    }

    struct Location: Encodable {
        let file: String
        let commit: Commit
        let startLine: Int?
        let endLine: Int?

        enum CodingKeys: String, CodingKey {
            case file, commit
            case startLine = "start_line"
            case endLine = "end_line"
        }
    }

    struct Commit: Encodable {
        let sha: String
        let author: String?
        let date: String?
    }

    struct Flag: Encodable {
        let type = "flagged-as-likely-false-positive"
        let origin = "keyseal triage"
        let description: String
    }

    /// One entry of a named-list `details` object: a text, a value, a commit or a URL.
    struct Detail: Encodable {
        let name: String
        let type: String
        let value: DetailValue?
        let href: String?

        static func text(_ name: String, _ value: String) -> Detail { Detail(name: name, type: "text", value: .text(value), href: nil) }
        static func flag(_ name: String, _ value: Bool) -> Detail { Detail(name: name, type: "value", value: .flag(value), href: nil) }
        static func commit(_ name: String, _ sha: String) -> Detail { Detail(name: name, type: "commit", value: .text(sha), href: nil) }
        static func url(_ name: String, _ href: String) -> Detail { Detail(name: name, type: "url", value: nil, href: href) }
    }

    enum DetailValue: Encodable {
        case text(String)
        case flag(Bool)

        func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .text(let text): try container.encode(text)
            case .flag(let flag): try container.encode(flag)
            }
        }
    }

    static func render(_ result: ScanResult, now: Date = Date()) throws -> Data {
        let rules = ReportRules(result)
        var vulnerabilities = result.findings.map { vulnerability($0, rule: rules[$0]) }
        if let audit = result.audit {
            vulnerabilities += audit.findings.map { vulnerability($0, commit: audit.commit) }
        }
        let started = now.addingTimeInterval(-max(0, result.summary.durationSeconds))
        let document = Document(scan: Scan(startTime: timestamp(started), endTime: timestamp(now), messages: messages(result)),
                                vulnerabilities: vulnerabilities)
        return try JSONOutput.encode(document)
    }

    /// `yyyy-mm-ddThh:mm:ss` in UTC, as the schema's pattern wants.
    static func timestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        return formatter.string(from: date)
    }

    /// The scan's notes, and what it did not read in full.
    static func messages(_ result: ScanResult) -> [Message] {
        var out = result.summary.notes.filter { !$0.isEmpty }.map { Message(level: "info", value: $0) }
        if result.summary.blobsNotFullyScanned > 0 {
            out.append(Message(level: "warn", value: "\(result.summary.blobsNotFullyScanned) blob(s) not fully scanned (too large, an archive opened only in part, a regex limit); the JSON report lists them"))
        }
        for warning in result.audit?.warnings ?? [] where !warning.isEmpty { out.append(Message(level: "warn", value: warning)) }
        return out
    }

    static func vulnerability(_ finding: Finding, rule: RuleInfo) -> Vulnerability {
        let credential = CredentialClass(rule)
        let severity = finding.status == .rotated ? "Info" : credential.band.rawValue.capitalized
        var details: [String: Detail] = [
            "fingerprint": .text("Fingerprint", finding.fingerprint),
            "preview": .text("Preview", finding.preview),
            "blob": .text("Blob", finding.blob),
        ]
        if !finding.commit.isEmpty { details["commit"] = .commit("Commit", finding.commit) }
        if let status = finding.status { details["status"] = .text("Triage status", status.rawValue) }
        if let justification = TriageText.justification(finding) { details["triage_note"] = .text("Triage", justification) }
        if let inHead = finding.inHead { details["in_head"] = .flag("Still in HEAD", inHead) }
        if let encoding = finding.encoding { details["encoding"] = .text("Encoding", encoding) }
        if let confidence = finding.confidence { details["confidence"] = .text("Checksum confidence", confidence) }
        if let identity = finding.identity { details["identity"] = .text("Used with", identity) }
        if let paired = finding.pairedWith { details["paired_with"] = .text("Paired with secret", paired) }
        let guide = RuleHelp.guide(rule)
        let links = ([guide.console.map { Link(name: "Revoke and re-issue (\(rule.provider) console)", url: $0) },
                      guide.cliReference.map { Link(name: "\(rule.provider) CLI reference", url: $0) }]
                     + rule.references.map { Link(name: "\(rule.provider) token documentation", url: $0) })
            .compactMap { $0 }.filter { $0.url.hasPrefix("http") }
        let line = finding.byteOffset == nil && finding.line >= 1 ? finding.line : nil
        return Vulnerability(
            id: ResultIdentity.uuid(ResultIdentity.of(finding)),
            name: String(finding.description.prefix(255)),
            description: FindingText.summary(finding),
            severity: severity,
            solution: String(RuleHelp.text(rule).prefix(7000)),
            identifiers: [
                Identifier(type: "keyseal_rule_id", name: "keyseal rule \(rule.id)", value: rule.id, url: RuleHelp.helpURI(rule)),
                Identifier(type: "cwe", name: "CWE-798", value: "798", url: "https://cwe.mitre.org/data/definitions/798.html"),
            ],
            links: links.isEmpty ? nil : links,
            location: Location(file: finding.path,
                               commit: Commit(sha: finding.commit.isEmpty ? noCommit : finding.commit,
                                              author: finding.author.isEmpty ? nil : "\(finding.author) <\(finding.email)>",
                                              date: finding.date.isEmpty ? nil : finding.date),
                               startLine: line, endLine: line.map { _ in finding.endLine ?? finding.line }),
            details: details,
            flags: finding.status == .falsePositive ? [Flag(description: TriageText.justification(finding) ?? "false positive")] : nil,
            rawSourceCodeExtract: finding.secret)
    }

    static func vulnerability(_ finding: AuditFinding, commit: String?) -> Vulnerability {
        let title = AuditRules.all.first { $0.id == finding.rule }?.title ?? finding.rule
        var details: [String: Detail] = ["detail": .text("Found", finding.detail)]
        if let provider = finding.provider { details["provider"] = .text("Provider", provider) }
        if let content = finding.contentRule { details["content_rule"] = .text("Content rule", content) }
        return Vulnerability(
            id: ResultIdentity.uuid(ResultIdentity.of(finding)),
            name: String(title.prefix(255)),
            description: "\(finding.detail). \(finding.why)",
            severity: finding.severity.rawValue.capitalized,
            solution: String(finding.fix.prefix(7000)),
            identifiers: [Identifier(type: "keyseal_audit_rule_id", name: "keyseal audit rule \(finding.rule)", value: finding.rule,
                                     url: KeysealVersion.informationURI)],
            links: nil,
            location: Location(file: finding.path, commit: Commit(sha: commit ?? noCommit, author: nil, date: nil),
                               startLine: finding.line >= 1 ? finding.line : nil, endLine: finding.line >= 1 ? finding.line : nil),
            details: details, flags: nil, rawSourceCodeExtract: nil)
    }
}
