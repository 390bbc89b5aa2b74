/// How bad a route is.
public enum AuditSeverity: String, Codable, Sendable, Comparable {
    case low, medium, high
    public static func < (a: AuditSeverity, b: AuditSeverity) -> Bool {
        let order: [AuditSeverity] = [.low, .medium, .high]
        return order.firstIndex(of: a)! < order.firstIndex(of: b)!  // Safe: every case is listed.
    }
}

/// A route by which secrets reach a repository or an image.
public struct AuditRule: Sendable, Codable, Hashable {
    public let id: String
    public let severity: AuditSeverity
    public let title: String
    public let why: String
    public let fix: String
}

/// A route found at a place, with the content rule that also fires there when there is one.
public struct AuditFinding: Sendable, Codable, Hashable {
    public let rule: String
    public let severity: AuditSeverity
    public let path: String
    public let line: Int
    public let why: String
    public let fix: String
    /// What was found, never a clear secret (a name, or a redacted value).
    public let detail: String
    /// The provider and rule of a content match on the same line, when there is one.
    public var provider: String?
    public var contentRule: String?

    enum CodingKeys: String, CodingKey {
        case rule, severity, path, line, why, fix, detail, provider
        case contentRule = "content_rule"
    }
}

public enum AuditRules {
    public static let all: [AuditRule] = [
        .init(id: "audit-tracked-env-file", severity: .high, title: "Tracked .env file",
              why: "An .env file holds real configuration values; tracked, every clone and image build context gets them.",
              fix: "git rm --cached the file, add .env* to .gitignore and .dockerignore, and commit a .env.example with placeholders."),
        .init(id: "audit-tracked-private-key", severity: .high, title: "Tracked private key file",
              why: "A private key in git is readable by everyone with the repository, forever.",
              fix: "Remove the key from git, rotate it, and load it from a secrets manager or a mounted secret."),
        .init(id: "audit-tracked-keystore", severity: .high, title: "Tracked keystore or PKCS#12 file",
              why: "Keystores hold private keys; their passwords are usually nearby and weak.",
              fix: "Remove the keystore from git, rotate the keys it holds, and provide it at deploy time."),
        .init(id: "audit-tracked-credentials-file", severity: .high, title: "Tracked credentials file",
              why: "Files such as credentials.json, .git-credentials, .netrc and .pgpass hold passwords or tokens in plain text.",
              fix: "Remove the file from git, rotate what it holds, and ignore it."),
        .init(id: "audit-tracked-service-account", severity: .high, title: "Tracked cloud service-account key",
              why: "A service-account key file grants the account's permissions to anyone who reads it.",
              fix: "Delete the key in the cloud console, remove the file, and use workload identity or a secrets manager."),
        .init(id: "audit-tracked-kubeconfig", severity: .high, title: "Tracked kubeconfig with credentials",
              why: "A kubeconfig with a token or client key gives access to the cluster.",
              fix: "Remove it from git, revoke the token or certificate, and distribute kubeconfigs out of band."),
        .init(id: "audit-tracked-docker-config", severity: .high, title: "Tracked Docker config with registry auth",
              why: "auths entries in .docker/config.json are base64 user:password for registries.",
              fix: "Remove the file, rotate the registry credentials, and use a credential helper."),
        .init(id: "audit-tracked-terraform-state", severity: .high, title: "Tracked Terraform state",
              why: "Terraform state stores every resource attribute in clear, including passwords and keys.",
              fix: "Move state to an encrypted remote backend, remove it from git, and rotate the secrets it held."),
        .init(id: "audit-dockerfile-secret-env", severity: .high, title: "Secret in a Dockerfile ENV",
              why: "ENV values are baked into the image and shown by docker history and docker inspect.",
              fix: "Pass it at run time (environment, secrets manager), or use RUN --mount=type=secret for build steps."),
        .init(id: "audit-dockerfile-secret-arg", severity: .high, title: "Secret default in a Dockerfile ARG",
              why: "ARG defaults and values are recorded in the image history.",
              fix: "Drop the default and use RUN --mount=type=secret,id=NAME instead of a build argument."),
        .init(id: "audit-dockerfile-arg-in-run", severity: .medium, title: "Secret build argument used by RUN",
              why: "A RUN that reads a build argument records its value in the image history.",
              fix: "Use RUN --mount=type=secret,id=NAME and read /run/secrets/NAME in that step."),
        .init(id: "audit-dockerfile-copy-secret-file", severity: .high, title: "Dockerfile copies a secret file into the image",
              why: "COPY/ADD of .env, keys, .npmrc, .pypirc, .aws or .ssh puts them in an image layer for good.",
              fix: "Mount it only for the step that needs it: RUN --mount=type=secret,id=NAME,target=PATH; use a multi-stage build."),
        .init(id: "audit-dockerfile-copy-context", severity: .medium, title: "COPY of the whole build context without a protecting .dockerignore",
              why: "COPY . copies .env files, keys and .git into the image unless .dockerignore excludes them.",
              fix: "Add a .dockerignore that excludes .env*, .git, *.pem and id_*, or copy only what the build needs."),
        .init(id: "audit-dockerfile-run-writes-secret", severity: .high, title: "RUN writes credentials into the image",
              why: "A file written by RUN (such as ~/.npmrc with a token) stays in that layer even if a later step deletes it.",
              fix: "Use RUN --mount=type=secret,id=npmrc,target=/root/.npmrc for the step that needs it."),
        .init(id: "audit-compose-secret-env", severity: .high, title: "Literal secret in a compose file",
              why: "Compose files are committed and shared; a literal password there is in every clone.",
              fix: "Reference a variable (${DB_PASSWORD}) from an untracked .env, or use compose secrets."),
        .init(id: "audit-k8s-secret-manifest", severity: .high, title: "Kubernetes Secret manifest with values",
              why: "Secret data is only base64-encoded; committed, it is readable by everyone with the repository.",
              fix: "Use Sealed Secrets, SOPS, or an external secrets operator, and keep plain Secret manifests out of git."),
        .init(id: "audit-npmrc-token", severity: .high, title: "Registry token in .npmrc",
              why: "An _authToken or _auth in .npmrc publishes or reads packages as its owner.",
              fix: "Use ${NPM_TOKEN} in .npmrc and provide the variable from CI secrets; rotate the token."),
        .init(id: "audit-pypirc-password", severity: .high, title: "Password or token in .pypirc",
              why: ".pypirc passwords and tokens upload packages as their owner.",
              fix: "Use trusted publishing or keyring, remove the password, and rotate the token."),
        .init(id: "audit-pip-conf-credentials", severity: .high, title: "Credentials in a pip index URL",
              why: "A user:password in index-url is sent to and logged by every tool that reads pip.conf.",
              fix: "Use keyring or environment variables (PIP_INDEX_URL from CI secrets); rotate the password."),
        .init(id: "audit-untracked-secret-file", severity: .medium, title: "Secret file not ignored",
              why: "An .env or key file in the work tree that .gitignore does not cover is one `git add .` away from history.",
              fix: "Add it to .gitignore (and .dockerignore)."),
        .init(id: "audit-git-remote-credentials", severity: .high, title: "Credentials in a git remote URL",
              why: "A token in a remote URL is stored in plain text in .git/config and shown in logs and error messages.",
              fix: "Remove it (git remote set-url NAME URL-without-credentials), rotate the token, and use a credential helper."),
        .init(id: "audit-git-credential-store", severity: .medium, title: "credential.helper store",
              why: "The store helper writes passwords and tokens in plain text to ~/.git-credentials.",
              fix: "Use an encrypted helper (cache, libsecret, osxkeychain, manager) and delete ~/.git-credentials."),
    ]

