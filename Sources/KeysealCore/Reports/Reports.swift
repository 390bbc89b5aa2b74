import Foundation
import KeysealEngine

/// The report formats of `scan`, `audit` and the hooks' report files.
public enum ReportFormat: String, CaseIterable, Sendable {
    /// For people: grouped by secret, coloured on a terminal.
    case text
    /// keyseal's own JSON (`version` 1; its schema is docs/keyseal-report.schema.json).
    case json
    /// SARIF 2.1.0, as GitHub code scanning reads it.
    case sarif
    /// GitLab's secret detection report (`artifacts:reports:secret_detection`).
    case gitlab
    /// JUnit XML (GitLab `artifacts:reports:junit`, Jenkins, most CI test views).
    case junit
    /// CSV with a header row (RFC 4180), for spreadsheets and ticket imports.
    case csv

    /// The format a hook's report file is written in, from its name: `*.sarif`, GitLab's
    /// `gl-secret-detection-report.json` (any `*secret-detection-report.json`), `*.xml` (JUnit),
    /// `*.csv`; anything else JSON.
    public static func forReportFile(_ path: String) -> ReportFormat {
        let name = (path as NSString).lastPathComponent.lowercased()
        if name.hasSuffix(".sarif") || name.hasSuffix(".sarif.json") { return .sarif }
        if name.hasSuffix("secret-detection-report.json") { return .gitlab }
        if name.hasSuffix(".xml") { return .junit }
        if name.hasSuffix(".csv") { return .csv }
        return .json
    }
}

/// Every JSON keyseal writes: pretty, keys sorted (stable diffs), slashes unescaped, newline-terminated.
public enum JSONOutput {
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(value)
        data.append(0x0a)
        return TerminalText.escapeJSON(data)
    }
}

public enum ReportWriter {
    public static func render(_ result: ScanResult, format: ReportFormat, colour: Bool = false) throws -> Data {
        switch format {
        case .text: return Data(TextReport.render(result, colour: colour).utf8)
        case .json: return try JSONReport.render(result)
        case .sarif: return try SARIFReport.render(result)
        case .gitlab: return try GitLabReport.render(result)
        case .junit: return JUnitReport.render(result)
        case .csv: return CSVReport.render(result)
        }
    }
}

