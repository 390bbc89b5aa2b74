import Foundation

/// `.npmrc` tokens, `.pypirc` passwords, and credentials in `pip.conf` index URLs.
enum PackageConfigAudit {
    static func check(path: String, text: String) -> [AuditFinding] {
        let name = PathText.lastComponent(path).lowercased()
        var out: [AuditFinding] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for (index, raw) in lines.enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") || line.hasPrefix(";") { continue }
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            switch name {
            case ".npmrc":
                if key.hasSuffix("_authToken") || key.hasSuffix("_auth") || key.hasSuffix("_password"), SecretNames.isLiteral(value) {
                    out.append(AuditRules.finding("audit-npmrc-token", path: path, line: index + 1, detail: "\(key) = \(SecretNames.redacted(value))"))
                }
            case ".pypirc":
                if key == "password", SecretNames.isLiteral(value) {
                    out.append(AuditRules.finding("audit-pypirc-password", path: path, line: index + 1, detail: "password = \(SecretNames.redacted(value))"))
                }
            case "pip.conf", "pip.ini":
                if key.hasSuffix("index-url") || key == "find-links", let credentials = URLCredentials.password(in: value) {
                    out.append(AuditRules.finding("audit-pip-conf-credentials", path: path, line: index + 1,
                                                  detail: "\(key) with password \(SecretNames.redacted(credentials))"))
                }
            default: break
            }
        }
        return out
    }
}

/// `scheme://user:password@host`: the password (or a lone token in the user part).
enum URLCredentials {
    static func password(in url: String) -> String? {
        guard let scheme = url.range(of: "://") else { return nil }
        let rest = url[scheme.upperBound...]
        guard let at = rest.firstIndex(of: "@") else { return nil }
        let userInfo = rest[..<at]
        if userInfo.contains("/") { return nil }
        if let colon = userInfo.firstIndex(of: ":") {
            let password = String(userInfo[userInfo.index(after: colon)...])
            return password.isEmpty || !SecretNames.isLiteral(password) ? nil : password
        }
        // A lone user part that is long and mixed is a token (https://ghp_…@github.com).
        let token = String(userInfo)
        return token.count >= 20 && token.contains(where: \.isNumber) && token.contains(where: \.isLetter) ? token : nil
    }
}