    public static let byID = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })

    static func finding(_ id: String, path: String, line: Int, detail: String) -> AuditFinding {
        let rule = byID[id]!  // Safe: detectors only name ids from `all`; a test walks every detector.
        return AuditFinding(rule: id, severity: rule.severity, path: path, line: line, why: rule.why, fix: rule.fix,
                            detail: detail, provider: nil, contentRule: nil)
    }
}

/// Names that say a value is a secret, and values that are not literal secrets.
enum SecretNames {
    static let words = ["PASSWORD", "PASSWD", "PWD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY", "ACCESS_KEY",
                        "CREDENTIAL", "AUTH_KEY", "CLIENT_SECRET", "PASSPHRASE", "SIGNING_KEY", "ENCRYPTION_KEY"]
    /// Names that point at a secret rather than holding one (DB_PASSWORD_FILE=/run/secrets/db).
    static let pointers = ["_FILE", "_PATH", "_URL", "_URI", "_NAME", "_DIR", "_LENGTH", "_ENABLED", "_TYPE", "_ID", "_ENDPOINT"]

    static func looksSecret(_ name: String) -> Bool {
        let upper = name.uppercased().replacingOccurrences(of: "-", with: "_")
        guard words.contains(where: { upper.contains($0) }) else { return false }
        return !pointers.contains(where: { upper.hasSuffix($0) })
    }

    /// A literal: not empty, not a variable reference, not an obvious placeholder.
    static func isLiteral(_ value: String) -> Bool {
        let trimmed = value.trimmingCharacters(in: CharacterSet(charactersIn: " \t\"'"))
        if trimmed.isEmpty || trimmed.hasPrefix("$") || trimmed.hasPrefix("{{") || trimmed.hasPrefix("<") { return false }
        let lower = trimmed.lowercased()
        return !["changeme", "change_me", "xxx", "placeholder", "example", "your_", "dummy", "todo", "***", "none", "null", "false", "true"]
            .contains(where: { lower.contains($0) })
    }

    /// What a report may show of a value: nothing. A literal under a secret-looking name is a
    /// password as often as not, and guessable secrets show no character (see `SecretText`).
    static func redacted(_ value: String) -> String { SecretText.hidden }
}

import Foundation

/// Path text without NSString: Foundation's `lastPathComponent` crashed on a Dockerfile COPY source
/// holding NUL bytes and runs of slashes (found by Fuzz/FuzzDockerfile).
enum PathText {
    /// The part after the last `/`, trailing slashes ignored (`a/b/` → `b`, `/` → `/`), as
    /// NSString's `lastPathComponent` answers for ordinary paths.
    static func lastComponent(_ path: String) -> String {
        // Bytes, not characters: called for every file of HEAD by the audit.
        let bytes = path.utf8
        var end = bytes.endIndex
        while bytes.distance(from: bytes.startIndex, to: end) > 1, bytes[bytes.index(before: end)] == UInt8(ascii: "/") {
            end = bytes.index(before: end)
        }
        let trimmed = bytes[bytes.startIndex..<end]
        if trimmed.elementsEqual("/".utf8) { return "/" }
        let start = trimmed.lastIndex(of: UInt8(ascii: "/")).map { bytes.index(after: $0) } ?? bytes.startIndex
        return String(Substring(path.utf8[start..<end]))
    }
}
