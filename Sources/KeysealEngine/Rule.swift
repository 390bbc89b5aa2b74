/// A detection rule: data, not code. Built-in rules live in `Rules/`, one file per provider family;
/// user rules (from `.keyseal.toml`) use the same shape.
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
    public var span: Span
    /// Another rule's id whose match in the same blob is this secret's other half (AWS key id and secret).
    public var pairsWith: String?
    /// A checksum the provider builds into its tokens, verified offline.
    public var checksum: TokenChecksum?
    /// Where two specific rules find exactly the same bytes, the higher precedence names the secret
    /// (ties: the rule listed first). Catch-all shapes (JWT) are below 0; a provider whose keys look
    /// like another's but whose name says otherwise is above.
    public var precedence: Int = 0
    /// Example templates (see `ExampleTemplate`) that must match, and that must not.
    public var positives: [String]
    public var negatives: [String]
    /// The provider's documentation of the token format the rule and its examples were written from.
    public var references: [String]

    public init(id: String, provider: String, description: String, regex: String, prefilter: String? = nil,
                secretGroup: Int = 1, nameGroup: Int? = nil, caseless: Bool = false, minEntropy: Double? = nil, keywords: [String] = [],
                generic: Bool = false, span: Span = .line, pairsWith: String? = nil, checksum: TokenChecksum? = nil,
                positives: [String], negatives: [String], references: [String] = []) {
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
        self.span = span
        self.pairsWith = pairsWith
        self.checksum = checksum
        self.positives = positives
        self.negatives = negatives
        self.references = references
    }
}
