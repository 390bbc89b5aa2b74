import Foundation
import KeysealEngine
import KeysealStore
import KeysealGit

/// What every command derives from the repository and its config: rules, allowlist, limits.
public struct Settings: Sendable {
    public var config: KeysealConfig
    public var rules: [Rule]
    public var allowlist: Allowlist
    public var maxBlobSize: Int

    public static let defaultMaxBlobSize = 25 << 20

    /// `configFile` when given (it must exist); else `.keyseal.toml` at the work tree's root, if any.
    public static func load(workDirectory: String?, configFile: String?, maxBlobSize: Int? = nil) throws -> Settings {
        var config = KeysealConfig()
        if let file = configFile ?? KeysealConfig.discover(root: workDirectory) {
            do {
                config = try KeysealConfig.load(file: file)
            } catch let error as ConfigError {
                throw ScanError(error.description)
            }
        }
        return Settings(config: config, rules: config.rules(), allowlist: config.allowlist(),
                        maxBlobSize: maxBlobSize ?? config.maxBlobSize ?? defaultMaxBlobSize)
    }

    /// Compiles the rules, or loads them from the on-disk cache (hooks run often; compiling is slow).
    public func matcher(cacheDirectory: URL? = Matcher.defaultCacheDirectory) throws -> Matcher {
        do {
            return try Matcher(rules: rules, cacheDirectory: cacheDirectory)
        } catch let error as EngineError {
            throw ScanError(error.message)
        }
    }

}

extension Finding {
    /// One occurrence from an engine match; the clear secret is kept only when asked.
    init(rule: Rule, match: EngineMatch, fingerprint: String, pairedWith: String?, commit: String,
         author: Signature?, path: String, blob: String, showSecret: Bool) {
        self.init(rule: rule.id, provider: rule.provider, description: rule.description, fingerprint: fingerprint,
                  preview: SecretText.preview(match.secret, rule: rule),
                  secret: showSecret ? String(decoding: match.secret, as: UTF8.self) : nil,
                  commit: commit, author: author?.name ?? "", email: author?.email ?? "",
                  date: author.map(FindingBuilder.iso8601) ?? "", path: path, line: match.line, column: match.column,
                  blob: blob, pairedWith: pairedWith, confidence: Finding.confidence(checksumValid: match.checksumValid),
                  detail: match.detail)
    }
}

extension EngineMatch {
    /// Archive member, byte offset and encoding, as the store keeps them.
    var detail: MatchDetail? { MatchDetail(innerPath: innerPath, byteOffset: byteOffset, encoding: encoding, identity: identity) }
    /// Found in an archive member, a compressed file or a binary: its lines are not the blob's, so a
    /// hook reports it whenever the blob is part of the change.
    var outsideBlobLines: Bool { innerPath != nil || byteOffset != nil || encoding?.hasPrefix("gzip") == true }

    /// The last line the secret spans (PEM bodies run over many).
    var endLine: Int { line + secret.reduce(0) { $0 + ($1 == 0x0a ? 1 : 0) } }
}
