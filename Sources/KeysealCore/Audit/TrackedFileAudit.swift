import Foundation

/// Files that should never be in git, judged by name and (where the name is not enough) content.
enum TrackedFileAudit {
    static let envTemplates = [".env.example", ".env.sample", ".env.template", ".env.dist", ".env.defaults", ".env.test.example"]
    static let keyNames = ["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk"]
    static let keystoreSuffixes = [".p12", ".pfx", ".jks", ".keystore"]

    static func isEnvFile(_ name: String) -> Bool {
        (name == ".env" || name.hasPrefix(".env.")) && !envTemplates.contains(name) && !name.hasSuffix(".example")
            && !name.hasSuffix(".sample") && !name.hasSuffix(".template")
    }

    /// `content` is read only for the names whose verdict depends on it.
    static func check(path: String, content: () -> String?) -> AuditFinding? {
        let name = PathText.lastComponent(path)
        let lower = name.lowercased()
        if isEnvFile(name) {
            return AuditRules.finding("audit-tracked-env-file", path: path, line: 1, detail: name)
        }
        if keyNames.contains(name) {
            return AuditRules.finding("audit-tracked-private-key", path: path, line: 1, detail: name)
        }
        if lower.hasSuffix(".pem") || lower.hasSuffix(".key") {
            guard let text = content(), let line = firstLine(containing: "PRIVATE KEY-----", in: text) else { return nil }
            return AuditRules.finding("audit-tracked-private-key", path: path, line: line, detail: name)
        }
        if keystoreSuffixes.contains(where: { lower.hasSuffix($0) }) {
            return AuditRules.finding("audit-tracked-keystore", path: path, line: 1, detail: name)
        }
        if [".git-credentials", ".netrc", "_netrc", ".pgpass", "credentials.json"].contains(lower) {
            return AuditRules.finding("audit-tracked-credentials-file", path: path, line: 1, detail: name)
        }
        if lower.hasSuffix(".tfstate") || lower.hasSuffix(".tfstate.backup") {
            return AuditRules.finding("audit-tracked-terraform-state", path: path, line: 1, detail: name)
        }
        if lower.hasSuffix(".json") {
            guard let text = content() else { return nil }
            if let line = firstLine(matching: #""type"\s*:\s*"service_account""#, in: text), text.contains("private_key") {
                return AuditRules.finding("audit-tracked-service-account", path: path, line: line, detail: name)
            }
            if path.hasSuffix(".docker/config.json") || lower == "config.json",
               text.contains("\"auths\""), let line = firstLine(matching: #""auth"\s*:\s*"[A-Za-z0-9+/=]{8,}""#, in: text) {
                return AuditRules.finding("audit-tracked-docker-config", path: path, line: line, detail: name)
            }
        }
        if lower == "kubeconfig" || path.hasSuffix(".kube/config") || lower.hasSuffix(".kubeconfig")
            || lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") || lower == "config" {
            guard let text = content(), text.contains("kind: Config"), text.contains("users:") else { return nil }
            // Blanks as `[ \t]`, not `\s`: `^\s*` over a file of blank lines (or of `\r`s, each a line
            // start to ICU) tried the run again from every line start, quadratic in the file.
            if let line = firstLine(matching: #"^[ \t]*(token|client-key-data|password)[ \t]*:[ \t]*\S+"#, in: text) {
                return AuditRules.finding("audit-tracked-kubeconfig", path: path, line: line, detail: name)
            }
        }
        return nil
    }

    static func firstLine(containing needle: String, in text: String) -> Int? {
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where line.contains(needle) {
            return index + 1
        }
        return nil
    }

    static func firstLine(matching pattern: String, in text: String) -> Int? {
        guard let regex = try? NSRegularExpression(pattern: pattern, options: [.anchorsMatchLines]) else { return nil }
        // A match within a line is a match in the whole text (the patterns hold no `$` or lookaround),
        // so a text without one has no line with one: one call instead of one per line (a HEAD's .json
        // and .yaml files were most of an audit's time). Each pattern begins with a literal, or a line
        // start and blanks that end with the line, so that call costs time linear in the text.
        guard regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil else { return nil }
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let string = String(line)
            if regex.firstMatch(in: string, range: NSRange(string.startIndex..., in: string)) != nil { return index + 1 }
        }
        return nil
    }
}
