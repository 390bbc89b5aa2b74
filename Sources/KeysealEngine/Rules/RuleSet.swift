/// The built-in rules, gathered from one file per provider family.
public enum BuiltInRules {
    public static let all: [Rule] =
        cloud + sourceControl + registries + communication + payments + ai + devTools + moreProviders + namedKeys + prefixedLater + prefixedTokens + walletKeys + namedServiceKeys + keys + databases + generic
}

/// Pieces shared by many rules' regexes.
enum Piece {
    /// After a token whose alphabet includes `-` and `_`: a character outside it, or the end of the line.
    static let end = "(?:[^A-Za-z0-9_-]|$)"
    /// After a base64 token.
    static let b64End = "(?:[^A-Za-z0-9+/=]|$)"
    /// An assignment operator with optional quotes and spacing: `=`, `:`, `:=`, `=>`.
    static let assign = "[\"']?[ \\t]*(?::=|=>|=|:)[ \\t]*[\"'`]?"
}

extension Rule {
    /// A token with a distinctive prefix: the common shape of modern provider tokens.
    static func token(_ id: String, _ provider: String, _ description: String, _ regex: String,
                      entropy: Double? = 3.0, keywords: [String] = [], caseless: Bool = false,
                      checksum: TokenChecksum? = nil, positives: [String], negatives: [String],
                      references: [String] = []) -> Rule {
        Rule(id: id, provider: provider, description: description, regex: regex, caseless: caseless,
             minEntropy: entropy, keywords: keywords, checksum: checksum, positives: positives, negatives: negatives,
             references: references)
    }

    /// A value recognisable only by the name it is assigned to (`datadog_api_key = <32 hex>`).
    static func named(_ id: String, _ provider: String, _ description: String, name: String, value: String,
                      entropy: Double? = 3.0, positives: [String], negatives: [String], references: [String] = []) -> Rule {
        // Vectorscan looks for the name and the assignment only; PCRE2 takes the value from there to
        // the end of the line. With the value in the Vectorscan pattern too, the 200 named rules took
        // 1.9 s to compile, which a hook pays on its first run after every rule change.
        Rule(id: id, provider: provider, description: description,
             regex: "\(name)[A-Za-z0-9_.-]{0,20}\(Piece.assign)(\(value))\(Piece.end)",
             prefilter: "\(name)[A-Za-z0-9_.-]{0,20}\(Piece.assign)", caseless: true,
             minEntropy: entropy, positives: positives, negatives: negatives, references: references)
    }
}
