/// A detection rule: data, not code. Built-in rules are written in `Rules/*.toml`, one file per
/// provider (or small family), and generated into `BuiltInRules.generated.swift`; user rules (a
/// `.keyseal.toml`'s `[[rules]]`) use the same schema.
public struct Rule: Sendable, Hashable {
    /// How far the regex may reach from where the prefilter hit.
    public enum Span: Sendable, Hashable {
        /// The match lies on one line.
        case line
        /// The match starts on the hit's line and may run on for up to this many bytes (PEM blocks).
        case block(maxBytes: Int)
    }

    public var id: String
    public var provider: String
    public var description: String
    /// PCRE2 syntax. Capture group `secretGroup` is the secret.
    public var regex: String
    /// A Vectorscan pattern that finds where `regex` may match, when `regex` itself is not one
    /// Vectorscan can compile or is too costly (block rules give the header here). Nil: `regex`.
    public var prefilter: String?
    public var secretGroup: Int
    /// Capture group holding the assigned name, for generic rules: names that say the value is not a
    /// secret (`PASSWORD_MIN_LENGTH`, `token_url`) are dropped.
    public var nameGroup: Int?
    public var caseless: Bool
    /// Minimum Shannon entropy (bits per byte) of the secret.
    public var minEntropy: Double?
    /// Lower-case words of which one must occur near the match (256 bytes before, 64 after).
    public var keywords: [String]
    /// Generic rules apply the placeholder filter and yield to a specific rule on the same secret.
    public var generic: Bool
    /// The secret may be one a person chose (a password, or `user:password` encoded): reports show
    /// none of its characters and its fingerprint is derived slowly, like every generic rule's.
    public var guessable: Bool = false
    public var span: Span
    /// Built from a name and a value shape (`assigned_to`, `value`): group `nameGroup` is the name,
    /// whose last word must not say the value is not a secret (`ACME_ACCOUNT_ID`), and the value may
    /// be on the line after the name (a Kubernetes `env` entry).
    public var namedValue: Bool = false
    /// Another rule's id whose match in the same blob is this secret's other half (AWS key id and secret).
    public var pairsWith: String?
    /// A checksum the provider builds into its tokens, verified offline.
    public var checksum: TokenChecksum?
    /// Decides which rule names a secret when several find it (see `Matcher`): the higher priority
    /// wins, then the more specific rule (the longer whole match: it needed more context), never the
    /// order rules are listed in. Catch-all shapes (JWT, generic assignments) are below 0; a provider
    /// whose keys look like another's but whose name says otherwise is above.
    public var priority: Int = 0
    /// How sure a match is, before any checksum verdict; nil: not stated.
    public var confidence: RuleConfidence?
    /// How to rotate what this rule finds; nil: `RotationGuide.standard`.
    public var rotation: RotationGuide?
    /// Example templates (see `ExampleTemplate`) that must match, and that must not.
    public var positives: [String]
    public var negatives: [String]
    /// The provider's documentation of the token format the rule and its examples were written from.
    public var references: [String]

    public init(id: String, provider: String, description: String, regex: String, prefilter: String? = nil,
                secretGroup: Int = 1, nameGroup: Int? = nil, caseless: Bool = false, minEntropy: Double? = nil, keywords: [String] = [],
                generic: Bool = false, span: Span = .line, pairsWith: String? = nil, checksum: TokenChecksum? = nil,
                guessable: Bool = false, namedValue: Bool = false, priority: Int = 0, confidence: RuleConfidence? = nil,
                positives: [String], negatives: [String], references: [String] = [], rotation: RotationGuide? = nil) {
        self.id = id
        self.provider = provider
        self.description = description
        self.regex = regex
        self.prefilter = prefilter
        self.secretGroup = secretGroup
        self.nameGroup = nameGroup
        self.caseless = caseless
        self.minEntropy = minEntropy
        self.keywords = keywords
        self.generic = generic
        self.guessable = guessable
        self.namedValue = namedValue
        self.span = span
        self.pairsWith = pairsWith
        self.checksum = checksum
        self.positives = positives
        self.negatives = negatives
        self.references = references
        self.priority = priority
        self.confidence = confidence
        self.rotation = rotation
    }
}
