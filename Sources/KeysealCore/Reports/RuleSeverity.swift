import KeysealEngine

/// What kind of credential a rule finds, as reports rank it: GitHub code scanning by SARIF's
/// `security-severity`, GitLab by a vulnerability's `severity`, CSV by a column. One class per rule,
/// decided from what the rule says of itself (its provider, whether it is generic, its confidence).
public enum CredentialClass: String, Sendable, CaseIterable {
    /// A private key (PEM, OpenSSH, PGP, PuTTY) or a wallet's key: whoever holds it is the owner.
    case privateKey = "private-key"
    /// Cloud, infrastructure, source hosting, CI/CD, package publishing, identity, secrets managers
    /// and databases: a leak reaches everything the account administers.
    case cloudOrAdmin = "cloud-or-admin"
    /// A provider's token, the rule sure of its shape.
    case providerToken = "provider-token"
    /// A provider's token from a rule of medium confidence.
    case providerTokenMediumConfidence = "provider-token-medium-confidence"
    /// A generic rule (a password or secret assigned to a name) not stated to be of high confidence:
    /// more often a test value or a placeholder.
    case generic
    /// A rule that states low confidence.
    case lowConfidence = "low-confidence"

    public init(_ rule: RuleInfo) {
        if !rule.generic && (rule.provider == "Private key" || Self.walletKeyRules.contains(rule.id)) {
            self = .privateKey
        } else if rule.confidence == .low {
            self = .lowConfidence
        } else if rule.generic && rule.confidence != .high {
            self = .generic
        } else if Self.administrativeProviders.contains(rule.provider) {
            self = .cloudOrAdmin
        } else if rule.confidence == .medium {
            self = .providerTokenMediumConfidence
        } else {
            self = .providerToken
        }
    }

    /// SARIF `security-severity`, the CVSS-like score GitHub bands as critical (9.0 and over), high
    /// (7.0–8.9), medium (4.0–6.9) and low (0.1–3.9).
    public var securitySeverity: Double {
        switch self {
        case .privateKey, .cloudOrAdmin: return 8.9
        case .providerToken: return 7.5
        case .providerTokenMediumConfidence: return 6.5
        case .generic: return 5.0
        case .lowConfidence: return 3.0
        }
    }

    /// The score as SARIF writes it: a string with one decimal.
    public var securitySeverityText: String { String(format: "%.1f", securitySeverity) }

    /// GitHub's band for the score (also GitLab's severity, capitalised there).
    public var band: SeverityBand { SeverityBand(score: securitySeverity) }

    /// The wallet rules whose secret is a private key, though their provider is the chain's.
    static let walletKeyRules: Set<String> = ["bitcoin-wif-private-key", "bitcoin-extended-private-key", "ethereum-private-key"]

    /// Providers whose credentials administer infrastructure or what it runs (by the rule files'
    /// provider names).
    static let administrativeProviders: Set<String> = [
        // Cloud and hosting platforms.
        "AWS", "Azure", "Azure DevOps", "Google Cloud", "Alibaba Cloud", "Baidu Cloud", "Huawei Cloud", "IBM Cloud",
        "Tencent Cloud", "Yandex Cloud", "NAVER Cloud Platform", "Volcengine", "DigitalOcean", "Hetzner", "Akamai Linode",
        "Vultr", "Scaleway", "OVHcloud", "UpCloud", "Exoscale", "Civo", "Equinix Metal", "Rackspace", "Heroku", "Fly.io",
        "Render", "Railway", "Vercel", "Netlify", "Cloudflare", "Fastly", "Akamai", "Lambda Cloud", "Firebase", "Supabase",
        "Databricks", "Snowflake",
        // Infrastructure, remote access and its administration.
        "Kubernetes", "HashiCorp Vault", "HashiCorp Terraform", "HashiCorp Cloud Platform", "HashiCorp Consul",
        "HashiCorp Nomad", "Terraform state", "Pulumi", "Spacelift", "env0", "Rancher", "Portainer", "Proxmox VE", "TrueNAS",
        "Tailscale", "ZeroTier", "SSH", "Windows (PsExec)", "cPanel",
        // Source hosting, CI/CD, registries and package publishing (a supply chain).
        "GitHub", "GitLab", "Bitbucket", "Gitea", "Jenkins", "CircleCI", "Buildkite", "Travis CI", "JetBrains TeamCity",
        "Octopus Deploy", "Docker Hub", "Container registry", "Harbor", "Quay", "JFrog", "Sonatype", "Cloudsmith", "Gemfury",
        "packagecloud", "npm", "PyPI", "RubyGems", "crates.io", "NuGet",
        // Identity providers and secrets managers.
        "Okta", "Auth0", "OneLogin", "JumpCloud", "1Password", "Bitwarden", "Doppler", "Infisical", "Akeyless",
        "CyberArk Conjur", "Keeper Secrets Manager", "Dotenv Vault",
        // Databases and message brokers.
        "PostgreSQL", "MySQL", "SQL Server", "MongoDB", "MongoDB Atlas", "Redis", "Oracle", "Cassandra", "RabbitMQ", "JDBC",
    ]
}

/// GitHub's bands of `security-severity`, which GitLab's severities mirror.
public enum SeverityBand: String, Sendable, CaseIterable {
    case critical, high, medium, low

    init(score: Double) {
        switch score {
        case 9.0...: self = .critical
        case 7.0..<9.0: self = .high
        case 4.0..<7.0: self = .medium
        default: self = .low
        }
    }

    /// SARIF's level for a result of this band: what fails a GitHub check by default is `error`.
    var sarifLevel: String {
        switch self {
        case .critical, .high: return "error"
        case .medium: return "warning"
        case .low: return "note"
        }
    }
}

/// SARIF `precision` (`very-high`, `high`, `medium`, `low`): how often the rule's results are true.
enum RulePrecision {
    static func of(_ rule: RuleInfo) -> String {
        // A verified checksum rules out typos and made-up values: nearly every match is a real token.
        if rule.hasChecksum { return "very-high" }
        switch rule.confidence {
        case .high?: return "high"
        case .medium?: return "medium"
        case .low?: return "low"
        case nil:
            // Not stated: key headers are unmistakable, generic assignments are often placeholders.
            if CredentialClass(rule) == .privateKey { return "high" }
            return rule.generic ? "low" : "medium"
        }
    }
}
