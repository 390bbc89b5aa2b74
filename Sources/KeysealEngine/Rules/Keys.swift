extension BuiltInRules {
    /// A PEM block: the header is the prefilter, the regex takes the body up to the matching footer.
    /// `\\n` escapes are allowed in the body so a key inside a JSON string is found too.
    static func pem(_ id: String, _ label: String, _ description: String, maxBytes: Int = 16_384) -> Rule {
        let header = "-----BEGIN \(label)-----"
        let footer = "-----END \(label)-----"
        // One character class, not an alternation: a lazy repeat of a group pushes a backtracking
        // frame per character and overflowed PCRE2's JIT stack on real 2 KB keys.
        let body = "([A-Za-z0-9+/=:,.\\s\\\\-]{64,}?)"
        return Rule(
            id: id, provider: "Private key", description: description,
            regex: "\(header)(?:\\\\[rn]|\\s)*\(body)(?:\\\\[rn]|\\s)*\(footer)",
            prefilter: header, minEntropy: 4.5, span: .block(maxBytes: maxBytes),
            positives: [
                "\(header)\n⟪b64:64⟫\n⟪b64:64⟫\n⟪b64:40⟫==\n\(footer)\n",
                "{\"private_key\": \"\(header)\\n⟪b64:64⟫\\n⟪b64:64⟫\\n⟪b64:30⟫=\\n\(footer)\\n\"}",
            ],
            negatives: ["\(header)\n...\n\(footer)", "\(header)\n<your key here>\n\(footer)"])
    }

    /// Any JWT: a catch-all shape, so a provider rule that finds the same token names it instead.
    static let jwt: Rule = {
        var rule = Rule.token("jwt", "JSON Web Token", "JSON Web Token (may carry credentials or grant access until it expires)",
                              "\\b(eyJ[A-Za-z0-9_-]{10,}\\.eyJ[A-Za-z0-9_-]{10,}\\.[A-Za-z0-9_-]{16,})\(Piece.end)", entropy: 4.0,
                              positives: ["Authorization: Bearer eyJ⟪url:33⟫.eyJ⟪url:80⟫.⟪url:43⟫", "token = 'eyJhbGciOiJIUzI1NiJ9.eyJ⟪url:60⟫.⟪url:43⟫'"],
                              negatives: ["eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."])
        rule.precedence = -1
        return rule
    }()

    static let keys: [Rule] = [
        pem("private-key-rsa", "RSA PRIVATE KEY", "RSA private key (PKCS#1 PEM)"),
        pem("private-key-ec", "EC PRIVATE KEY", "Elliptic-curve private key (SEC1 PEM)"),
        pem("private-key-dsa", "DSA PRIVATE KEY", "DSA private key (PEM)"),
        pem("private-key-openssh", "OPENSSH PRIVATE KEY", "OpenSSH private key"),
        pem("private-key-pkcs8", "PRIVATE KEY", "Private key (PKCS#8 PEM)"),
        pem("private-key-pkcs8-encrypted", "ENCRYPTED PRIVATE KEY", "Encrypted private key (PKCS#8 PEM); its passphrase may be nearby"),
        pem("private-key-pgp", "PGP PRIVATE KEY BLOCK", "PGP private key block", maxBytes: 65_536),
        pem("private-key-ssh2", "SSH2 ENCRYPTED PRIVATE KEY", "SSH2 (ssh.com) private key"),
        Rule(id: "private-key-putty", provider: "Private key", description: "PuTTY private key file (.ppk)",
             regex: "PuTTY-User-Key-File-[23]:[^\\n]*\\n(?:[^\\n]*\\n){0,24}?Private-Lines:[ \\t]*[0-9]+\\r?\\n((?:[A-Za-z0-9+/=]+\\r?\\n){1,64})",
             prefilter: "PuTTY-User-Key-File-[23]:", minEntropy: 4.5, span: .block(maxBytes: 16_384),
             positives: ["PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: k\nPublic-Lines: 2\n⟪b64:64⟫\n⟪b64:20⟫\nPrivate-Lines: 1\n⟪b64:44⟫\nPrivate-MAC: ⟪hex:64⟫\n",
                         "PuTTY-User-Key-File-2: ssh-rsa\r\nEncryption: none\r\nComment: k\r\nPublic-Lines: 1\r\n⟪b64:64⟫\r\nPrivate-Lines: 2\r\n⟪b64:64⟫\r\n⟪b64:64⟫\r\nPrivate-MAC: ⟪hex:40⟫\r\n"],
             negatives: ["PuTTY-User-Key-File-3: ssh-ed25519\nPrivate-Lines: 1\nAAAA\n"]),
        jwt,
        // A service-account or OIDC token in a kubeconfig's `users:` entry (often a JWT: this rule
        // names it, the catch-all JWT rule yields).
        Rule(id: "kubeconfig-user-token", provider: "Kubernetes", description: "Kubernetes user or service-account token in a kubeconfig",
             regex: "^[ \\t]+(?:token|id-token|refresh-token):[ \\t]*[\"']?([A-Za-z0-9._~+/=-]{20,})[\"']?[ \\t]*\\r?$",
             minEntropy: 3.5, keywords: ["user:", "users:", "auth-provider"],
             positives: ["users:\n- name: ci\n  user:\n    token: eyJ⟪url:36⟫.eyJ⟪url:120⟫.⟪url:86⟫\n",
                         "- name: admin\n  user:\n    token: ⟪lo:6⟫.⟪lo:16⟫⟪an:10⟫\n"],
             negatives: ["users:\n- name: ci\n  user:\n    token: ${KUBE_TOKEN}\n", "steps:\n  - token: ${{ secrets.DEPLOY_TOKEN }}\n"]),
        // Base64 of user:password: the checksum slot checks that it decodes to one.
        Rule(id: "http-basic-auth-header", provider: "HTTP Basic credentials", description: "HTTP Basic Authorization header (base64 of user:password)",
             regex: "Authorization[\"']?[ \\t]*[:=,][ \\t]*[\"']?Basic[ \\t]+([A-Za-z0-9+/]{8,}={0,2})", caseless: true,
             minEntropy: 3.0, checksum: .basicCredentials, guessable: true,
             positives: ["curl -H 'Authorization: Basic ⟪basic:24⟫' https://api.internal.test",
                         "headers = {\"Authorization\": \"Basic ⟪basic:32⟫\"}"],
             negatives: ["Authorization: Basic ${CREDENTIALS}", "Authorization: Bearer ⟪an:40⟫",
                         "Proxy-Authorization: Basic ⟪b64:40⟫"]),
        Rule(id: "docker-config-auth", provider: "Container registry", description: "Registry credentials in a Docker config.json `auths` entry (base64 of user:password)",
             regex: "\"auth\"[ \\t]*:[ \\t]*\"([A-Za-z0-9+/]{8,}={0,2})\"", minEntropy: 3.0, keywords: ["auths"],
             checksum: .basicCredentials, guessable: true,
             positives: ["{\"auths\": {\"registry.internal.test\": {\"auth\": \"⟪basic:24⟫\"}}}",
                         "{\n  \"auths\": {\n    \"ghcr.io\": {\n      \"auth\": \"⟪basic:40⟫\"\n    }\n  }\n}"],
             negatives: ["{\"auth\": \"⟪b64:44⟫\"}", "{\"auths\": {\"r\": {\"auth\": \"\"}}}"]),
        .named("keystore-password", "Java KeyStore / PKCS#12", "Password of a PKCS#12, JKS or trust store file (the key file alone is locked; with this it is open)",
               name: "(?:p12|pfx|pkcs12|keystore|key[_-]?store|truststore|trust[_-]?store)[A-Za-z0-9_.-]{0,20}(?:pass(?:word)?|pwd|secret)",
               value: "[^\\s\"'`;,${}()<>]{6,128}", entropy: 2.5, guessable: true,
               positives: ["KEYSTORE_PASSWORD=⟪an:16⟫", "server.ssl.key-store-password: \"⟪an:12⟫\""],
               negatives: ["KEYSTORE_PASSWORD=${KEYSTORE_PASSWORD}", "KEYSTORE_PASSWORD=short"]),
    ]
}
