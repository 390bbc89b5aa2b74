import Foundation
import KeysealStore

/// CSV (RFC 4180): a header row, then one row per finding and per audit finding, fields separated
/// by commas, records by CRLF, a field quoted (its quotes doubled) when it holds a comma, a quote or
/// a line break. The column set is fixed; `secret` stays empty unless `--show-secrets`.
///
/// Every text field comes from the repository or the rules, so two guards apply before quoting:
/// controls become visible escapes (`TerminalText`), so each record stays on one line and nothing
/// acts on a terminal; and a field that begins with `=`, `+`, `-` or `@` gets a leading `'`, so a
/// spreadsheet opening the file reads it as text and never as a formula (CSV injection).
enum CSVReport {
    static let columns = [
        "kind", "status", "severity", "rule", "provider", "description", "path", "line", "column", "end_line", "end_column",
        "byte_offset", "encoding", "commit", "author", "email", "date", "in_head", "fingerprint", "preview", "confidence",
        "secret", "triage_note",
    ]

    static func render(_ result: ScanResult) -> Data {
        let rules = ReportRules(result)
        var out = record(columns)
        for finding in result.findings {
            let credential = CredentialClass(rules[finding])
            let row: [String: String] = [
                "kind": "secret",
                "status": finding.status?.rawValue ?? "open",
                "severity": credential.band.rawValue,
                "rule": finding.rule,
                "provider": finding.provider,
                "description": finding.description,
                "path": finding.path,
                "line": finding.byteOffset == nil ? String(finding.line) : "",
                "column": finding.byteOffset == nil ? String(finding.column) : "",
                "end_line": finding.endLine.map(String.init) ?? "",
                "end_column": finding.endColumn.map(String.init) ?? "",
                "byte_offset": finding.byteOffset.map(String.init) ?? "",
                "encoding": finding.encoding ?? "",
                "commit": finding.commit,
                "author": finding.author,
                "email": finding.email,
                "date": finding.date,
                "in_head": finding.inHead.map { $0 ? "true" : "false" } ?? "",
                "fingerprint": finding.fingerprint,
                "preview": finding.preview,
                "confidence": finding.confidence ?? "",
                "secret": finding.secret ?? "",
                "triage_note": finding.triageNote ?? "",
            ]
            out += record(columns.map { row[$0] ?? "" })
        }
        for finding in result.audit?.findings ?? [] {
            let row: [String: String] = [
                "kind": "audit",
                "status": "open",
                "severity": finding.severity.rawValue,
                "rule": finding.rule,
                "provider": finding.provider ?? "",
                "description": finding.detail,
                "path": finding.path,
                "line": String(finding.line),
            ]
            out += record(columns.map { row[$0] ?? "" })
        }
        return Data(out.utf8)
    }

    static func record(_ fields: [String]) -> String {
        fields.map(field).joined(separator: ",") + "\r\n"
    }

    static func field(_ value: String) -> String {
        var text = TerminalText.escape(value)
        if let first = text.unicodeScalars.first, "=+-@".unicodeScalars.contains(first) { text = "'" + text }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
