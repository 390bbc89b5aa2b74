extension BuiltInRules {
    /// Names that make an assignment worth a look. Suffixes that make it a non-secret are in `nonSecretNames`.
    static let secretWords =
        "password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|client[_-]?secret|auth[_-]?key|credentials?"

    static let generic: [Rule] = [
        Rule(id: "generic-secret-xml-element", provider: "Generic",
             description: "A high-entropy literal inside an XML element named like a secret (<password>…</password>)",
             regex: "<([A-Za-z0-9_.:-]{0,40}(?:\(secretWords))[A-Za-z0-9_.:-]{0,40})>([^<\\s]{8,128})</\\1>",
             prefilter: "<[A-Za-z0-9_.:-]{0,40}(?:\(secretWords))[A-Za-z0-9_.:-]{0,40}>[^<\\s]{8}",
             secretGroup: 2, nameGroup: 1, caseless: true, minEntropy: 3.0, generic: true,
             positives: ["<password>⟪an:16⟫</password>", "<db:apiKey>⟪an:32⟫</db:apiKey>"],
             negatives: ["<password>${DB_PASSWORD}</password>", "<password>changeme</password>", "<passwordPolicy>⟪an:16⟫</passwordPolicy>"]),
        Rule(id: "generic-secret-assignment", provider: "Generic",
             description: "A high-entropy literal assigned to a secret-looking name (.env, YAML, JSON, shell, code)",
             regex: "([A-Za-z0-9_.-]{0,40}(?:\(secretWords))[A-Za-z0-9_.-]{0,40})(?:[ \\t]*:[ \\t]*[A-Za-z][A-Za-z0-9<>?.]*[ \\t]*(?==))?\(Piece.assign)([^\\s\"'`;,<>()\\[\\]{}]{8,128})",
             prefilter: "(?:\(secretWords))[A-Za-z0-9_.-]{0,40}(?:[ \\t]*:[ \\t]*[A-Za-z][A-Za-z0-9<>?.]*)?[\"']?[ \\t]*(?::=|=>|=|:)[ \\t]*[\"'`]?[^\\s\"'`;,<>()\\[\\]{}]{8}",
             secretGroup: 2, nameGroup: 1, caseless: true, minEntropy: 3.0, generic: true,
             positives: ["DB_PASSWORD='⟪an:16⟫'", "password: ⟪an:12⟫!", "\"client_secret\": \"⟪url:32⟫\"",
                         "export API_KEY=⟪an:32⟫", "ENV SERVICE_TOKEN=⟪an:24⟫", "db.password=⟪an:14⟫",
                         "secret_key = \"⟪an:40⟫\""],
             negatives: ["password = os.environ['DB_PASSWORD']", "password: ${DB_PASSWORD}", "password: changeme",
                         "token: {{ .Values.token }}", "password = \"<password>\"", "password: ********",
                         "api_key = settings.api_key", "password=xxxxxxxxxxxx", "PASSWORD_MIN_LENGTH=12345678",
                         "token_url = https://example.com/token", "password = get_password()"]),
    ]
}
