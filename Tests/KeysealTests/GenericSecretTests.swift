import Foundation
import XCTest

@testable import KeysealEngine

/// The generic assignment rules across the languages and formats secrets are written in: each with
/// a literal that must be found, and values that must not (references, calls, placeholders, paths).
final class GenericSecretTests: XCTestCase {
    static let matcher: Matcher = {
        try! Matcher(rules: BuiltInRules.all)  // Safe: RuleExamplesTests asserts the built-ins compile.
    }()

    func genericFindings(_ text: String) throws -> [String] {
        let scratch = try Self.matcher.makeScratch()
        return try Array(text.utf8).withUnsafeBytes { try Self.matcher.scan($0, scratch: scratch) }
            .filter { Self.matcher.rules[$0.rule].generic }
            .map { String(decoding: $0.secret, as: UTF8.self) }
    }

    let value = ExampleTemplate.expand("Zk9⟪an:17⟫")

    func testEachLanguageAndFormat() throws {
        let cases: [(String, String)] = [
            (".env", "DB_PASSWORD=\(value)"),
            ("shell", "export API_KEY=\"\(value)\""),
            ("YAML", "  password: \(value)"),
            ("JSON", "{\"client_secret\": \"\(value)\"}"),
            ("TOML", "secret_key = \"\(value)\""),
            ("INI/properties", "db.password=\(value)"),
            ("XML attribute", "<datasource password=\"\(value)\" />"),
            ("XML element", "<password>\(value)</password>"),
            ("Dockerfile", "ENV SERVICE_TOKEN=\(value)"),
            ("Terraform", "  master_password = \"\(value)\""),
            ("Python", "API_KEY = '\(value)'"),
            ("JavaScript", "const apiKey = \"\(value)\";"),
            ("TypeScript", "private readonly authToken: string = '\(value)';"),
            ("Java", "private static final String PASSWORD = \"\(value)\";"),
            ("Kotlin", "val clientSecret = \"\(value)\""),
            ("Go", "password := \"\(value)\""),
            ("Ruby", "config.secret_token = '\(value)'"),
            ("Ruby hash", ":api_key => \"\(value)\""),
            ("PHP", "$password = '\(value)';"),
            ("C#", "public string ApiKey = \"\(value)\";"),
            ("Swift", "let accessToken = \"\(value)\""),
        ]
        for (format, line) in cases {
            XCTAssertEqual(try genericFindings(line), [value], "\(format): \(line)")
        }
    }

    /// keyseal's own history is its first precision corpus: rule examples, tests and code must not
    /// read as secrets (and no real one may be committed).
    func testKeysealsOwnRepositoryScansClean() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent(".git").path) else {
            throw XCTSkip("not run from a git checkout of keyseal (no .git at \(root.path))")
        }
        let out = try KeysealBinary.run(["scan", root.path, "--no-store", "--no-audit", "--quiet", "--format", "json"], in: root)
        XCTAssertEqual(out.status, 0, out.stdout)
    }

    func testNonSecretValues() throws {
        let cases: [(String, String)] = [
            ("environment lookup", "password = os.environ[\"DB_PASSWORD\"]"),
            ("env var reference", "password: ${DB_PASSWORD}"),
            ("shell variable", "export API_KEY=$API_KEY"),
            ("function call", "token = fetchToken(user)"),
            ("method chain", "secret = config.getSecret()"),
            ("attribute path", "api_key = settings.api_key"),
            ("file path", "private_key = /etc/ssl/private/server.key"),
            ("template", "token: {{ .Values.token }}"),
            ("angle placeholder", "password = \"<password>\""),
            ("changeme", "password: changeme"),
            ("masked", "password: ********"),
            ("x placeholder", "api_key = \"xxxxxxxxxxxxxxxx\""),
            ("example marker", "api_key = \"EXAMPLE-KEY-123456\""),
            ("length setting", "PASSWORD_MIN_LENGTH=12345678"),
            ("URL setting", "token_url = https://auth.internal.test/token"),
            ("constant name", "\"token\": \"WITHSCORES\""),
            ("git SHA", "commit_token_ref = 9fceb02d0ae598e95dc970b74767f19372d61af8"),
            ("lock-file integrity", "\"integrity\": \"sha512-\(ExampleTemplate.expand("⟪b64:86⟫"))==\""),
            ("keyseal:allow", "password = \"\(value)\"  # keyseal:allow"),
            ("camelCase variable", "secret: showSecrets,"),
            ("type name", "let token: UnsafeBufferPointer"),
            ("slash-separated words", "notes: \"uninstall/reinstall\""),
            ("string interpolation", "<password>\\(value)</password>"),
            ("keyseal rule template", "AZURE_DEVOPS_PAT=\u{27EA}b32:52\u{27EB}"),
        ]
        for (what, line) in cases {
            XCTAssertEqual(try genericFindings(line), [], "\(what) is not a secret: \(line)")
        }
    }
}
