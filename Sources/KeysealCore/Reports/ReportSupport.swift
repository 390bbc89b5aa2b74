import Crypto
import Foundation
import KeysealEngine
import KeysealStore

/// The rules a report describes: the scan's, and for a finding whose rule the scan no longer has (a
/// store's record of a rule since removed), one made from what the finding says of it.
struct ReportRules {
    private(set) var byID: [String: RuleInfo] = [:]
    /// In first-use order: the rules of the findings, as SARIF lists its descriptors.
    private(set) var used: [RuleInfo] = []

    init(_ result: ScanResult) {
        let known = Dictionary(result.rules.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for finding in result.findings where byID[finding.rule] == nil {
            let rule = known[finding.rule] ?? RuleInfo(id: finding.rule, provider: finding.provider, description: finding.description)
            byID[rule.id] = rule
            used.append(rule)
        }
    }

    subscript(_ finding: Finding) -> RuleInfo {
        // Safe to fall back: init put every finding's rule in, this only keeps the subscript total.
        byID[finding.rule] ?? RuleInfo(id: finding.rule, provider: finding.provider, description: finding.description)
    }
}

/// Stable names for results, the same from run to run while the finding is the same: what CI
/// systems match results across runs by.
enum ResultIdentity {
    /// One occurrence of a secret: the secret, where it stands and the commit it is attributed to.
    static func of(_ finding: Finding) -> String {
        digest(["keyseal-occurrence", finding.rule, finding.fingerprint, finding.path, finding.commit,
                String(finding.line), String(finding.column), finding.byteOffset.map(String.init) ?? ""])
    }

    /// One route the audit found: rule, place and what was found (never a clear secret).
    static func of(_ finding: AuditFinding) -> String {
        digest(["keyseal-audit", finding.rule, finding.path, String(finding.line), finding.detail])
    }

    /// A UUID-shaped form of a digest (version 8, "custom", as RFC 9562 allows for hashes of one's own).
    static func uuid(_ digest: String) -> String {
        var hex = Array(digest.prefix(32))
        hex[12] = "8"
        // The variant bits 10xx: the high nibble of the clock sequence is one of 8, 9, a, b.
        let variant = Array("89ab")
        hex[16] = variant[Int(hex[16].hexDigitValue ?? 0) & 3]
        let text = String(hex)
        func part(_ from: Int, _ to: Int) -> Substring { text.dropFirst(from).prefix(to - from) }
        return [part(0, 8), part(8, 12), part(12, 16), part(16, 20), part(20, 32)].joined(separator: "-")
    }

