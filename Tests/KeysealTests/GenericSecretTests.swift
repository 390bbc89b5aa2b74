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
            // `setCredential(` reads first as the name `Credential` with the value `API_TOKEN`; the
            // search resumes at that rejected value, which names the real one.
            ("JavaScript call, name as first argument", "client.setCredential(\"API_TOKEN\", \"\(value)\");"),
            ("C# call, name as first argument", "Environment.SetEnvironmentVariable(\"SERVICE_SECRET\", \"\(value)\");"),
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

    /// False-positive classes from the hand review of a large real repository (bench/precision.md):
    /// each line's value is a name, a reference, a stand-in or a value of no credential's shape.
    func testRealCodeFalsePositiveClasses() throws {
        let cases: [(String, String)] = [
            ("quoted PascalCase operation name", "const opGetSessionToken = \"GetSessionToken\""),
            ("quoted camel case with an acronym", "\"GetOpenIDTokenForDeveloperIdentity\": \"GetOpenIdTokenForDeveloperIdentity\","),
            ("quoted camel case, short word", "\"DBPassword\": \"DbPassword\","),
            ("quoted camelCase value", "\"refresh_token\": \"refreshToken\","),
            ("the brief's identifier", "credentials: \"basicCredentials\""),
            ("Swift type after a colon", "let apiKey: ExpressibleByArgument"),
            ("dotted path of names", "\"output_token\": \"StreamingDistributionList.NextMarker\","),
            ("error code", "UnsupportedCredentialErrorCode = \"SDK.UnsupportedCredential\""),
            ("header name", "\"detail\": HeaderMapping{\"partnerToken\": \"Partner-Token\"},"),
            ("passwd field layout", "//  name:password:UID:GID:GECOS:directory:shell"),
            ("Windows registry path", "credentialSpecRegistryLocation = `SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion`"),
            ("URN secret reference", "clientSecret: \"urn:k8s:secret:my-secret:clientSecret\""),
            ("ARN", "secret_arn = arn:aws:secretsmanager:us-east-1:123456789012:secret:db"),
            ("secret-manager reference", "\"POSTGRES_PASSWORD\": \"${SECRET:team/main-db/20240115T030000Z-v1}\""),
            ("string concatenation", "\"--authkey=\"+authKey,"),
            ("concatenated field", "request.Header.Add(\"Authorization\", \"token=\"+r.config.DCOSToken)"),
            ("hex constant", "SIOCGLIFTOKEN = -0x3f879678"),
            ("timestamp", "\"PasswordLastUsed\": \"2016-09-24T16:18:07Z\","),
            ("account id", "AWS_SECRET_ACCOUNT = 409871236540"),
            ("URL without a password", "TokenAudience: \"https://management.azure.com/\","),
            ("package version", "js-tokens: \"npm:^9.0.1\""),
            ("semver range", "\"secretlint\": \"^10.20.13\""),
            ("truncated in documentation", "\"identitytoken\": \"9cbaf023786cd7...\""),
            ("minified code", "\"password\"===h||c.ngTrim&&\"false\""),
            ("query string dummies", "body := \"say=Hi&password=ishouldbesecret&secret=notforyoureyes&to=Dave\""),
            ("value naming itself", "password := \"superSecretPa$$word\""),
            ("leetspeak stand-in", "\"token\": \"s3cr3t-t0k3n\""),
            ("placeholder to replace", "API_KEY=your_api_key_here"),
            ("placeholder in caps", "API_KEY=INSERT-KEY-HERE"),
            ("sequence filler", "\"Secret\": \"abcd1234\""),
            ("percent-encoded password word", "url: \"http://jane:p%40ssword@db.internal/app\""),
            ("base64 of a word", "password: cGFzc3dvcmQ= # password: password"),
            ("base64 of a phrase", "secret_value: dGhpc19pc190aGVfc2VjcmV0"),
            ("unquoted variable with a number", "privateKey: ecTestKey256,"),
            ("a label in a log line", "msg=\"Error: token: gandiv5: bad request\""),
            ("an identifier element", "<CredentialIdentifier>TC6_UCS366_AF006</CredentialIdentifier>"),
            ("a variable before a list's next string", "exec(c, \"up\", \"--authkey=\"+authKey, \"--advertise-routes=172.31.42.0/24\")"),
            // The traefik review (bench/precision.md, 2026-12-02): KV key paths, package paths,
            // environment variable names with digits, a keyboard-mashed guide token, empty PEM blocks.
            ("KV-store key path in a docs table",
             "| <a id=\"k\" title=\"#traefikhttpmiddlewaresMiddleware02basicAuthusers0\">`traefik/http/middlewares/Middleware02/basicAuth/users/0`</a> | `foobar` |"),
            ("KV-store key path ending in a name",
             "| <a title=\"#httpmiddlewaresMiddleware12headersaccessControlAllowCredentials\">`traefik/http/middlewares/Middleware12/headers/accessControlAllowCredentials`</a> |"),
            ("package paths in a lock file", "  packages = [\"aws/credentials\",\"aws/credentials/ec2rolecreds\",\"aws/credentials/endpointcreds\"]"),
            ("package path with a version part", "  packages = [\"connectivity\",\"credentials\",\"grpclb/grpc_lb_v1\",\"grpclog\"]"),
            ("environment variable names with digits",
             "| `rfc2136` | `RFC2136_TSIG_KEY`, `RFC2136_TSIG_SECRET`, `RFC2136_TSIG_ALGORITHM`, `RFC2136_NAMESERVER` |"),
            ("environment variable name, digits inside a word", "| `YANDEX360_OAUTH_TOKEN`, `YANDEX360_ORG_ID` |"),
            ("keyboard-mashed token in a guide",
             "docker swarm join --token SWMTKN-1-" + ExampleTemplate.expand("⟪lo:6⟫asdf⟪lo:30⟫-⟪lo:8⟫asdf⟪lo:12⟫") + " 10.0.0.2:2377"),
            ("base64 of an empty PEM block", "  tls.key: " + Data((pemLine("BEGIN") + "\n" + pemLine("END")).utf8).base64EncodedString()),
            ("base64 of a PEM header cut short", "  tls.key: " + Data(pemLine("BEGIN", "RSA ").utf8).base64EncodedString() + "..."),
            ("chained assignments in minified code", "N.DOMTokenList=N.DOMImplementation=N.dom=N.DocumentType=N.Document=N.Comment,"),
        ]
        for (what, line) in cases {
            XCTAssertEqual(try genericFindings(line), [], "\(what) is not a secret: \(line)")
        }
    }

    /// An armour line, assembled so that this file holds no PEM header of its own.
    func pemLine(_ edge: String, _ kind: String = "") -> String {
        "-----" + edge + " " + kind + "PRIVATE " + "KEY-----"
    }

    /// The filters above must leave issued-looking values alone, in every wrapper.
    func testRealCodeFiltersKeepCredentials() throws {
        let hex = ExampleTemplate.expand("⟪hex:40⟫")
        let base64 = ExampleTemplate.expand("⟪b64:43⟫=")
        let base64Slash = ExampleTemplate.expand("⟪b64:20⟫/⟪b64:22⟫=")
        let upperSnake = ExampleTemplate.expand("TK_⟪up:6⟫1A2B3C_⟪up:20⟫")
        let pemBody = Data((pemLine("BEGIN") + "\n" + ExampleTemplate.expand("⟪b64:48⟫") + "\n").utf8).base64EncodedString()
        let cases: [(String, String, String)] = [
            ("quoted mixed token", "\"client_secret\": \"\(value)\"", value),
            ("hex token", "access_token = \"\(hex)\"", hex),
            ("base64 key", "encryptSecret = \"\(base64)\"", base64),
            ("query string: the token alone", "https://api.service.test/v1?api_key=\(value)&page=2", value),
            ("unquoted .env value", "DB_PASSWORD=\(value)", value),
            ("base64 key with a slash", "aesKey := \"\(base64Slash)\"", base64Slash),
            ("upper-case token with underscores", "SERVICE_TOKEN=\(upperSnake)", upperSnake),
            ("base64 of a PEM block with a body", "tls.key: \(pemBody)", pemBody),
        ]
        for (what, line, secret) in cases {
            XCTAssertEqual(try genericFindings(line), [secret], "\(what): \(line)")
        }
    }

    /// Random letters-only tokens (no digit, by chance) mix cases in short runs: the camel-case test
    /// must not take them for names. Over many draws, nearly all are kept.
    func testLettersOnlyTokensAreNotTakenForNames() {
        var taken = 0
        for _ in 0..<2000 {
            let token = Array(ExampleTemplate.expand("⟪al:16⟫").utf8)
            if PlaceholderFilter.isWords(token) { taken += 1 }
        }
        XCTAssertLessThan(taken, 20, "\(taken) of 2000 random letter tokens read as names")
        XCTAssertTrue(PlaceholderFilter.isWords(Array("GetOpenIdTokenForDeveloperIdentity".utf8)))
        XCTAssertTrue(PlaceholderFilter.isWords(Array("UID:GID:GECOS:directory:shell".utf8)))
        XCTAssertFalse(PlaceholderFilter.isWords(Array("tYZlWrBKmzLwyjbq".utf8)))
    }

    /// The shape tests added for the traefik review must not take random tokens for names: base64
    /// (which has `/`) and hex split at `/` for key paths, upper-case tokens with `_` for constant
    /// names. Over many draws, nearly none are taken; the shapes they are for are.
    func testPathAndConstantShapesSpareRandomTokens() {
        var paths = 0, constants = 0
        for i in 0..<2000 {
            let salt = String(i)
            if PlaceholderFilter.isPathOfNames(Array(ExampleTemplate.expand("⟪b64:40⟫/⟪b64:3⟫", salt: salt).utf8)) { paths += 1 }
            if PlaceholderFilter.isPathOfNames(Array(ExampleTemplate.expand("⟪hex:12⟫/⟪hex:12⟫/⟪hex:8⟫", salt: salt).utf8)) { paths += 1 }
            if PlaceholderFilter.isConstantName(Array(ExampleTemplate.expand("⟪up:4⟫_⟪up:8⟫_⟪up:16⟫", salt: salt).utf8)) { constants += 1 }
            if PlaceholderFilter.isConstantName(Array(ExampleTemplate.expand("SK_LIVE_⟪up:24⟫", salt: salt).utf8)) { constants += 1 }
        }
        XCTAssertLessThan(paths, 20, "\(paths) of 4000 random tokens read as paths of names")
        XCTAssertLessThan(constants, 20, "\(constants) of 4000 random upper-case tokens read as constant names")
        for path in ["traefik/tls/options/Options0/clientAuth/caFiles/1", "aws/credentials/ec2rolecreds", "grpclb/grpc_lb_v1"] {
            XCTAssertTrue(PlaceholderFilter.isPathOfNames(Array(path.utf8)), path)
        }
        for name in ["RFC2136_TSIG_ALGORITHM", "YANDEX360_ORG_ID", "F5XC_TENANT_NAME", "BLUECATV2_CONFIG_NAME"] {
            XCTAssertTrue(PlaceholderFilter.isConstantName(Array(name.utf8)), name)
        }
    }
}
