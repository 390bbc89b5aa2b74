import CZlib
import Foundation
import KeysealCore
import XCTest

@testable import KeysealEngine

/// Secrets hidden in encodings, binaries and archives, built at run time.
final class EncodedAndContainedTests: XCTestCase {
    func scan(_ repo: TestRepository) throws -> ScanResult {
        try HistoryScan.scan(ScanOptions(path: repo.path, threads: 2, store: .none))
    }

    func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    /// A Slack webhook: its `/` separators are what percent- and JSON-escaping hide.
    var slackWebhook: String {
        ExampleTemplate.expand("https://hooks.slack.com/services/T⟪up:10⟫/B⟪up:10⟫/⟪an:24⟫", salt: "encoded")
    }

    func testKubernetesSecretDataIsDecoded() throws {
        let repo = try TestRepository()
        let token = FakeSecret.github("k8s")
        try repo.write("deploy/secret.yaml", """
            apiVersion: v1
            kind: Secret
            metadata:
              name: app
            type: Opaque
            data:
              username: \(base64("deploy"))
              github-token: \(base64(token))
            """)
        try repo.commit("secret")
        let result = try scan(repo)
        let finding = try XCTUnwrap(result.findings.first { $0.rule == "github-pat" })
        XCTAssertEqual(finding.encoding, "base64")
        XCTAssertEqual(finding.line, 8, "the encoded value's line")
        XCTAssertEqual(finding.column, 17)
        XCTAssertEqual(result.findings.count, 1)
    }

    func testKubernetesSecretAsJSONIsDecoded() throws {
        let repo = try TestRepository()
        let token = FakeSecret.github("k8s-json")
        try repo.write("secret.json", """
            {
              "apiVersion": "v1",
              "kind": "Secret",
              "metadata": {"name": "app"},
              "data": {
                "user": "\(base64("deploy"))",
                "token": "\(base64(token))"
              }
            }
            """)
        try repo.commit("json secret")
        let finding = try XCTUnwrap(try scan(repo).findings.first)
        XCTAssertEqual(finding.rule, "github-pat")
        XCTAssertEqual(finding.encoding, "base64")
        XCTAssertEqual(finding.line, 7)
    }

    /// An image-pull Secret: base64 of a Docker config whose `auth` is base64 of user:password.
    func testDockerConfigInsideAKubernetesSecretIsFoundAndVerified() throws {
        let repo = try TestRepository()
        let auth = base64("deploy-bot:" + FakeSecret.password("registry"))
        let dockerConfig = "{\"auths\":{\"registry.example.test\":{\"auth\":\"\(auth)\"}}}"
        try repo.write("k8s/pull-secret.yaml", """
            apiVersion: v1
            kind: Secret
            type: kubernetes.io/dockerconfigjson
            data:
              .dockerconfigjson: \(base64(dockerConfig))
            """)
        try repo.commit("pull secret")
        let result = try scan(repo)
        let finding = try XCTUnwrap(result.findings.first)
        XCTAssertEqual(finding.rule, "docker-config-auth")
        XCTAssertEqual(finding.encoding, "base64")
        XCTAssertEqual(finding.confidence, "high", "decodes to user:password")
        XCTAssertEqual(finding.line, 5)
        XCTAssertEqual(result.findings.count, 1)
    }

