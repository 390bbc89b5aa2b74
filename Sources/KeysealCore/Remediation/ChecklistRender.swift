import Foundation

public enum ChecklistFormat: String, CaseIterable, Sendable {
    case markdown, json, html
}

public enum ChecklistRenderer {
    public static func render(_ checklist: Checklist, as format: ChecklistFormat) throws -> Data {
        switch format {
        case .json:
            return try JSONOutput.encode(checklist)
        case .markdown: return Data(markdown(checklist).utf8)
        case .html: return Data(html(checklist).utf8)
        }
    }

    static func exposureLine(_ e: Checklist.Entry) -> String {
        [e.pushed ? "**pushed**" : "local only", e.inHead ? "**still in HEAD**" : "history only",
         e.tags.isEmpty ? "in no tag" : "in \(e.tags.count) tag(s)"].joined(separator: " · ")
    }

    static func markdown(_ c: Checklist) -> String {
        let e = TerminalText.escape as (String) -> String
        var out = "# Secret rotation checklist: \(e(c.repository))\n\n"
        out += "Generated \(c.generatedAt) by keyseal. \(c.summary.secrets) secret(s): \(c.summary.open) open, \(c.summary.rotated) rotated; \(c.summary.pushed) pushed, \(c.summary.inHead) still in HEAD. Most urgent first.\n\n"
        if c.entries.isEmpty { out += "Nothing to rotate.\n" }
        for (n, entry) in c.entries.enumerated() {
            let box = entry.status == .open ? "- [ ]" : "- [x]"
            out += "## \(n + 1). \(e(entry.provider)): \(e(entry.description))\n\n"
            out += "\(box) **\(entry.status.rawValue)** · rule `\(e(entry.rule))` · `\(e(entry.preview))` · fingerprint `\(entry.fingerprint.prefix(12))`"
            if let note = entry.note { out += " · note: \(e(note))" }
            if let paired = entry.paired { out += "\n\nOne secret in two parts: with `\(e(paired.rule))` `\(e(paired.preview))` (fingerprint `\(paired.fingerprint.prefix(12))`); rotating one rotates both." }
            if let identity = entry.identity { out += "\n\nUsed with `\(e(identity))` from the same block: rotate the credential for that identity." }
            out += "\n\n**Exposure:** \(exposureLine(entry))\n\n"
            out += "- First commit: `\(entry.firstCommit.id.prefix(12))` by \(e(entry.firstCommit.author)) <\(e(entry.firstCommit.email))> on \(e(entry.firstCommit.date))\n"
            out += "- Exposed from \(e(entry.introduced)) until \(e(entry.removed ?? (entry.inHead ? "now (still in HEAD)" : "now")))\n"
            if !entry.branches.isEmpty { out += "- Branches: \(entry.branches.map { "`\(e($0))`" }.joined(separator: ", "))\n" }
            if !entry.tags.isEmpty { out += "- Tags: \(entry.tags.map { "`\(e($0))`" }.joined(separator: ", "))\n" }
            if !entry.remoteRefs.isEmpty { out += "- Remote refs: \(entry.remoteRefs.map { "`\(e($0))`" }.joined(separator: ", "))\n" }
            out += "- Occurrences:\n"
            for o in entry.occurrences { out += "  - `\(e(o.path)):\(o.line)` in `\(o.commit.prefix(10))` (\(e(o.author)), \(e(String(o.date.prefix(10)))))\n" }
            out += "\n**Rotate:** \(e(entry.rotation.revoke)).\n"
            if !entry.rotation.cli.isEmpty { out += "\n```sh\n\(entry.rotation.cli.map { e($0) }.joined(separator: "\n"))\n```\n" }
            if let notes = entry.rotation.notes { out += "\n\(TerminalText.escape(notes, keepingNewlines: true))\n" }
            out += "\n**Then:**\n\n"
            for step in entry.afterRotation + entry.followUps { out += "- [ ] \(e(step))\n" }
            out += "\n"
        }
        return out
    }

