import Foundation
import KeysealCore
import KeysealEngine
import XCTest

/// `keyseal audit` on real repositories: each check with a case it must flag and one it must not.
final class AuditTests: XCTestCase {
    /// Commits `files`, runs the audit, returns (rule, path, line) of each finding, and the document.
    func audit(_ files: [String: String], untracked: [String: String] = [:], configure: ((TestRepository) throws -> Void)? = nil)
        throws -> ([(rule: String, path: String, line: Int)], [String: Any]) {
        let repo = try TestRepository()
        for (path, text) in files { try repo.write(path, text) }
        try repo.commit("files")
        for (path, text) in untracked { try Data(text.utf8).write(to: repo.url.appendingPathComponent(path)) }
        try configure?(repo)
        let out = try KeysealBinary.run(["audit", "--format", "json"], in: repo.url)
        XCTAssertTrue(out.status == 0 || out.status == 1, out.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any], out.stdout + out.stderr)
        let findings = (json["findings"] as? [[String: Any]] ?? []).map {
            (rule: $0["rule"] as? String ?? "", path: $0["path"] as? String ?? "", line: $0["line"] as? Int ?? 0)
        }
        XCTAssertEqual(out.status, findings.isEmpty ? 0 : 1)
        return (findings, json)
    }

    func rules(_ findings: [(rule: String, path: String, line: Int)]) -> Set<String> { Set(findings.map(\.rule)) }

    let placeholderEnv = "DB_PASSWORD=changeme\nAPI_KEY=<your-api-key>\n"

    func testTrackedFilesThatShouldNeverBeTracked() throws {
        let key = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + ExampleTemplate.expand("⟪b64:70⟫") + "\n-----END OPENSSH PRIVATE KEY-----\n"
        let (found, _) = try audit([
            ".env": "DB_PASSWORD=\(FakeSecret.password("env"))\n",
            ".env.production": "X=1\n",
            ".env.example": placeholderEnv,
            "deploy/id_rsa": key,
            "certs/server.pem": key.replacingOccurrences(of: "OPENSSH PRIVATE KEY", with: "PRIVATE KEY"),
            "certs/public.pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            "keys/app.p12": "binary",
            "ops/.git-credentials": "https://u:p@example.test\n",
            "ops/.netrc": "machine x login u password p\n",
            "infra/terraform.tfstate": "{}\n",
            "gcp/sa.json": "{\"type\": \"service_account\", \"private_key\": \"x\"}\n",
            "gcp/other.json": "{\"type\": \"authorized_user\"}\n",
            "kube/config": "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: abcdef123456\n",
            "kube/no-creds.yaml": "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    exec: {}\n",
            ".docker/config.json": "{\"auths\": {\"r.example.test\": {\"auth\": \"dXNlcjpwYXNzd29yZA==\"}}}\n",
        ])
        let byPath: [String: String] = Dictionary(found.map { ($0.path, $0.rule) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(byPath[".env"], "audit-tracked-env-file")
        XCTAssertEqual(byPath[".env.production"], "audit-tracked-env-file")
        XCTAssertNil(byPath[".env.example"], "a template of placeholders is fine")
        XCTAssertEqual(byPath["deploy/id_rsa"], "audit-tracked-private-key")
        XCTAssertEqual(byPath["certs/server.pem"], "audit-tracked-private-key")
        XCTAssertNil(byPath["certs/public.pem"], "a certificate is not a key")
        XCTAssertEqual(byPath["keys/app.p12"], "audit-tracked-keystore")
        XCTAssertEqual(byPath["ops/.git-credentials"], "audit-tracked-credentials-file")
        XCTAssertEqual(byPath["ops/.netrc"], "audit-tracked-credentials-file")
        XCTAssertEqual(byPath["infra/terraform.tfstate"], "audit-tracked-terraform-state")
        XCTAssertEqual(byPath["gcp/sa.json"], "audit-tracked-service-account")
        XCTAssertNil(byPath["gcp/other.json"])
        XCTAssertEqual(byPath["kube/config"], "audit-tracked-kubeconfig")
        XCTAssertNil(byPath["kube/no-creds.yaml"])
        XCTAssertEqual(byPath[".docker/config.json"], "audit-tracked-docker-config")
    }

    /// A kubeconfig-looking file of a million blank lines (or `\r`s, each a line start to ICU) once
    /// cost time quadratic in its length; the audit reads it in one pass and still finds a token
    /// after the run, on its line.
    func testRunsOfBlankLinesInAKubeconfigCostLinearTime() throws {
        let head = "apiVersion: v1\nkind: Config\nusers:\n"
        let run = 1 << 20
        let (found, _) = try audit([
            "a/config": head + String(repeating: "\n", count: run),
            "b/config": head + String(repeating: "\r", count: run) + "\n",
            "c/config": head + String(repeating: "\n", count: run) + "- name: u\n  user:\n    token: abcdef123456\n",
            "d/config": head + String(repeating: " ", count: run) + "\n",
        ])
        let kube = found.filter { $0.rule == "audit-tracked-kubeconfig" }
        XCTAssertEqual(kube.map(\.path), ["c/config"])
        XCTAssertEqual(kube.first?.line, 3 + run + 3)
    }

    /// The Dockerfile's and the docker config's patterns on long runs of what they skip over (a
    /// redirection followed by blanks, a command followed by one long word, an unclosed `auth`):
    /// each attempt stops at the next `>`, blank or quote, so the audit ends and still finds what
    /// follows the runs.
    func testLongRunsInADockerfileAndADockerConfigEnd() throws {
        let run = 1 << 19  // the Dockerfile stays under the audit's 4 MiB a file
        let dockerfile = "FROM alpine:3.20\n"
            + "RUN echo x >" + String(repeating: " ", count: run) + "done\n"
            + "RUN echo " + String(repeating: ">", count: run / 2) + "\n"
            + "RUN npm config set " + String(repeating: "a", count: run) + "\n"
            + "RUN git config " + String(repeating: "x ", count: run / 2) + "\n"
            + "RUN echo token > /root/.npmrc\n"
            + "RUN cat <<" + String(repeating: "A", count: run) + "\n"
        let config = "{\"auths\": {\"r\": {\"auth\": \"" + String(repeating: "A", count: run) + "\n"
        let (found, _) = try audit(["Dockerfile": dockerfile, "docker/config.json": config])
        XCTAssertEqual(found.filter { $0.rule == "audit-dockerfile-run-writes-secret" }.map(\.line), [6], "\(found)")
    }

    func testDockerfileEnvArgAndContinuationLines() throws {
        let secret = FakeSecret.password("docker")
        let dockerfile = """
            # syntax=docker/dockerfile:1
            FROM alpine:3.20
            ENV APP_MODE=production \\
                LOG_LEVEL=info \\
                DB_PASSWORD=\(secret)
            ENV DB_PASSWORD_FILE=/run/secrets/db
            ENV API_TOKEN ${API_TOKEN}
            ARG NPM_TOKEN
            ARG SIGNING_KEY=\(FakeSecret.password("arg"))
            RUN echo "//registry.npmjs.org/:_authToken=$NPM_TOKEN" > ~/.npmrc && npm ci
            COPY .env /app/.env
            COPY config/ /app/config/
            """
        let (found, _) = try audit(["Dockerfile": dockerfile, ".dockerignore": ".env*\n.git\n*.pem\nid_*\n"])
        let lines = Dictionary(grouping: found, by: \.rule).mapValues { $0.map(\.line).sorted() }
        XCTAssertEqual(lines["audit-dockerfile-secret-env"], [5], "flagged on the physical line of DB_PASSWORD, not the ENV line")
        XCTAssertEqual(lines["audit-dockerfile-secret-arg"], [9])
        XCTAssertEqual(lines["audit-dockerfile-arg-in-run"], [10])
        XCTAssertEqual(lines["audit-dockerfile-run-writes-secret"], [10])
        XCTAssertEqual(lines["audit-dockerfile-copy-secret-file"], [11])
        XCTAssertNil(lines["audit-dockerfile-copy-context"])
    }

    func testDockerfileBuildSecretAndMultiStageAreNotFlagged() throws {
        let dockerfile = """
            FROM golang:1.22 AS build
            WORKDIR /src
            COPY . .
            RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci
            RUN --mount=type=secret,id=netrc,target=/root/.netrc go build -o /out/app
            FROM gcr.io/distroless/static
            COPY --from=build /out/app /app
            ENTRYPOINT ["/app"]
            """
        let (found, _) = try audit(["Dockerfile": dockerfile])
        XCTAssertTrue(found.isEmpty, "\(found)")
    }

    func testCopyContextNeedsAProtectingDockerignore() throws {
        let dockerfile = "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\n"
        let (none, _) = try audit(["Dockerfile": dockerfile])
        XCTAssertEqual(none.map(\.rule), ["audit-dockerfile-copy-context"])
        XCTAssertEqual(none.first?.line, 3)
        let (partial, json) = try audit(["Dockerfile": dockerfile, ".dockerignore": "node_modules\n.git\n"])
        XCTAssertEqual(partial.map(\.rule), ["audit-dockerfile-copy-context"])
        let detail = (json["findings"] as? [[String: Any]])?.first?["detail"] as? String ?? ""
        XCTAssertTrue(detail.contains(".env*"), detail)
        let (covered, _) = try audit(["Dockerfile": dockerfile, ".dockerignore": "**/.env*\n.git\n*.pem\nid_*\nnode_modules\n"])
        XCTAssertTrue(covered.isEmpty, "\(covered)")
    }

    func testHeredocRunAndMalformedDockerfileWarn() throws {
        let dockerfile = "FROM alpine\nRUN <<EOF\necho \"password=x\" > ~/.netrc\nEOF\nENV DB_PASSWORD \\\n"
        let (found, json) = try audit(["app.Dockerfile": dockerfile])
        XCTAssertEqual(rules(found), ["audit-dockerfile-run-writes-secret"])
        XCTAssertFalse((json["warnings"] as? [String] ?? []).isEmpty, "a trailing continuation is reported as a warning")
    }

    func testComposeEnvironmentLiterals() throws {
        let compose = """
            services:
              db:
                image: postgres:16
                environment:
                  POSTGRES_PASSWORD: \(FakeSecret.password("compose"))
                  POSTGRES_USER: app
                  REPLICA_PASSWORD: ${REPLICA_PASSWORD}
              api:
                environment:
                  - API_TOKEN=\(FakeSecret.password("compose2"))
                  - LOG_LEVEL=debug
                  - SECRET_KEY_FILE=/run/secrets/key
            """
        let (found, _) = try audit(["docker-compose.yml": compose])
        XCTAssertEqual(found.filter { $0.rule == "audit-compose-secret-env" }.map(\.line).sorted(), [5, 10])
    }

    func testKubernetesSecretManifestIsDecodedAndCheckedByContentRules() throws {
        let token = FakeSecret.github("k8s")
        let encoded = Data("GITHUB_TOKEN=\(token)".utf8).base64EncodedString()
        let manifest = """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: settings
            data:
              mode: production
            ---
            apiVersion: v1
            kind: Secret
            metadata:
              name: creds
            type: Opaque
            data:
              token: \(encoded)
              broken: not-base64!!
            """
        let (found, json) = try audit(["k8s/secret.yaml": manifest])
        let k8s = (json["findings"] as? [[String: Any]] ?? []).filter { $0["rule"] as? String == "audit-k8s-secret-manifest" }
        XCTAssertEqual(k8s.count, 2, "the manifest, and its decoded GitHub token")
        XCTAssertTrue(k8s.contains { $0["content_rule"] as? String == "github-pat" && $0["line"] as? Int == 14 }, "\(k8s)")
        XCTAssertFalse(json.description.contains(token))
        XCTAssertTrue((json["warnings"] as? [String] ?? []).contains { $0.contains("base64") })
        XCTAssertFalse(found.contains { $0.path == "k8s/secret.yaml" && $0.line < 7 }, "the ConfigMap is not a Secret")
    }

    func testPackageManagerConfigs() throws {
        let (found, _) = try audit([
            ".npmrc": "//registry.npmjs.org/:_authToken=\(FakeSecret.password("npmrc"))\n",
            "tools/.npmrc": "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n",
            ".pypirc": "[pypi]\nusername = __token__\npassword = \(FakeSecret.password("pypirc"))\n",
            "pip.conf": "[global]\nindex-url = https://user:\(FakeSecret.password("pip"))@pypi.internal.test/simple\n",
            "ci/pip.conf": "[global]\nindex-url = https://pypi.internal.test/simple\n",
        ])
        XCTAssertEqual(Set(found.map { "\($0.rule) \($0.path):\($0.line)" }),
                       ["audit-npmrc-token .npmrc:1", "audit-pypirc-password .pypirc:3", "audit-pip-conf-credentials pip.conf:2"])
    }

    func testGitignoreGapsAndGitConfig() throws {
        let (found, _) = try audit(["README.md": "x\n", ".gitignore": "ignored.env\n"],
                                   untracked: [".env.local": "A=1\n", "ignored.env": "A=1\n", "notes.txt": "x\n"]) { repo in
            try repo.git(["remote", "add", "origin", "https://deploy:\(FakeSecret.password("remote"))@git.example.test/r.git"])
            try repo.git(["remote", "add", "clean", "https://git.example.test/r.git"])
            try repo.git(["config", "credential.helper", "store"])
        }
        XCTAssertEqual(Set(found.map { "\($0.rule) \($0.path)" }),
                       ["audit-untracked-secret-file .env.local", "audit-git-remote-credentials .git/config",
                        "audit-git-credential-store .git/config"])
    }

    func testContentRulesTagTheRouteWithTheProvider() throws {
        let (_, json) = try audit(["Dockerfile": "FROM alpine\nENV GITHUB_TOKEN=\(FakeSecret.github("route"))\n"])
        let finding = try XCTUnwrap((json["findings"] as? [[String: Any]])?.first)
        XCTAssertEqual(finding["rule"] as? String, "audit-dockerfile-secret-env")
        XCTAssertEqual(finding["provider"] as? String, "GitHub")
        XCTAssertEqual(finding["content_rule"] as? String, "github-pat")
    }

    func testMalformedJSONAndYAMLWarnAndTheAuditGoesOn() throws {
        let (found, json) = try audit([
            "gcp/broken.json": "{\"type\": \"service_account\", \"private_key\": ",
            "k8s/broken.yaml": "kind: Secret\ndata:\n  a: !!!notbase64\n  : weird\n",
            ".env": "A=1\n",
        ])
        XCTAssertTrue(rules(found).contains("audit-tracked-env-file"), "the rest of the audit still runs")
        XCTAssertFalse((json["warnings"] as? [String] ?? []).isEmpty)
    }

    func testScanRunsTheAuditAndStagedBlocksAnEnvFile() throws {
        let repo = try TestRepository()
        try repo.write(".env", "MODE=dev\n")
        try repo.commit("env")
        let scan = try KeysealBinary.run(["scan", "--quiet", "--format", "json"], in: repo.url)
        XCTAssertEqual(scan.status, 1, "an audit finding fails the scan")
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(scan.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(((json["audit"] as? [String: Any])?["findings"] as? [[String: Any]])?.first?["rule"] as? String, "audit-tracked-env-file")
        XCTAssertEqual(try KeysealBinary.run(["scan", "--quiet", "--no-audit"], in: repo.url).status, 0)

        try repo.write(".env.staging", "MODE=staging\n")
        let staged = try KeysealBinary.run(["staged"], in: repo.url)
        XCTAssertEqual(staged.status, 1)
        XCTAssertTrue(staged.stderr.contains("audit-tracked-env-file"), staged.stderr)
        try repo.git(["rm", "-q", "--cached", ".env.staging"])
        try repo.write("Dockerfile", "FROM alpine\nENV API_KEY=\(FakeSecret.password("staged-docker"))\n")
        let docker = try KeysealBinary.run(["staged"], in: repo.url)
        XCTAssertEqual(docker.status, 1)
        XCTAssertTrue(docker.stderr.contains("audit-dockerfile-secret-env"), docker.stderr)
    }

    func testAuditSARIFCarriesTheFixAsHelp() throws {
        let repo = try TestRepository()
        try repo.write(".env", "MODE=dev\n")
        try repo.commit("env")
        let out = try KeysealBinary.run(["audit", "--format", "sarif"], in: repo.url)
        XCTAssertEqual(out.status, 1)
        let sarif = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
        let rules = (((sarif["runs"] as? [[String: Any]])?.first?["tool"] as? [String: Any])?["driver"] as? [String: Any])?["rules"] as? [[String: Any]]
        let help = (rules?.first?["help"] as? [String: Any])?["text"] as? String ?? ""
        XCTAssertTrue(help.hasPrefix("Fix:"), help)
    }

    func testEveryAuditRuleHasWhyAndFix() {
        for rule in AuditRules.all {
            XCTAssertFalse(rule.why.isEmpty, rule.id)
            XCTAssertFalse(rule.fix.isEmpty, rule.id)
            XCTAssertTrue(rule.id.hasPrefix("audit-"), rule.id)
        }
    }
}