    /// SHA-256 over the parts, each ended by a zero byte (so no two lists of parts collide), in hex.
    static func digest(_ parts: [String]) -> String {
        var hasher = SHA256()
        for part in parts {
            hasher.update(data: Array(part.utf8))
            hasher.update(data: [0])
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

/// How to rotate what a rule finds, as reports write it: SARIF's rule help, GitLab's solution.
enum RuleHelp {
    static func guide(_ rule: RuleInfo) -> RotationGuide {
        rule.rotation ?? RotationGuide.standard(provider: rule.provider, description: rule.description, reference: rule.references.first)
    }

    /// The page to open first: the provider's console, else its CLI documentation, else its
    /// documentation of the token, else keyseal's.
    static func helpURI(_ rule: RuleInfo) -> String {
        let guide = guide(rule)
        return [guide.console, guide.cliReference, rule.references.first].compactMap { $0 }.first { $0.hasPrefix("http") }
            ?? KeysealVersion.informationURI
    }

    /// The rotation guide and the history clean-up, in Markdown (GitHub shows this beside each alert).
    static func markdown(_ rule: RuleInfo) -> String {
        let guide = guide(rule)
        var out = "A **\(rule.provider)** credential (\(rule.description)) was committed. Treat it as leaked, even if a later commit removed it: rotate it first, then remove it from history.\n\n"
        out += "### Revoke and re-issue\n\n\(sentence(guide.revoke))\n\n"
        if let console = guide.console { out += "Console: <\(console)>\n\n" }
        if let noConsole = guide.noConsole { out += "\(sentence(noConsole))\n\n" }
        if !guide.cli.isEmpty {
            out += "```shell\n" + guide.cli.joined(separator: "\n") + "\n```\n\n"
            if let reference = guide.cliReference { out += "CLI reference: <\(reference)>\n\n" }
        }
        out += "### Then\n\n" + (guide.update + RotationGuide.afterwards).map { "- \(sentence($0))" }.joined(separator: "\n") + "\n\n"
        if let notes = guide.notes { out += "\(sentence(notes))\n\n" }
        out += "### Remove it from history\n\n\(historyCleanup)\n"
        return out
    }

    /// The same in plain text.
    static func text(_ rule: RuleInfo) -> String {
        let guide = guide(rule)
        var out = "A \(rule.provider) credential (\(rule.description)) was committed. Treat it as leaked, even if a later commit removed it: rotate it first, then remove it from history.\n\n"
        out += "Revoke and re-issue: \(sentence(guide.revoke))\n"
        if let console = guide.console { out += "Console: \(console)\n" }
        if let noConsole = guide.noConsole { out += "\(sentence(noConsole))\n" }
        if !guide.cli.isEmpty {
            out += "CLI:\n" + guide.cli.map { "  \($0)" }.joined(separator: "\n") + "\n"
            if let reference = guide.cliReference { out += "CLI reference: \(reference)\n" }
        }
        out += "Then:\n" + (guide.update + RotationGuide.afterwards).map { "  - \(sentence($0))" }.joined(separator: "\n") + "\n"
        if let notes = guide.notes { out += "\(sentence(notes))\n" }
        out += "Remove it from history: \(historyCleanup)\n"
        return out
    }

    static let historyCleanup = "once it is rotated, rewrite history (git filter-repo --replace-text, or BFG), force-push every branch and tag that held it, have every clone re-cloned, and rebuild images built from the affected commits. keyseal checklist lists these steps for each secret."

    /// A guide's phrase as a sentence: capitalised, with a full stop.
    static func sentence(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let first = trimmed.first else { return trimmed }
        let capitalised = first.uppercased() + trimmed.dropFirst()
        return ".!?".contains(capitalised.last ?? ".") ? capitalised : capitalised + "."
    }
}

/// What reports say of a triage decision.
enum TriageText {
    /// `rotated: revoked and re-issued on …`, or the status alone when no note was given.
    static func justification(_ finding: Finding) -> String? {
        guard let status = finding.status, status != .open else { return nil }
        let note = finding.triageNote.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        return note.isEmpty ? "\(status.rawValue) (keyseal triage; no note given)" : "\(status.rawValue): \(note)"
    }
}

/// A finding's time and place in words, for report messages.
enum FindingText {
    /// Only in history: HEAD no longer has this version of the file at this path.
    static func isHistoryOnly(_ finding: Finding) -> Bool { finding.inHead == false }

    static func day(_ finding: Finding) -> String { String(finding.date.prefix(10)) }

    /// `GitHub personal access token (ghp_…)` with its encoding when it was hidden in one.
    static func what(_ finding: Finding) -> String {
        "\(finding.description) (\(finding.preview))" + (finding.encoding.map { ", \($0)-encoded" } ?? "")
    }

    /// One line a reader can act on: for a secret only in history, that it is, and the commit, first.
    static func summary(_ finding: Finding) -> String {
        if let image = finding.image { return imageSummary(finding, image) }
        let commit = finding.commit.isEmpty ? "" : " in \(finding.commit.prefix(10))"
        let by = finding.author.isEmpty ? "" : " by \(finding.author)"
        let on = finding.date.isEmpty ? "" : " on \(day(finding))"
        if isHistoryOnly(finding) {
            return "History only (commit \(finding.commit.prefix(10))): \(what(finding)) was committed at \(finding.place)\(by)\(on) and is no longer in HEAD at that path. Rotate it, then remove it from history."
        }
        return "\(what(finding)) committed\(commit)\(by)\(on). Rotate it, then remove it from history."
    }

    /// Image, platform, where in it, and whether a container still sees it.
    static func imageSummary(_ finding: Finding, _ image: ImagePlace) -> String {
        let inImage = "in image \(image.image) (\(image.platform))"
        switch image.source {
        case .layer:
            let state: String
            switch image.visibility ?? .visible {
            case .visible: state = ""
            case .deleted: state = "; a later layer deletes the file, but it is still in the image"
            case .overwritten: state = "; a later layer overwrites the file, but it is still in the image"
            }
            let made = image.instruction.map { ", made by `\(String($0.prefix(200)))`" } ?? ""
            return "\(what(finding)) \(inImage), layer \(image.layerIndex ?? 0)\(made), at \(finding.place)\(state). Rotate it, then rebuild the image without it."
        case .config, .history, .annotation:
            return "\(what(finding)) \(inImage), \(image.source.rawValue) \(finding.path). Rotate it, then rebuild the image without it."
        case .attestation:
            return "\(what(finding)) \(inImage), attestation \(image.entry ?? ""). Rotate it, then rebuild the image without it."
        }
    }
}
