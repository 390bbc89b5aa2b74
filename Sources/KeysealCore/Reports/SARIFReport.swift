import Foundation
import KeysealEngine
import KeysealStore

/// SARIF 2.1.0, written for GitHub code scanning ("SARIF support for code scanning" in GitHub's
/// documentation): one run, one reporting descriptor per rule used, one result per finding.
///
/// - Rules carry `help.text` and `help.markdown` (the provider's rotation guide), `helpUri`,
///   `properties.precision` from the rule's confidence and `properties.security-severity` by the
///   kind of credential (`CredentialClass`), which GitHub ranks and filters alerts by.
/// - Results carry `partialFingerprints.primaryLocationLineHash`, the one fingerprint GitHub uses to
///   match results across runs, computed here from the finding (secret, path, commit, position)
///   rather than by the upload action from the file's line: a secret only in history has no line in
///   the checked-out file to hash.
/// - Triaged secrets (rotated, false positive, accepted) carry a `suppressions` entry (kind
///   `external`: the decision is in keyseal's store or baseline, not in the source) with the triage
///   note as its justification; open ones an empty list once the store or baseline was consulted.
/// - `runs[].automationDetails.id` is the category (`keyseal/scan/`, `keyseal/audit/`,
///   `keyseal/hook/`), so a scan's and an audit's uploads for one commit do not replace each other.
enum SARIFReport {
    static func render(_ result: ScanResult) throws -> Data {
        let rules = ReportRules(result)
        let auditFindings = result.audit?.findings ?? []
        let auditRules = AuditRules.all.filter { rule in auditFindings.contains { $0.rule == rule.id } }
        var ruleIndex = Dictionary(uniqueKeysWithValues: rules.used.enumerated().map { ($0.element.id, $0.offset) })
        for (offset, rule) in auditRules.enumerated() where ruleIndex[rule.id] == nil { ruleIndex[rule.id] = rules.used.count + offset }
        var descriptors: [[String: Any]] = rules.used.map(descriptor)
        descriptors += auditRules.map(descriptor)
        var results: [[String: Any]] = result.findings.map { finding in
            self.result(finding, rule: rules[finding], index: ruleIndex[finding.rule] ?? 0)
        }
        results += auditFindings.map { self.result($0, index: ruleIndex[$0.rule] ?? 0) }
        let document: [String: Any] = [
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [[
                "tool": ["driver": [
                    "name": "keyseal", "version": KeysealVersion.current, "semanticVersion": KeysealVersion.current,
                    "informationUri": KeysealVersion.informationURI, "rules": descriptors,
                ]],
                "automationDetails": ["id": "keyseal/\(category(result.origin))/"],
                "columnKind": "unicodeCodePoints",
                "originalUriBaseIds": ["%SRCROOT%": ["description": ["text": "The root of the repository's work tree."]]],
                "results": results,
                "properties": ["commits": result.summary.commits, "blobsScanned": result.summary.blobsScanned,
                               "blobsNotFullyScanned": result.summary.blobsNotFullyScanned],
            ]],
        ]
        var data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        data.append(0x0a)
        return TerminalText.escapeJSON(data)
    }

    /// GitHub reads `category/run-id` and keeps one analysis per tool and category for a commit.
    static func category(_ origin: ScanOrigin) -> String {
        switch origin {
        case .history: return "scan"
        case .hook: return "hook"
        case .audit: return "audit"
        case .image: return "image"
        }
    }

