/// How to rotate a leaked secret: where to revoke it and issue a new one, the CLI commands where a
/// provider has them, and what to update afterwards. Written in the rule files beside the rules
/// (`[rotation]`); a rule without one gets `standard(for:)`.
public struct RotationGuide: Sendable, Codable, Hashable {
    public let revoke: String
    /// The console page, when the provider has one address for it.
    public let console: String?
    /// Why there is no console page, when the credential is not issued by a provider's console
    /// (a database password, a private key): what the rotation is done with instead.
    public let noConsole: String?
    public let cli: [String]
    /// The provider's documentation of the `cli` commands.
    public let cliReference: String?
    /// What to update besides `afterwards`.
    public let update: [String]
    public let notes: String?

    public init(revoke: String, console: String? = nil, noConsole: String? = nil, cli: [String] = [],
                cliReference: String? = nil, update: [String] = [], notes: String? = nil) {
        self.revoke = revoke
        self.console = console
        self.noConsole = noConsole
        self.cli = cli
        self.cliReference = cliReference
        self.update = update
        self.notes = notes
    }

    /// The steps every rotation ends with.
    public static let afterwards = [
        "Put the new value where the old one was used: the secrets manager entry, CI/CD variables, deployment configuration, and every developer's local environment.",
        "Check the provider's access logs for use of the old value between the first commit and its revocation.",
    ]

    /// The one guide for rules whose files give none: the provider's console, named from the rule.
    public static func standard(provider: String, description: String, reference: String? = nil) -> RotationGuide {
        let what = description.prefix(1).lowercased() + description.dropFirst()
        return RotationGuide(
            revoke: "In the \(provider) console or account settings (API keys / access tokens), revoke the \(what) and issue a new one with the least scope it needs",
            notes: reference.map { "The provider documents its credentials at \($0)." })
    }

    /// The rule's own guide, or the standard one.
    public static func guide(for rule: Rule) -> RotationGuide {
        rule.rotation ?? standard(provider: rule.provider, description: rule.description, reference: rule.references.first)
    }

    enum CodingKeys: String, CodingKey {
        case revoke, console, cli, update, notes
        case noConsole = "no_console", cliReference = "cli_reference"
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(revoke, forKey: .revoke)
        try container.encodeIfPresent(console, forKey: .console)
        try container.encodeIfPresent(noConsole, forKey: .noConsole)
        try container.encode(cli, forKey: .cli)
        try container.encodeIfPresent(cliReference, forKey: .cliReference)
        if !update.isEmpty { try container.encode(update, forKey: .update) }
        try container.encodeIfPresent(notes, forKey: .notes)
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        revoke = try container.decode(String.self, forKey: .revoke)
        console = try container.decodeIfPresent(String.self, forKey: .console)
        noConsole = try container.decodeIfPresent(String.self, forKey: .noConsole)
        cli = try container.decodeIfPresent([String].self, forKey: .cli) ?? []
        cliReference = try container.decodeIfPresent(String.self, forKey: .cliReference)
        update = try container.decodeIfPresent([String].self, forKey: .update) ?? []
        notes = try container.decodeIfPresent(String.self, forKey: .notes)
    }
}

/// How sure a rule's match is a live credential, before any checksum verdict (a verified checksum
/// makes it high, a failed one low).
public enum RuleConfidence: String, Sendable, Hashable, CaseIterable, Codable {
    case high, medium, low
}