    func testBase64NamedValueAndNestedEncodingsAreDecoded() throws {
        let repo = try TestRepository()
        let key = FakeSecret.stripe("b64")
        let percent = slackWebhook.replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: "/", with: "%2F")
        try repo.write("app.env", "CONFIG_B64=\(base64("STRIPE_KEY=" + key))\nPLAIN=hello\nHOOK_BASE64=\(base64("url=" + percent))\n")
        try repo.commit("env")
        let result = try scan(repo)
        let stripe = try XCTUnwrap(result.findings.first { $0.rule == "stripe-secret-key" })
        XCTAssertEqual(stripe.encoding, "base64")
        XCTAssertEqual(stripe.line, 1)
        let slack = try XCTUnwrap(result.findings.first { $0.rule == "slack-webhook-url" })
        XCTAssertEqual(slack.encoding, "base64+percent", "base64 of percent-encoded text: both layers opened")
        XCTAssertEqual(slack.line, 3)
        XCTAssertEqual(result.findings.count, 2, "the base64 text itself is not reported again as a generic secret")
    }

    func testPercentEncodedAndJSONEscapedSecretsAreFound() throws {
        let repo = try TestRepository()
        let percent = slackWebhook.replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: "/", with: "%2F")
        let escaped = slackWebhook.replacingOccurrences(of: "/", with: "\\/")
        try repo.write("notify.txt", "callback=\(percent)\n")
        try repo.write("hook.json", "{\"url\": \"\(escaped)\"}\n")
        try repo.commit("hooks")
        let result = try scan(repo)
        XCTAssertEqual(Set(result.findings.map(\.rule)), ["slack-webhook-url"])
        XCTAssertEqual(Set(result.findings.map(\.fingerprint)).count, 1, "one secret, two places")
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: result.findings.map { ($0.path, $0.encoding ?? "") }),
                       ["notify.txt": "percent", "hook.json": "json-escape"])
    }

    func testRandomBase64IsNotDecodedIntoNoise() throws {
        let matcher = try Matcher(rules: BuiltInRules.all)
        let scratch = try matcher.makeScratch()
        // Valid base64 of random bytes: decodes to binary, so it is not scanned as text.
        let random = Data((0..<48).map { UInt8(truncatingIfNeeded: $0 &* 73 &+ 11) }).base64EncodedString()
        let found = try Array("IMAGE_B64=\(random)\n".utf8).withUnsafeBytes { try matcher.scan($0, scratch: scratch) }
        XCTAssertEqual(found.filter { $0.encoding != nil }.map { matcher.rules[$0.rule].id }, [])
        // Positive control, same matcher and scratch: base64 of text is decoded and scanned.
        let token = FakeSecret.github("decoded")
        let control = try Array("CONFIG_B64=\(base64("GITHUB_TOKEN=" + token))\n".utf8).withUnsafeBytes { try matcher.scan($0, scratch: scratch) }
        XCTAssertEqual(control.map { "\(matcher.rules[$0.rule].id) \($0.encoding ?? "plain")" }, ["github-pat base64"])
    }

    func testZipTarAndGzipMembersAreOpened() throws {
        let repo = try TestRepository()
        let token = FakeSecret.github("zip")
        let key = FakeSecret.stripe("tar")
        try repo.write("dist/bundle.zip", Self.zip([("config/.env", Data("X=1\nGITHUB_TOKEN=\(token)\n".utf8), true),
                                                     ("readme.txt", Data("nothing\n".utf8), false)]))
        try repo.write("backup.tar.gz", Self.gzip(Self.tar([("srv/app.ini", Data("[pay]\nkey=\(key)\n".utf8))])))
        try repo.commit("artifacts")
        let result = try scan(repo)
        let byPath = Dictionary(uniqueKeysWithValues: result.findings.map { ($0.path, $0) })
        XCTAssertEqual(byPath["dist/bundle.zip!config/.env"]?.rule, "github-pat")
        XCTAssertEqual(byPath["dist/bundle.zip!config/.env"]?.line, 2)
        XCTAssertEqual(byPath["backup.tar.gz!srv/app.ini"]?.rule, "stripe-secret-key")
        XCTAssertEqual(byPath["backup.tar.gz!srv/app.ini"]?.encoding, "gzip")
        XCTAssertEqual(result.findings.count, 2)
        XCTAssertEqual(result.summary.archives, 2)

        // The same findings come back from the store on a second, incremental scan.
        let first = try HistoryScan.scan(ScanOptions(path: repo.path, threads: 2, store: .inRepository))
        let again = try HistoryScan.scan(ScanOptions(path: repo.path, threads: 2, store: .inRepository))
        XCTAssertEqual(Set(first.findings.map(\.path)), Set(byPath.keys))
        XCTAssertEqual(Set(again.findings.map(\.path)), Set(byPath.keys))
        XCTAssertEqual(again.summary.blobsScanned, 0)
    }

    func testStagedBinaryWithATokenIsBlocked() throws {
        let repo = try TestRepository()
        try repo.write("README.md", "x\n")
        try repo.commit("start")
        try repo.write("tool.bin", Data([0, 0, 1]) + Data("key=\(FakeSecret.stripe("staged-bin"))".utf8) + Data([0]))
        try repo.git(["add", "tool.bin"])
        let out = try KeysealBinary.run(["staged"], in: repo.url)
        XCTAssertEqual(out.status, 1, out.stderr + out.stdout)
        XCTAssertTrue((out.stderr + out.stdout).contains("tool.bin"))
    }

    // MARK: - Archive builders (stored zip, ustar, gzip through zlib)

    static func zip(_ files: [(String, Data, Bool)]) -> Data {
        var body = Data(), central = Data()
        func le16(_ v: Int) -> Data { Data([UInt8(v & 0xff), UInt8(v >> 8 & 0xff)]) }
        func le32(_ v: Int) -> Data { le16(v & 0xffff) + le16(v >> 16 & 0xffff) }
        for (name, content, deflated) in files {
            let data = deflated ? rawDeflate(content) : content
            let method = deflated ? 8 : 0
            let crc = Int(TokenChecksum.crc32(Array(content)))
            let offset = body.count
            body += le32(0x0403_4b50) + le16(20) + le16(0) + le16(method) + le16(0) + le16(0) + le32(crc)
            body += le32(data.count) + le32(content.count) + le16(name.utf8.count) + le16(0) + Data(name.utf8) + data
            central += le32(0x0201_4b50) + le16(20) + le16(20) + le16(0) + le16(method) + le16(0) + le16(0) + le32(crc)
            central += le32(data.count) + le32(content.count) + le16(name.utf8.count) + le16(0) + le16(0) + le16(0)
            central += le16(0) + le32(0) + le32(offset) + Data(name.utf8)
        }
        let end = le32(0x0605_4b50) + le16(0) + le16(0) + le16(files.count) + le16(files.count)
            + le32(central.count) + le32(body.count) + le16(0)
        return body + central + end
    }

    static func tar(_ files: [(String, Data)]) -> Data {
        var out = Data()
        for (name, content) in files {
            var header = [UInt8](repeating: 0, count: 512)
            func put(_ text: String, at: Int) { for (i, b) in text.utf8.enumerated() { header[at + i] = b } }
            put(name, at: 0)
            put("0000644", at: 100)
            put(String(format: "%011o", content.count), at: 124)
            header[156] = 0x30
            put("ustar", at: 257)
            put("00", at: 263)
            put("        ", at: 148)
            let sum = header.reduce(0) { $0 + Int($1) }
            put(String(format: "%06o", sum), at: 148)
            header[154] = 0
            out += Data(header) + content + Data(count: (512 - content.count % 512) % 512)
        }
        return out + Data(count: 1024)
    }

    static func gzip(_ data: Data) -> Data { deflate(data, windowBits: 15 + 16) }
    static func rawDeflate(_ data: Data) -> Data { deflate(data, windowBits: -15) }

    static func deflate(_ data: Data, windowBits: Int32) -> Data {
        var stream = z_stream()
        deflateInit2_(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                      Int32(MemoryLayout<z_stream>.size))
        defer { deflateEnd(&stream) }
        var input = Array(data)
        var output = [UInt8](repeating: 0, count: data.count + 1024)
        input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = UInt32(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = UInt32(outBuffer.count)
                _ = CZlib.deflate(&stream, Z_FINISH)
            }
        }
        return Data(output.prefix(Int(stream.total_out)))
    }
}
