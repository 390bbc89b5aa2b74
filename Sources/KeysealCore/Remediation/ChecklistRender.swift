import Foundation
import KeysealEngine
import KeysealStore

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

    // MARK: - Shared wording

    /// The sections, in the checklist's order (false positives close it, without rotation steps).
    static let sections: [(status: SecretStatus, title: String, anchor: String)] = [
        (.open, "Open", "open"), (.rotated, "Rotated", "rotated"), (.accepted, "Accepted", "accepted"),
        (.falsePositive, "False positives", "false-positives"),
    ]

    static func statusWord(_ status: SecretStatus) -> String {
        status == .falsePositive ? "false positive" : status.rawValue
    }

    static func plural(_ count: Int, _ noun: String) -> String { "\(count) \(noun)\(count == 1 ? "" : "s")" }

    /// "6 secrets: 4 open, 1 rotated, 1 false positive": the parts add up to the total.
    static func countsLine(_ s: Checklist.Summary) -> String {
        guard s.secrets > 0 else { return "No secrets found" }
        let parts = [(s.open, "open"), (s.rotated, "rotated"), (s.accepted, "accepted"),
                     (s.falsePositive, s.falsePositive == 1 ? "false positive" : "false positives")]
            .filter { $0.0 > 0 }.map { "\($0.0) \($0.1)" }
        return "\(plural(s.secrets, "secret")): \(parts.joined(separator: ", "))"
    }

    static func exposureCounts(_ s: Checklist.Summary) -> String {
        "\(s.pushed) of them pushed to a remote, \(s.inHead) still in HEAD"
    }

    /// `2024-05-01 10:00 UTC` for a time the checklist holds (all UTC). A time that does not parse
    /// is shown as unknown, never as its text: a shared store's rows are written by many runners,
    /// and these strings go into HTML and Markdown unescaped.
    static func humanTime(_ iso: String) -> String {
        guard let seconds = Timestamp.seconds(iso) else { return "an unknown time" }
        let utc = Timestamp.iso8601UTC(Int64(seconds))  // yyyy-MM-ddTHH:mm:ssZ
        return "\(utc.prefix(10)) \(utc.dropFirst(11).prefix(5)) UTC"
    }

    static func day(_ iso: String) -> String {
        Timestamp.seconds(iso).map { String(Timestamp.iso8601UTC(Int64($0)).prefix(10)) } ?? "unknown date"
    }

    static func duration(_ seconds: Double) -> String {
        let days = Int(seconds / 86_400)
        return days < 1 ? "less than a day" : plural(days, "day")
    }

    /// The exposure window: from the first commit until removal from HEAD, or until now.
    static func window(_ e: Checklist.Entry, now: Double) -> String {
        let start = Timestamp.seconds(e.introduced) ?? now
        let end = e.removed.flatMap(Timestamp.seconds) ?? now
        let until = e.removed.map(humanTime) ?? (e.inHead ? "now (still in HEAD)" : "now (not in HEAD, still in history)")
        return "from \(humanTime(e.introduced)) until \(until), \(duration(end - start))"
    }

    static func generatedSeconds(_ c: Checklist) -> Double {
        Timestamp.seconds(c.generatedAt) ?? Date().timeIntervalSince1970
    }

    static let followUpPointer = "Then the steps after every rotation, below."

    // MARK: - Markdown

    /// Repository text as Markdown text: controls made visible, then Markdown's punctuation escaped
    /// so a crafted author or note cannot add links, HTML or formatting.
    static func mdText(_ text: String) -> String {
        var out = ""
        for character in TerminalText.escape(text) {
            if "\\`*_[]<>|~&#!".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }

    /// A code span that holds any text: the fence is longer than the longest run of backticks in it.
    static func mdCode(_ text: String) -> String { FollowUp.codeSpan(TerminalText.escape(text)) }

    /// An address from a guide: a link when it is http(s), text otherwise.
    static func mdLink(_ url: String) -> String {
        isWebAddress(url) && !url.contains(">") && !url.contains(" ") ? "<\(TerminalText.escape(url))>" : mdText(url)
    }

    static func isWebAddress(_ url: String) -> Bool { url.hasPrefix("https://") || url.hasPrefix("http://") }

    static func markdown(_ c: Checklist) -> String {
        let e = TerminalText.escape as (String) -> String
        let now = generatedSeconds(c)
        var out = "# Secret rotation checklist: \(mdText(c.repository))\n\n"
        out += "Generated \(humanTime(c.generatedAt)) by keyseal. All times are UTC.\n\n"
        out += "**\(countsLine(c.summary)).**"
        if c.summary.secrets > 0 {
            out += " \(exposureCounts(c.summary)). Open secrets first, the most urgent first (pushed, in a tag, still in HEAD, oldest); false positives last, without rotation steps."
        }
        out += "\n\n"
        if c.entries.isEmpty { out += "Nothing to rotate.\n" }
        let numbered = Array(c.entries.enumerated())
        for section in sections where section.status != .falsePositive {
            let members = numbered.filter { $0.element.status == section.status }
            guard !members.isEmpty else { continue }
            out += "## \(section.title) (\(members.count))\n\n"
            for (n, entry) in members {
                let box = entry.status == .rotated ? "- [x]" : "- [ ]"
                out += "### \(n + 1). \(mdText(entry.provider)): \(mdText(entry.description))\n\n"
                out += "\(box) **\(statusWord(entry.status))** · \(mdCode(entry.preview)) · fingerprint `\(entry.fingerprint.prefix(12))` · rule \(mdCode(entry.rule))"
                if entry.status == .accepted { out += " · not rotated: the risk was accepted" }
                out += "\n"
                if let note = entry.note { out += "- Note: \(mdText(note))\n" }
                if let paired = entry.paired { out += "- One secret in two parts: with \(mdCode(paired.rule)) \(mdCode(paired.preview)) (fingerprint `\(paired.fingerprint.prefix(12))`); rotating one rotates both.\n" }
                if let identity = entry.identity { out += "- Used with \(mdCode(identity)) from the same block: rotate the credential for that identity.\n" }
                out += "- **Exposure:** \(exposureLine(entry))\n"
                out += "- **Window:** \(window(entry, now: now))\n"
                out += "- First commit `\(entry.firstCommit.id.prefix(12))` by \(mdText(entry.firstCommit.author)) \\<\(mdText(entry.firstCommit.email))\\> on \(humanTime(entry.firstCommit.date))\n"
                if !entry.branches.isEmpty { out += "- Branches: \(entry.branches.map(mdCode).joined(separator: ", "))\n" }
                if !entry.tags.isEmpty { out += "- Tags: \(entry.tags.map(mdCode).joined(separator: ", "))\n" }
                if !entry.remoteRefs.isEmpty { out += "- Remote refs: \(entry.remoteRefs.map(mdCode).joined(separator: ", "))\n" }
                if !entry.images.isEmpty {
                    out += "- Images:\n"
                    for i in entry.images { out += "  - \(mdCode("\(i.image) \(i.platform)")): \(mdText(i.place)) (scanned \(day(i.scannedAt)))\n" }
                }
                out += "- Occurrences:\n"
                for o in entry.occurrences {
                    // Org-wide: the repository, and its first place of how many.
                    let repository = o.repository.map { "\(mdCode($0)): " } ?? ""
                    let more = o.places.map { $0 > 1 ? ", first of \($0) places" : "" } ?? ""
                    out += "  - \(repository)\(mdCode("\(o.path):\(o.line)")) in `\(o.commit.prefix(10))` (\(mdText(o.author)), \(day(o.date))\(more))\n"
                }
                if entry.status != .rotated { out += markdownGuide(entry.rotation) }
                out += "\n**Then:**\n\n"
                for step in entry.afterRotation.map(e) + FollowUp.steps(for: entry).map({ $0.text(code: mdCode) }) { out += "- [ ] \(step)\n" }
                out += "- [ ] \(followUpPointer)\n\n"
            }
        }
        if c.entries.contains(where: { $0.status != .falsePositive }) {
            out += "## After every rotation\n\nFor each secret, once it is rotated:\n\n"
            for step in c.afterEachRotation { out += "- [ ] \(e(step))\n" }
            out += "\nOnce, when every secret above is rotated:\n\n"
            for step in c.afterAllRotations { out += "- [ ] \(e(step))\n" }
            out += "\n"
        }
        let falsePositives = numbered.filter { $0.element.status == .falsePositive }
        if !falsePositives.isEmpty {
            out += "## False positives (\(falsePositives.count))\n\n"
            out += "Marked false positive in triage: no rotation steps. Were a marking wrong, the value would be exposed as shown.\n\n"
            for (n, entry) in falsePositives {
                let first = entry.occurrences.first.map { mdCode("\($0.path):\($0.line)") } ?? ""
                out += "- **\(n + 1).** \(mdText(entry.provider)): \(mdText(entry.description)) \(mdCode(entry.preview)) · fingerprint `\(entry.fingerprint.prefix(12))` · \(first) · \(exposureLine(entry)) · \(window(entry, now: now))"
                if let note = entry.note { out += " · note: \(mdText(note))" }
                out += "\n"
            }
            out += "\n"
        }
        return out
    }

    static func markdownGuide(_ guide: RotationGuide) -> String {
        let e = TerminalText.escape as (String) -> String
        var out = "\n**Rotate:** \(e(guide.revoke)).\n"
        if let console = guide.console { out += "\nConsole: \(mdLink(console))\n" }
        if let noConsole = guide.noConsole { out += "\nNo console page: \(e(noConsole))\n" }
        if !guide.cli.isEmpty {
            out += "\n```sh\n\(guide.cli.map(e).joined(separator: "\n"))\n```\n"
            if let reference = guide.cliReference { out += "\n(documented at \(mdLink(reference)))\n" }
        }
        if let notes = guide.notes { out += "\n\(TerminalText.escape(notes, keepingNewlines: true))\n" }
        return out
    }

    static func exposureLine(_ e: Checklist.Entry) -> String {
        [e.pushed ? "**pushed**" : "local only", e.inHead ? "**still in HEAD**" : "not in HEAD, history only",
         e.tags.isEmpty ? "in no tag" : "in \(plural(e.tags.count, "tag"))"].joined(separator: " · ")
    }

    // MARK: - HTML

    /// HTML text: controls made visible first (the page may be printed to a terminal), then `&<>"'`.
    static func escape(_ text: String) -> String {
        TerminalText.escape(text, keepingNewlines: true).replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "'", with: "&#39;")
    }

    /// A guide's text with its Markdown code spans (`git filter-repo`) as `<code>`; every piece escaped.
    /// An unpaired backtick stays a backtick.
    static func richText(_ text: String) -> String {
        let pieces = text.split(separator: "`", omittingEmptySubsequences: false).map(String.init)
        var out = ""
        for (index, piece) in pieces.enumerated() {
            let isCode = index % 2 == 1 && index < pieces.count - 1
            if index % 2 == 1 && !isCode { out += "`" }
            out += isCode ? "<code>\(escape(piece))</code>" : escape(piece)
        }
        return out
    }

    /// A guide's address as a link (http(s) only: never `javascript:` or a file from a crafted config).
    static func htmlLink(_ url: String) -> String {
        isWebAddress(url) ? "<a href=\"\(escape(url))\">\(escape(url))</a>" : escape(url)
    }

    static func statusClass(_ status: SecretStatus) -> String {
        status == .falsePositive ? "fp" : status.rawValue
    }

    static func badges(_ e: Checklist.Entry, today: Bool) -> String {
        var out = "<span class=\"badge st-\(statusClass(e.status))\">\(statusWord(e.status))</span>"
        out += e.pushed ? "<span class=\"badge warn\">pushed</span>" : "<span class=\"badge\">local only</span>"
        out += e.inHead ? "<span class=\"badge warn\">still in HEAD</span>" : "<span class=\"badge\">history only</span>"
        if !e.tags.isEmpty { out += "<span class=\"badge warn\">in \(plural(e.tags.count, "tag"))</span>" }
        if today { out += "<span class=\"badge new\">new today</span>" }
        return out
    }

    /// Paths that tell two secrets of one provider apart: the first, and how many more.
    /// Breaks are allowed after each `/`, so a long path wraps at its folders.
    static func wherePaths(_ e: Checklist.Entry) -> String {
        let paths = Array(Set(e.occurrences.map(\.path))).sorted()
        guard let first = e.occurrences.first?.path else { return "" }
        return escape(first).replacingOccurrences(of: "/", with: "/<wbr>") + (paths.count > 1 ? " (+\(paths.count - 1) more)" : "")
    }

    /// The exposure timeline's geometry: a month-aligned start, `now` a little before the right edge.
    struct Scale {
        let start: Double, end: Double, now: Double
        init(starts: [Double], now: Double) {
            self.now = now
            // At least four weeks shown, from the first of a month, so there is a month tick to read.
            let earliest = min(starts.min() ?? now, now - 28 * 86_400)
            start = Scale.monthStart(earliest)
            end = now + (now - start) * 0.04
        }

        func percent(_ t: Double) -> Double { min(100, max(0, (t - start) / (end - start) * 100)) }

        static var calendar: Calendar {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
            return calendar
        }

        static func monthStart(_ t: Double) -> Double {
            let parts = calendar.dateComponents([.year, .month], from: Date(timeIntervalSince1970: t))
            return calendar.date(from: parts)?.timeIntervalSince1970 ?? t
        }

        /// Month starts in range, thinned to at most 12 (every 1, 2, 3, 6 or 12 months), each with
        /// the time the next one starts (or the end): its label stays inside that span. The year is
        /// written on the first label and on January's.
        func ticks() -> [(at: Double, until: Double, label: String?)] {
            let names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
            var months: [(Double, Int, Int)] = []
            var date = Date(timeIntervalSince1970: start)
            while date.timeIntervalSince1970 < end {
                let parts = Scale.calendar.dateComponents([.year, .month], from: date)
                months.append((date.timeIntervalSince1970, parts.year ?? 0, parts.month ?? 1))
                guard let next = Scale.calendar.date(byAdding: .month, value: 1, to: date) else { break }
                date = next
            }
            let step = [1, 2, 3, 6, 12].first { months.count / $0 <= 12 } ?? 12
            let kept = months.filter { ($0.2 - 1) % step == 0 }
            return kept.enumerated().map { index, month in
                let until = index + 1 < kept.count ? kept[index + 1].0 : end
                // A span shorter than half a step (the last, partial one) is too narrow for a label.
                let wide = until - month.0 >= Double(step) * 15 * 86_400
                let name = index == 0 || month.2 == 1 ? "\(names[month.2 - 1]) \(month.1)" : names[month.2 - 1]
                return (month.0, until, wide ? name : nil)
            }
        }
    }

    static func timeline(_ c: Checklist, now: Double) -> String {
        let scale = Scale(starts: c.entries.compactMap { Timestamp.seconds($0.introduced) }, now: now)
        let nowAt = scale.percent(now)
        var ticks = ""
        for tick in scale.ticks() {
            let at = scale.percent(tick.at)
            let label = tick.label.map { "<span>\($0)</span>" } ?? ""
            ticks += "<div class=\"tick\" style=\"left:\(format(at))%;width:\(format(scale.percent(tick.until) - at))%\">\(label)</div>"
        }
        ticks += "<div class=\"now\" style=\"left:\(format(nowAt))%\"><span>now</span></div>"
        var rows = ""
        let todayStart = Scale.calendar.startOfDay(for: Date(timeIntervalSince1970: now)).timeIntervalSince1970
        for (i, e) in c.entries.enumerated() {
            let start = Timestamp.seconds(e.introduced) ?? now
            let end = e.removed.flatMap(Timestamp.seconds) ?? now
            let left = scale.percent(start), width = max(0, scale.percent(end) - left)
            let today = start >= todayStart
            let tip = "\(humanTime(e.introduced)) → \(e.removed.map(humanTime) ?? "now")"
            rows += "<div class=\"row\"><div class=\"label\"><a href=\"#secret-\(i + 1)\">\(i + 1). \(escape(e.provider)) <code>\(escape(e.preview))</code></a>"
            rows += "<small>\(wherePaths(e)) · <code>\(escape(String(e.fingerprint.prefix(12))))</code>\(e.pushed ? " · pushed" : "")\(e.inHead ? " · in HEAD" : "")</small></div>"
            rows += "<div class=\"track\"><div class=\"bar st-\(statusClass(e.status))\(today ? " today" : "")\" data-secret=\"\(i + 1)\" style=\"left:\(format(left))%;width:\(format(width))%\" title=\"\(escape(tip))\"></div>"
            if e.removed != nil, scale.percent(now) > left + width {
                rows += "<div class=\"tail st-\(statusClass(e.status))\" style=\"left:\(format(left + width))%;width:\(format(scale.percent(now) - left - width))%\"></div>"
            }
            if today { rows += "<span class=\"today-mark\" style=\"right:\(format(100 - left))%\">new today ▸</span>" }
            rows += "</div></div>\n"
        }
        let legend = """
            <ul class="legend"><li><i class="sw st-open"></i>open: still valid, rotate it</li>\
            <li><i class="sw st-accepted"></i>accepted: still valid, risk accepted</li>\
            <li><i class="sw st-rotated"></i>rotated</li>\
            <li><i class="sw st-fp"></i>marked false positive (not checked safe)</li>\
            <li><i class="sw today"></i>introduced today</li>\
            <li><i class="sw tail"></i>removed from HEAD, still in history until purged</li>\
            <li><i class="sw nowline"></i>now; a bar reaching it is still in HEAD</li></ul>
            <p class="hint">Each bar runs from the secret's first commit to its removal from HEAD, or to now while it is still in HEAD.</p>
            """
        return "\(legend)\n<div class=\"timeline\"><div class=\"axis\"><div class=\"label\"></div><div class=\"track\"></div></div><div class=\"ticks\">\(ticks)</div>\n\(rows)</div>\n"
    }

    static func format(_ value: Double) -> String { String(format: "%.3f", value) }

    static let style = """
        :root{--open:#c62828;--accepted:#b45f06;--rotated:#2e7d32;--fp:#6d6d6d;--label:300px}
        *{box-sizing:border-box}
        body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1150px;padding:0 1.5em;color:#1f1f1f;line-height:1.45}
        h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:2px solid #ddd;padding-bottom:.2em}
        h3{margin:.2em 0 .4em;font-size:1.15em}
        .meta{color:#555;margin-top:0}.counts{font-size:1.15em}
        nav a{margin-right:1em}
        code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace}
        code{background:#f2f2f2;padding:1px 4px;border-radius:3px;font-size:.88em;overflow-wrap:anywhere}
        pre{font-size:.88em;background:#f2f2f2;padding:8px 10px;overflow-x:auto;border-radius:4px;white-space:pre-wrap}
        table{border-collapse:collapse;width:100%;margin:1em 0}
        td,th{border:1px solid #d6d6d6;padding:4px 8px;text-align:left;font-size:14px;vertical-align:top}
        th{background:#f3f3f3}
        td.st{border-left:6px solid var(--c);font-weight:600}.nowrap{white-space:nowrap}
        table.summary{table-layout:fixed}.c-n{width:2.6em}.c-st{width:6.8em}.c-secret{width:32%}.c-exp{width:7.5em}.c-when{width:13em}table.summary code{overflow-wrap:normal}
        table.summary td:nth-child(4){overflow-wrap:break-word}
        .st-open{--c:var(--open)}.st-accepted{--c:var(--accepted)}.st-rotated{--c:var(--rotated)}.st-fp{--c:var(--fp)}
        .badge{display:inline-block;border:1px solid #999;border-radius:9px;padding:0 7px;margin:0 4px 2px 0;font-size:12px;font-weight:600;color:#444;background:#fff}
        .badge[class*=st-]{background:var(--c);border-color:var(--c);color:#fff}
        .badge.warn{border-color:var(--open);color:var(--open)}.badge.new{border-color:#1a237e;color:#1a237e}
        .legend{list-style:none;padding:0;margin:.5em 0;display:flex;flex-wrap:wrap;gap:.4em 1.4em;font-size:13px}
        .legend li{display:flex;align-items:center;gap:6px}
        .sw{display:inline-block;width:22px;height:12px;background:var(--c);border-radius:2px}
        .sw.st-fp,.bar.st-fp{background:repeating-linear-gradient(135deg,var(--fp) 0 4px,#d5d5d5 4px 8px)}
        .sw.tail{height:0;border-top:2px dotted #555;background:none;border-radius:0}
        .sw.today{width:12px;background:#fff;border:3px solid #1a237e}
        .sw.nowline{width:2px;height:16px;background:#1a237e}
        .hint{font-size:13px;color:#555;margin:.2em 0 .8em}
        .timeline{position:relative;border:1px solid #ddd;border-radius:4px;padding-bottom:20px}
        .timeline .row,.timeline .axis{display:grid;grid-template-columns:var(--label) 1fr}
        .timeline .axis{height:26px;border-bottom:1px solid #ddd}
        .timeline .row{border-bottom:1px solid #f0f0f0;min-height:40px}
        .timeline .label{padding:4px 10px;font-size:13px;overflow-wrap:anywhere;position:relative;z-index:1;background:#fff;border-right:1px solid #ddd}
        .timeline .label a{color:inherit;text-decoration:none;font-weight:600}
        .timeline .label small{display:block;color:#555;font-size:11.5px}
        .timeline .track{position:relative}
        .ticks{position:absolute;top:0;bottom:0;left:var(--label);right:0;pointer-events:none}
        .tick{position:absolute;top:0;bottom:0;border-left:1px dashed #cfcfcf}
        .tick span{display:block;padding:4px 0 0 4px;font-size:11.5px;color:#555;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
        .now{position:absolute;top:0;bottom:0;border-left:2px solid #1a237e}
        .now span{position:absolute;bottom:2px;right:5px;font-size:11.5px;font-weight:700;color:#1a237e}
        .bar{position:absolute;top:calc(50% - 8px);height:16px;min-width:6px;background:var(--c);border-radius:3px}
        .bar.today{min-width:10px;outline:3px solid #1a237e;outline-offset:1px}
        .track .tail{position:absolute;top:calc(50% - 1px);height:0;border-top:2px dotted var(--c)}
        .today-mark{position:absolute;top:calc(50% - 9px);margin-right:8px;font-size:11.5px;font-weight:700;color:#1a237e;white-space:nowrap}
        .entry{border:1px solid #ddd;border-left:6px solid var(--c);border-radius:4px;padding:.6em 1em;margin:1em 0}
        .entry dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:.5em 0}
        .entry dt{font-weight:600;color:#444}.entry dd{margin:0}
        .entry ul{margin:.3em 0}.entry dd ul{margin:0;padding-left:1.2em}
        ul.steps{list-style:none;padding-left:.3em}ul.steps li{margin:.3em 0}
        ul.steps label{display:flex;gap:.5em;align-items:baseline}ul.steps input{flex:none;margin:0}
        .fp-list li{margin:.4em 0}
        @page{margin:14mm}
        @media print{
        :root{--label:210px}
        .c-when{width:8.5em}
        body{margin:0;max-width:none;padding:0;font-size:10.5pt}
        nav{display:none}
        a{color:inherit;text-decoration:none}
        h2,h3{break-after:avoid}
        .row,tr,.entry dl,ul.steps li,pre{break-inside:avoid}
        .timeline,.legend{break-inside:avoid}
        *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
        }
        """

    /// One self-contained file: inline style, no script, nothing loaded from anywhere (and a
    /// Content-Security-Policy that forbids it, should repository text ever get past the escaping).
    static func html(_ c: Checklist) -> String {
        let now = generatedSeconds(c)
        let todayStart = Scale.calendar.startOfDay(for: Date(timeIntervalSince1970: now)).timeIntervalSince1970
        func isToday(_ e: Checklist.Entry) -> Bool { (Timestamp.seconds(e.introduced) ?? 0) >= todayStart }
        let numbered = Array(c.entries.enumerated())
        var out = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Secret rotation checklist: \(escape(c.repository))</title>
            <style>
            \(style)
            </style></head><body>
            <h1>Secret rotation checklist: \(escape(c.repository))</h1>
            <p class="meta">Generated \(humanTime(c.generatedAt)) by keyseal. All times are UTC.</p>
            <p class="counts"><strong>\(countsLine(c.summary)).</strong>\(c.summary.secrets > 0 ? " \(exposureCounts(c.summary))." : " Nothing to rotate.")</p>

            """
        guard !c.entries.isEmpty else { return out + "</body></html>\n" }
        var nav: [String] = []
        for section in sections {
            let count = c.entries.filter { $0.status == section.status }.count
            if count > 0 { nav.append("<a href=\"#\(section.anchor)\">\(section.title) (\(count))</a>") }
            if section.status == .accepted, c.entries.contains(where: { $0.status != .falsePositive }) {
                nav.append("<a href=\"#after-every-rotation\">After every rotation</a>")
            }
        }
        out += "<nav>\(nav.joined())</nav>\n"
        out += "<h2>Summary</h2><table class=\"summary\"><colgroup><col class=\"c-n\"><col class=\"c-st\"><col class=\"c-secret\"><col><col class=\"c-exp\"><col class=\"c-when\"></colgroup>"
        out += "<tr><th>#</th><th>Status</th><th>Secret</th><th>First found in</th><th>Exposure</th><th>Window</th></tr>\n"
        for (i, e) in numbered {
            let exposure = [e.pushed ? "<b>pushed</b>" : "local only", e.inHead ? "<b>in HEAD</b>" : "history only",
                            e.tags.isEmpty ? nil : "tags \(escape(e.tags.joined(separator: ", ")))"].compactMap { $0 }.joined(separator: "<br>")
            let end = e.removed.map(day) ?? "now"
            out += "<tr><td><a href=\"#secret-\(i + 1)\">\(i + 1)</a></td><td class=\"st st-\(statusClass(e.status))\">\(statusWord(e.status))</td>"
            out += "<td>\(escape(e.provider)) <code>\(escape(e.preview))</code><br><small>\(escape(e.description)) · <code>\(escape(String(e.fingerprint.prefix(12))))</code></small></td>"
            out += "<td>\(wherePaths(e))</td><td>\(exposure)</td><td><span class=\"nowrap\">\(day(e.introduced)) →</span> <span class=\"nowrap\">\(escape(end))</span>\(isToday(e) ? " <b>(new today)</b>" : "")</td></tr>\n"
        }
        out += "</table>\n<h2>Exposure timeline</h2>\n\(timeline(c, now: now))"
        for section in sections where section.status != .falsePositive {
            let members = numbered.filter { $0.element.status == section.status }
            guard !members.isEmpty else { continue }
            out += "<h2 id=\"\(section.anchor)\">\(section.title) (\(members.count))</h2>\n"
            for (i, e) in members { out += htmlEntry(e, number: i + 1, now: now, today: isToday(e)) }
        }
        if c.entries.contains(where: { $0.status != .falsePositive }) {
            out += "<h2 id=\"after-every-rotation\">After every rotation</h2><p>For each secret, once it is rotated:</p><ul class=\"steps\">"
            out += c.afterEachRotation.map { step(richText($0)) }.joined()
            out += "</ul><p>Once, when every secret above is rotated:</p><ul class=\"steps\">"
            out += c.afterAllRotations.map { step(richText($0)) }.joined() + "</ul>\n"
        }
        let falsePositives = numbered.filter { $0.element.status == .falsePositive }
        if !falsePositives.isEmpty {
            out += "<h2 id=\"false-positives\">False positives (\(falsePositives.count))</h2>"
            out += "<p>Marked false positive in triage: no rotation steps. Were a marking wrong, the value would be exposed as shown.</p><ul class=\"fp-list\">"
            for (i, e) in falsePositives {
                let first = e.occurrences.first.map { "<code>\(escape($0.path)):\($0.line)</code>" } ?? ""
                out += "<li id=\"secret-\(i + 1)\"><b>\(i + 1). \(escape(e.provider)): \(escape(e.description))</b> <code>\(escape(e.preview))</code> · fingerprint <code>\(escape(String(e.fingerprint.prefix(12))))</code> · \(first)<br>"
                out += badges(e, today: isToday(e)) + " exposed \(escape(window(e, now: now)))"
                if let note = e.note { out += "<br>Note: \(escape(note))" }
                out += "</li>"
            }
            out += "</ul>\n"
        }
        return out + "</body></html>\n"
    }

    /// A step to tick: the box, then its text as one block (it wraps beside the box, not under it).
    static func step(_ html: String) -> String {
        "<li><label><input type=\"checkbox\"><span>\(html)</span></label></li>"
    }

    static func htmlEntry(_ e: Checklist.Entry, number: Int, now: Double, today: Bool) -> String {
        var out = "<section class=\"entry st-\(statusClass(e.status))\" id=\"secret-\(number)\">"
        out += "<h3>\(number). \(escape(e.provider)): \(escape(e.description))</h3><div>\(badges(e, today: today))</div><dl>"
        func row(_ name: String, _ value: String) { out += "<dt>\(name)</dt><dd>\(value)</dd>" }
        row("Secret", "<code>\(escape(e.preview))</code> · fingerprint <code>\(escape(String(e.fingerprint.prefix(12))))</code> · rule <code>\(escape(e.rule))</code>")
        if e.status == .accepted { row("Status", "accepted: not rotated, the risk was accepted") }
        if let note = e.note { row("Note", escape(note)) }
        if let paired = e.paired {
            row("Paired", "one secret in two parts: with <code>\(escape(paired.rule))</code> <code>\(escape(paired.preview))</code> (fingerprint <code>\(escape(String(paired.fingerprint.prefix(12))))</code>); rotating one rotates both")
        }
        if let identity = e.identity { row("Used with", "<code>\(escape(identity))</code> from the same block: rotate the credential for that identity") }
        row("Exposure", "\(e.pushed ? "<b>pushed</b> to a remote" : "local only, not pushed") · \(e.inHead ? "<b>still in HEAD</b>" : "not in HEAD, history only") · \(e.tags.isEmpty ? "in no tag" : "in \(plural(e.tags.count, "tag"))")")
        row("Window", escape(window(e, now: now)))
        row("First commit", "<code>\(escape(String(e.firstCommit.id.prefix(12))))</code> by \(escape(e.firstCommit.author)) &lt;\(escape(e.firstCommit.email))&gt; on \(humanTime(e.firstCommit.date))")
        if !e.branches.isEmpty { row("Branches", e.branches.map { "<code>\(escape($0))</code>" }.joined(separator: ", ")) }
        if !e.tags.isEmpty { row("Tags", e.tags.map { "<code>\(escape($0))</code>" }.joined(separator: ", ")) }
        if !e.remoteRefs.isEmpty { row("Remote refs", e.remoteRefs.map { "<code>\(escape($0))</code>" }.joined(separator: ", ")) }
        if !e.images.isEmpty {
            row("Images", "<ul>" + e.images.map {
                "<li><code>\(escape($0.image)) \(escape($0.platform))</code>: \(escape($0.place)) (scanned \(day($0.scannedAt)))</li>"
            }.joined() + "</ul>")
        }
        row("Occurrences", "<ul>" + e.occurrences.map {
            "<li>\($0.repository.map { "<code>\(escape($0))</code>: " } ?? "")<code>\(escape($0.path)):\($0.line)</code> in <code>\(escape(String($0.commit.prefix(10))))</code> (\(escape($0.author)), \(day($0.date))\($0.places.map { $0 > 1 ? ", first of \($0) places" : "" } ?? ""))</li>"
        }.joined() + "</ul>")
        out += "</dl>"
        if e.status != .rotated {
            let guide = e.rotation
            out += "<p><b>Rotate:</b> \(richText(guide.revoke)).</p>"
            if let console = guide.console { out += "<p>Console: \(htmlLink(console))</p>" }
            if let noConsole = guide.noConsole { out += "<p>No console page: \(richText(noConsole))</p>" }
            if !guide.cli.isEmpty {
                out += "<pre>\(escape(guide.cli.joined(separator: "\n")))</pre>"
                if let reference = guide.cliReference { out += "<p class=\"hint\">(documented at \(htmlLink(reference)))</p>" }
            }
            if let notes = guide.notes { out += "<p>\(richText(notes))</p>" }
        }
        out += "<p><b>Then:</b></p><ul class=\"steps\">"
        let steps = e.afterRotation.map(richText) + FollowUp.steps(for: e).map { $0.text { "<code>\(escape($0))</code>" } }
        out += steps.map(step).joined()
        out += step("Then the steps <a href=\"#after-every-rotation\">after every rotation</a>.") + "</ul></section>\n"
        return out
    }
}