/// Grouped by secret; one line per occurrence: `path:line:column commit author date`.
enum TextReport {
    static func render(_ result: ScanResult, colour: Bool) -> String {
        func paint(_ text: String, _ code: String) -> String { colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
        let e = TerminalText.escape as (String) -> String
        var out = ""
        var groups: [(String, [Finding])] = []
        for finding in result.findings {
            if groups.last?.0 == finding.fingerprint { groups[groups.count - 1].1.append(finding) } else {
                groups.append((finding.fingerprint, [finding]))
            }
        }
        for (fingerprint, occurrences) in groups {
            let first = occurrences[0]
            let shown = first.secret.map { " secret \(e($0))" } ?? ""
            let status = first.status.map { $0 == .open ? "" : "  [\($0.rawValue)]" } ?? ""
            out += paint("● \(e(first.rule))", first.blocks ? "1;31" : "1;33") + " (\(e(first.provider)))  \(e(first.preview))\(shown)  "
                + paint("fingerprint \(fingerprint.prefix(12))", "2") + status + "\n"
            out += "  \(e(first.description))\n"
            if let paired = first.pairedWith { out += "  paired with secret \(paired.prefix(12))\n" }
            switch first.confidence {
            case "high": out += "  the provider's checksum verifies: almost surely a real token\n"
            case "low": out += "  the provider's checksum fails: probably a test value or a typo, but check it\n"
            default: break
            }
            for finding in occurrences {
                if let image = finding.image {
                    out += ImageTextReport.occurrence(finding, image, paint: paint)
                    continue
                }
                let date = String(finding.date.prefix(10))
                out += "    \(paint(e(finding.place), "1"))\(finding.identity.map { "  with \(e($0))" } ?? "")  \(finding.commit.prefix(10))  \(e(finding.author)) <\(e(finding.email))>  \(e(date))\n"
            }
            out += "\n"
        }
        if let audit = result.audit { out += AuditText.render(audit, colour: colour) }
        let s = result.summary
        let mib = String(format: "%.1f", Double(s.bytesScanned) / 1_048_576)
        let seconds = String(format: "%.2f", s.durationSeconds)
        if result.origin == .image {
            out += "Scanned \(s.blobsScanned) files (\(mib) MiB) in \(seconds) s; skipped \(s.blobsSkippedLarge) too large.\n"
        } else if s.commitsFromStore > 0 || s.blobsFromStore > 0 {
            // An incremental scan: say what was new and that the rest of the findings are the store's.
            out += "Scanned \(s.commits) new commit(s) on \(s.refs) refs (\(s.commitsFromStore) scanned before); read \(s.blobsScanned) blobs (\(mib) MiB)"
            out += s.blobsFromStore > 0 ? ", \(s.blobsFromStore) known from the store" : ""
            out += " in \(seconds) s; findings of earlier scans come from the store; "
        } else {
            out += "Scanned \(s.commits) commits on \(s.refs) refs: \(s.blobsScanned) blobs (\(mib) MiB) in \(seconds) s; "
        }
        if result.origin != .image {
            out += "\(s.blobsBinary) binary (printable text scanned), \(s.archives) archive(s) opened"
            out += s.archivesTruncated > 0 ? " (\(s.archivesTruncated) only in part: size or depth bounds)" : ""
            out += "; skipped \(s.blobsSkippedLarge) too large, \(s.gitlinksSkipped) submodule entries"
            out += s.blobsMissing > 0 ? ", \(s.blobsMissing) missing from the object database.\n" : ".\n"
        }
        out += UnscannedText.render(s)
        for note in s.notes { out += "Note: \(e(note))\n" }
        let blocking = Set(result.findings.filter(\.blocks).map(\.fingerprint)).count
        if s.findings == 0 {
            out += paint("No secrets found.", "32") + "\n"
        } else if blocking == 0 {
            out += paint("\(s.secrets) secret(s) in \(s.findings) place(s), all triaged (rotated, false positive or accepted).", "33") + "\n"
        } else {
            out += paint("\(s.secrets) secret(s) in \(s.findings) place(s)", "1;31")
            if blocking < s.secrets { out += paint(" (\(s.secrets - blocking) triaged: rotated, false positive or accepted)", "33") }
            out += result.origin == .image
                ? ". Treat each open one as leaked: rotate it, then rebuild the image without it (a file a later layer deletes is still in the image).\n"
                : ". Treat each open one as leaked: rotate it, then remove it from history.\n"
        }
        if result.failsOnUnscanned {
            out += paint("Failing: \(s.blobsNotFullyScanned) blob(s) not fully scanned, and --fail-on-unscanned is set.", "1;31") + "\n"
        }
        return out
    }
}

/// What a scan did not read in full, in the text report: counts by reason, the blobs (a few), the
/// regex limits by rule, and what to do.
enum UnscannedText {
    static let shown = 10

    static func render(_ s: ScanSummary) -> String {
        var out = ""
        if !s.regexLimitHits.isEmpty {
            let e = TerminalText.escape as (String) -> String
            let rules = s.regexLimitHits.sorted { $0.key < $1.key }.map { "\(e($0.key)) \($0.value) time(s)" }
            out += "Regex limits: PCRE2's match limit stopped \(rules.joined(separator: ", ")) in \(s.blobsRegexLimit) blob(s); "
                + "each went on after the offset that hit it (a pattern with nested quantifiers such as (a+)+ backtracks without end).\n"
        }
        if s.blobsDecodedInPart > 0 {
            out += "Note: in \(s.blobsDecodedInPart) blob(s), encoded text (base64, percent, JSON escapes) was decoded only in part, "
                + "past the decoding bounds (every rule still ran over all their bytes).\n"
        }
        guard s.blobsNotFullyScanned > 0 else { return out }
        out += "Not fully scanned: \(s.blobsNotFullyScanned) blob(s) a rule may have missed text in:\n"
        for blob in s.notFullyScanned.prefix(shown) {
            let commit = blob.commit.isEmpty ? "" : " (commit \(blob.commit.prefix(10)))"
            out += "  \(TerminalText.escape(blob.path))\(commit): \(TerminalText.escape(blob.explanation))\n"
        }
        if s.blobsNotFullyScanned > shown { out += "  … and \(s.blobsNotFullyScanned - shown) more (the JSON report lists up to \(UnscannedBlob.listed))\n" }
        out += "  To accept them, allow their paths in .keyseal.toml ([allowlist] paths = [...]); for blobs too large, "
            + "raise the limit (max_blob_size in .keyseal.toml, or --max-blob-size).\n"
        return out
    }
}

/// The stable JSON shape documented in the README (`version` 1).
enum JSONReport {
    struct Document: Encodable {
        let version = 1
        let tool: Tool
        let summary: ScanSummary
        let findings: [Finding]
        let audit: AuditResult?
    }
    struct Tool: Encodable {
        let name = "keyseal"
        let version = KeysealVersion.current
    }

