import Foundation

/// Literal secrets in compose `environment:` sections (list `- KEY=value` and map `KEY: value` forms).
enum ComposeAudit {
    static func isCompose(_ path: String) -> Bool {
        let name = PathText.lastComponent(path).lowercased()
        return (name.hasPrefix("docker-compose") || name.hasPrefix("compose")) && (name.hasSuffix(".yml") || name.hasSuffix(".yaml"))
    }

    static func indent(_ line: Substring) -> Int { line.prefix { $0 == " " }.count }

    static func check(path: String, text: String) -> [AuditFinding] {
        var out: [AuditFinding] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var sectionIndent: Int? = nil
        for (index, line) in lines.enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            if let level = sectionIndent {
                if indent(line) <= level && !trimmed.hasPrefix("- ") || indent(line) < level {
                    sectionIndent = nil
                } else {
                    var entry = trimmed.hasPrefix("- ") ? String(trimmed.dropFirst(2)) : trimmed
                    entry = entry.trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
                    let separator = trimmed.hasPrefix("- ") ? "=" : ":"
                    guard let split = entry.range(of: separator) else { continue }
                    let name = entry[..<split.lowerBound].trimmingCharacters(in: .whitespaces)
                    var value = entry[split.upperBound...].trimmingCharacters(in: .whitespaces)
                    if let comment = value.range(of: " #") { value = String(value[..<comment.lowerBound]) }
                    if SecretNames.looksSecret(name) && SecretNames.isLiteral(value) {
                        out.append(AuditRules.finding("audit-compose-secret-env", path: path, line: index + 1,
                                                      detail: "\(name)=\(SecretNames.redacted(value))"))
                    }
                    continue
                }
            }
            if trimmed == "environment:" { sectionIndent = indent(line) }
        }
        return out
    }
}

/// `kind: Secret` manifests with values: the route, and their decoded `data:` for the content rules.
enum KubernetesAudit {
    struct Result {
        var findings: [AuditFinding] = []
        /// Decoded `data:` values with the line of their key, for the content rules.
        var decoded: [(line: Int, text: String)] = []
        var warnings: [String] = []
    }

    static func check(path: String, text: String) -> Result {
        var result = Result()
        guard text.contains("Secret") else { return result }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var start = 0
        for index in 0...lines.count where index == lines.count || lines[index].hasPrefix("---") {
            document(Array(lines[start..<index]), firstLine: start + 1, path: path, into: &result)
            start = index + 1
        }
        return result
    }

    private static func document(_ lines: [String], firstLine: Int, path: String, into result: inout Result) {
        guard let kindLine = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "kind: Secret" && !$0.hasPrefix(" ") })
        else { return }
        var section: String? = nil
        var values = 0
        for (offset, line) in lines.enumerated() {
            if !line.hasPrefix(" ") {
                let key = line.split(separator: ":").first.map(String.init) ?? ""
                section = (key == "data" || key == "stringData") ? key : nil
                continue
            }
            guard let section, let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: CharacterSet(charactersIn: " \"'"))
            guard !value.isEmpty, !value.hasPrefix("{{"), value != "|", value != ">" else { continue }
            values += 1
            if section == "data" {
                if let data = Data(base64Encoded: value), let decoded = String(data: data, encoding: .utf8) {
                    result.decoded.append((firstLine + offset, decoded))
                } else {
                    result.warnings.append("\(path):\(firstLine + offset): a Secret data value is not valid base64")
                }
            }
        }
        if values > 0 {
            result.findings.append(AuditRules.finding("audit-k8s-secret-manifest", path: path, line: firstLine + kindLine,
                                                      detail: "Secret with \(values) value(s)"))
        }
    }
}

/// The repository's own configuration: remote URLs with credentials, the plain-text credential store.
enum GitConfigAudit {
    static func check(entries: [(name: String, value: String)]) -> [AuditFinding] {
        var out: [AuditFinding] = []
        for (name, value) in entries {
            let lower = name.lowercased()
            if lower.hasPrefix("remote.") && (lower.hasSuffix(".url") || lower.hasSuffix(".pushurl")),
               let secret = URLCredentials.password(in: value) {
                out.append(AuditRules.finding("audit-git-remote-credentials", path: ".git/config", line: 1,
                                              detail: "\(name) holds \(SecretNames.redacted(secret))"))
            }
            if lower == "credential.helper", value.trimmingCharacters(in: .whitespaces).hasPrefix("store") {
                out.append(AuditRules.finding("audit-git-credential-store", path: ".git/config", line: 1, detail: "credential.helper = \(value)"))
            }
        }
        return out
    }
}
