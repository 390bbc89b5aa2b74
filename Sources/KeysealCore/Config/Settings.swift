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
            config = try KeysealConfig.load(file: file)
        }
        return Settings(config: config, rules: config.rules(), allowlist: config.allowlist(),
                        maxBlobSize: maxBlobSize ?? config.maxBlobSize ?? defaultMaxBlobSize)
    }

    /// Compiles the rules, or loads them from the on-disk cache (hooks run often; compiling is slow).
    public func matcher(cacheDirectory: URL? = Matcher.defaultCacheDirectory, deltaScans: Bool = false) throws -> Matcher {
        try Matcher(rules: rules, cacheDirectory: cacheDirectory, deltaScans: deltaScans)
    }
}