    /// HTML text: controls made visible first (the page may be printed to a terminal), then `&<>"`.
    static func escape(_ text: String) -> String {
        TerminalText.escape(text, keepingNewlines: true).replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// One self-contained file: inline style and SVG, no scripts, fonts or images from anywhere.
    static func html(_ c: Checklist) -> String {
        func seconds(_ text: String) -> Double { Timestamp.seconds(text) ?? Date().timeIntervalSince1970 }
        let now = Date().timeIntervalSince1970
        let starts = c.entries.map { seconds($0.introduced) }
        let lowest = starts.min() ?? now - 86_400
        let span = max(now - lowest, 86_400)
        let width = 760.0, rowHeight = 26.0, labelWidth = 220.0
        var svg = "<svg width=\"\(Int(width + labelWidth))\" height=\"\(Int(Double(c.entries.count) * rowHeight + 40))\" role=\"img\" aria-label=\"Exposure timeline\">"
        for (i, e) in c.entries.enumerated() {
            let start = seconds(e.introduced)
            let end = e.removed.map(seconds) ?? now
            let x = labelWidth + (start - lowest) / span * width
            let w = max(3, (end - start) / span * width)
            let y = Double(i) * rowHeight + 8
            let colour = e.status == .open ? (e.pushed ? "#c62828" : "#ef6c00") : "#2e7d32"
            svg += "<text x=\"0\" y=\"\(y + 14)\" font-size=\"12\">\(i + 1). \(escape(e.provider)) \(escape(e.preview))</text>"
            svg += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(w)\" height=\"18\" fill=\"\(colour)\"><title>\(escape(e.introduced)) → \(escape(e.removed ?? "now"))</title></rect>"
        }
        let axisY = Double(c.entries.count) * rowHeight + 30
        svg += "<text x=\"\(labelWidth)\" y=\"\(axisY)\" font-size=\"11\">\(escape(String(Timestamp.iso8601UTC(Int64(lowest)).prefix(10))))</text>"
        svg += "<text x=\"\(labelWidth + width - 60)\" y=\"\(axisY)\" font-size=\"11\">now</text></svg>"
        var out = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Secret rotation checklist: \(escape(c.repository))</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
            table{border-collapse:collapse;width:100%;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:14px}
            th{background:#f3f3f3}.open{color:#c62828;font-weight:bold}.rotated{color:#2e7d32}.entry{border-top:2px solid #ddd;margin-top:1.5em;padding-top:.5em}
            code{background:#f5f5f5;padding:1px 4px}pre{background:#f5f5f5;padding:8px;overflow-x:auto}
            </style></head><body>
            <h1>Secret rotation checklist: \(escape(c.repository))</h1>
            <p>Generated \(escape(c.generatedAt)) by keyseal. \(c.summary.secrets) secret(s): \(c.summary.open) open, \(c.summary.rotated) rotated; \(c.summary.pushed) pushed, \(c.summary.inHead) still in HEAD.</p>
            <h2>Summary</h2><table><tr><th>#</th><th>Status</th><th>Provider</th><th>Rule</th><th>Preview</th><th>Pushed</th><th>In HEAD</th><th>Tags</th><th>Introduced</th><th>Removed</th></tr>

            """
        for (i, e) in c.entries.enumerated() {
            out += "<tr><td>\(i + 1)</td><td class=\"\(e.status == .open ? "open" : "rotated")\">\(e.status.rawValue)</td><td>\(escape(e.provider))</td><td><code>\(escape(e.rule))</code></td><td><code>\(escape(e.preview))</code></td><td>\(e.pushed ? "yes" : "no")</td><td>\(e.inHead ? "yes" : "no")</td><td>\(escape(e.tags.joined(separator: ", ")))</td><td>\(escape(String(e.introduced.prefix(10))))</td><td>\(escape(e.removed.map { String($0.prefix(10)) } ?? "—"))</td></tr>\n"
        }
        out += "</table>\n<h2>Exposure timeline</h2>\n\(svg)\n"
        for (i, e) in c.entries.enumerated() {
            out += "<div class=\"entry\"><h2>\(i + 1). \(escape(e.provider)): \(escape(e.description))</h2>"
            out += "<p><input type=\"checkbox\" disabled\(e.status == .open ? "" : " checked")> <b>\(e.status.rawValue)</b> · rule <code>\(escape(e.rule))</code> · <code>\(escape(e.preview))</code> · fingerprint <code>\(escape(String(e.fingerprint.prefix(12))))</code>\(e.note.map { " · note: " + escape($0) } ?? "")\(e.identity.map { " · used with <code>" + escape($0) + "</code>" } ?? "")</p>"
            out += "<p>First commit <code>\(escape(String(e.firstCommit.id.prefix(12))))</code> by \(escape(e.firstCommit.author)) &lt;\(escape(e.firstCommit.email))&gt; on \(escape(e.firstCommit.date)). Branches: \(escape(e.branches.joined(separator: ", "))). Tags: \(escape(e.tags.joined(separator: ", "))).</p><ul>"
            for o in e.occurrences { out += "<li><code>\(escape(o.path)):\(o.line)</code> in <code>\(escape(String(o.commit.prefix(10))))</code> (\(escape(o.author)))</li>" }
            out += "</ul><p><b>Rotate:</b> \(escape(e.rotation.revoke)).</p>"
            if !e.rotation.cli.isEmpty { out += "<pre>\(escape(e.rotation.cli.joined(separator: "\n")))</pre>" }
            out += "<ul>" + (e.afterRotation + e.followUps).map { "<li>\(escape($0))</li>" }.joined() + "</ul></div>\n"
        }
        return out + "</body></html>\n"
    }
}