    static func render(_ result: ScanResult) throws -> Data {
        return try JSONOutput.encode(Document(tool: Tool(), summary: result.summary, findings: result.findings, audit: result.audit))
    }
}

extension ReportWriter {
    /// One line for stderr when the report itself went to a file.
    public static func render(summaryOnly result: ScanResult) -> String {
        let s = result.summary
        var line = result.origin == .image
            ? "keyseal: \(s.blobsScanned) files scanned; \(s.secrets) secret(s) in \(s.findings) place(s)"
            : "keyseal: \(s.commits) commits, \(s.blobsScanned) blobs scanned; \(s.secrets) secret(s) in \(s.findings) place(s)"
        if s.blobsNotFullyScanned > 0 { line += "; \(s.blobsNotFullyScanned) blob(s) not fully scanned" }
        if result.failsOnUnscanned { line += " (failing: --fail-on-unscanned)" }
        return line + "\n"
    }
}

/// The built-in rules as reports and `keyseal rules` describe them.
public enum RuleCatalog {
    public static var builtIn: [RuleInfo] {
        BuiltInRules.all.map(RuleInfo.init)
    }

    /// Compiles the built-in rules into the on-disk rule cache (a no-op when they are there).
    /// Returns whether they were already cached.
    public static func compileIntoCache() throws -> Bool {
        try Matcher(rules: BuiltInRules.all, cacheDirectory: Matcher.defaultCacheDirectory).loadedFromCache
    }
}

/// The audit as text: one block per finding, the why and the fix under it.
enum AuditText {
    static func render(_ audit: AuditResult, colour: Bool) -> String {
        func paint(_ text: String, _ code: String) -> String { colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
        let e = TerminalText.escape as (String) -> String
        var out = ""
        for finding in audit.findings {
            let provider = finding.provider.map { "  (\(e($0)): \(e(finding.contentRule ?? "")))" } ?? ""
            out += paint("▲ \(e(finding.rule))", finding.severity == .high ? "1;31" : "1;33") + " [\(finding.severity.rawValue)]  "
                + paint("\(e(finding.path)):\(finding.line)", "1") + "  \(e(finding.detail))\(provider)\n"
            out += "    why: \(e(finding.why))\n    fix: \(e(finding.fix))\n\n"
        }
        for warning in audit.warnings { out += "Warning: \(e(warning))\n" }
        out += "Audit: \(audit.filesChecked) tracked files checked, \(audit.findings.count) route(s) found.\n"
        return out
    }
}

extension ReportWriter {
    /// The audit alone (`keyseal audit`), in any report format.
    public static func render(audit: AuditResult, format: ReportFormat, colour: Bool) throws -> Data {
        var result = ScanResult(summary: ScanSummary(), findings: [], rules: [], audit: audit)
        result.origin = .audit
        switch format {
        case .text: return Data(AuditText.render(audit, colour: colour).utf8)
        case .json: return try JSONOutput.encode(audit)
        case .sarif, .gitlab, .junit, .csv: return try render(result, format: format)
        }
    }
}