    static func name(_ id: String) -> String {
        id.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    static func descriptor(_ rule: RuleInfo) -> [String: Any] {
        let credential = CredentialClass(rule)
        return [
            "id": rule.id,
            "name": name(rule.id),
            "shortDescription": ["text": rule.description],
            "fullDescription": ["text": "\(rule.description) (\(rule.provider)). A committed credential stays readable in every clone of the history until it is rotated."],
            "helpUri": RuleHelp.helpURI(rule),
            "help": ["text": RuleHelp.text(rule), "markdown": RuleHelp.markdown(rule)],
            "defaultConfiguration": ["level": credential.band.sarifLevel],
            "properties": [
                "tags": ["security", "secret", "external/cwe/cwe-798", credential.rawValue, rule.provider],
                "precision": RulePrecision.of(rule),
                "security-severity": credential.securitySeverityText,
            ],
        ]
    }

    static func descriptor(_ rule: AuditRule) -> [String: Any] {
        [
            "id": rule.id,
            "name": name(rule.id),
            "shortDescription": ["text": rule.title],
            "fullDescription": ["text": rule.why],
            "helpUri": KeysealVersion.informationURI,
            "help": ["text": "Fix: \(rule.fix)", "markdown": "**Why:** \(rule.why)\n\n**Fix:** \(rule.fix)"],
            "defaultConfiguration": ["level": level(rule.severity)],
            "properties": ["tags": ["security", "secret", "audit"], "precision": "high",
                           "security-severity": rule.severity == .high ? "7.5" : (rule.severity == .medium ? "5.0" : "2.0")],
        ]
    }

    static func level(_ severity: AuditSeverity) -> String {
        severity == .low ? "note" : (severity == .medium ? "warning" : "error")
    }

    static func result(_ finding: Finding, rule: RuleInfo, index: Int) -> [String: Any] {
        var properties: [String: Any] = [
            "commit": finding.commit, "author": finding.author, "email": finding.email, "date": finding.date,
            "provider": finding.provider, "preview": finding.preview, "blob": finding.blob, "fingerprint": finding.fingerprint,
            "path": finding.path,
        ]
        if let secret = finding.secret { properties["secret"] = secret }
        if let paired = finding.pairedWith { properties["pairedWith"] = paired }
        if let confidence = finding.confidence { properties["confidence"] = confidence }
        if let encoding = finding.encoding { properties["encoding"] = encoding }
        if let inHead = finding.inHead { properties["inHead"] = inHead }
        if let status = finding.status { properties["triageStatus"] = status.rawValue }
        if let image = finding.image, let data = try? JSONEncoder().encode(image),
           let place = try? JSONSerialization.jsonObject(with: data) {
            properties["image"] = place
        }
        let identity = ResultIdentity.of(finding)
        var out: [String: Any] = [
            "ruleId": finding.rule,
            "ruleIndex": index,
            "level": CredentialClass(rule).band.sarifLevel,
            "message": ["text": FindingText.summary(finding)],
            "locations": [location(finding)],
            "partialFingerprints": [
                "primaryLocationLineHash": "\(identity.prefix(16)):1",
                "keyseal/v1": finding.fingerprint,
                "commitSha": finding.commit,
            ],
            "properties": properties,
        ]
        if let status = finding.status {
            // An empty list: the result was checked against the triage decisions and none applies.
            out["suppressions"] = TriageText.justification(finding).map { justification in
                [["kind": "external", "status": "accepted", "justification": justification,
                  "properties": ["triageStatus": status.rawValue]]]
            } ?? []
        }
        return out
    }

    /// Where a result points. GitHub code scanning matches a location's relative URI against the
    /// files committed at the analysed commit and annotates the region's lines of the file it finds
    /// ("Specifying the root for source files" and the `physicalLocation` object in "SARIF support
    /// for code scanning"), and shows no result without a location ("At least one location is
    /// required"). A secret in HEAD, or one a hook found in what is being committed, points at its
    /// file and lines. A secret only in history must not point at its path: the file there now is a
    /// later version, and its lines are innocent. So it points where no committed file can be, under
    /// `.git/` (a path git refuses in any tree): `.git/keyseal-history/<commit>/<path>`, with the
    /// region of that commit's version. GitHub then lists the alert with that path and the message,
    /// which names the commit first, and annotates no line of any file.
    static func location(_ finding: Finding) -> [String: Any] {
        if let image = finding.image {
            // Not a file of the repository: under a folder no repository file is expected in, named
            // by image, platform and layer (or config), so GitHub lists it without annotating a file.
            let layer = image.layerIndex.map { "layer-\($0)" } ?? image.source.rawValue
            let uri = "\(imagePrefix)\(self.uri(image.image))/\(self.uri(image.platform))/\(layer)/\(self.uri(finding.path))"
            return ["physicalLocation": ["artifactLocation": ["uri": uri, "uriBaseId": "%SRCROOT%"], "region": region(finding)]]
        }
        let historyOnly = FindingText.isHistoryOnly(finding)
        let uri = historyOnly ? "\(historyPrefix)\(finding.commit)/\(self.uri(finding.path))" : self.uri(finding.path)
        var location: [String: Any] = [
            "physicalLocation": ["artifactLocation": ["uri": uri, "uriBaseId": "%SRCROOT%"], "region": region(finding)],
        ]
        if historyOnly {
            location["message"] = ["text": "\(finding.place) as of commit \(finding.commit); HEAD no longer has this version of the file."]
        }
        return location
    }

    /// Where a secret only in history is placed: inside the git directory, where no tracked file is.
    static let historyPrefix = ".git/keyseal-history/"
    /// Where an image's secret is placed.
    static let imagePrefix = ".keyseal-image/"

    /// A binary has no lines: SARIF's byte region instead (its length unknown only for a record an
    /// earlier keyseal wrote, then left out rather than guessed). In text, the end is given when known.
    static func region(_ finding: Finding) -> [String: Any] {
        if let offset = finding.byteOffset {
            var region: [String: Any] = ["byteOffset": offset]
            if let length = finding.byteLength { region["byteLength"] = length }
            return region
        }
        let line = max(1, finding.line)
        var region: [String: Any] = ["startLine": line, "startColumn": max(1, finding.column), "endLine": finding.endLine ?? line]
        if let end = finding.endColumn { region["endColumn"] = end }
        return region
    }

    static func result(_ finding: AuditFinding, index: Int) -> [String: Any] {
        var properties: [String: Any] = ["severity": finding.severity.rawValue, "detail": finding.detail]
        if let provider = finding.provider { properties["provider"] = provider }
        if let content = finding.contentRule { properties["contentRule"] = content }
        let identity = ResultIdentity.of(finding)
        return [
            "ruleId": finding.rule,
            "ruleIndex": index,
            "level": level(finding.severity),
            "message": ["text": "\(finding.detail). \(finding.why) Fix: \(finding.fix)"],
            "locations": [[
                "physicalLocation": [
                    "artifactLocation": ["uri": uri(finding.path), "uriBaseId": "%SRCROOT%"],
                    "region": ["startLine": max(1, finding.line)],
                ],
            ]],
            "partialFingerprints": ["primaryLocationLineHash": "\(identity.prefix(16)):1", "keyseal/v1": identity],
            "properties": properties,
        ]
    }

    /// A relative URI reference: every byte outside the unreserved set and `/` is percent-encoded.
    static func uri(_ path: String) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)..<Unicode.Scalar(128)))
        allowed.insert(charactersIn: "-._~/")
        return path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path
    }
}
