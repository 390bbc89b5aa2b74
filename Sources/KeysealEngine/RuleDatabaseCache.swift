import CVectorscan
import Crypto
import Foundation

/// The compiled Vectorscan database on disk, so that hooks do not pay for compiling every rule on
/// every commit. One file per rule set: `rules-<sha256 of the rules and the Vectorscan version>.hsdb`,
/// written to a temporary file and renamed into place. A file that is stale, truncated or from
/// another platform is ignored and replaced.
enum RuleDatabaseCache {
    static let magic = Array("KSHSDB01".utf8)

    static func key(_ rules: [Rule]) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(String(cString: hs_version()).utf8))
        for rule in rules {
            for part in [rule.id, rule.prefilter ?? rule.regex, rule.caseless ? "i" : "-"] {
                hasher.update(data: Array(part.utf8) + [0])
            }
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    static func file(for rules: [Rule], in directory: URL) -> URL {
        directory.appendingPathComponent("rules-\(key(rules)).hsdb")
    }

    static func load(rules: [Rule], from directory: URL) -> (OpaquePointer, [Int?])? {
        guard let data = try? Data(contentsOf: file(for: rules, in: directory)) else { return nil }
        return data.withUnsafeBytes { raw -> (OpaquePointer, [Int?])? in
            let header = magic.count + 4
            guard raw.count > header, raw.prefix(magic.count).elementsEqual(magic) else { return nil }
            let count = Int(raw.loadUnaligned(fromByteOffset: magic.count, as: UInt32.self))
            let databaseStart = header + count * 4
            guard count == rules.count, raw.count > databaseStart else { return nil }
            let widths: [Int?] = (0..<count).map {
                let width = raw.loadUnaligned(fromByteOffset: header + $0 * 4, as: Int32.self)
                return width < 0 ? nil : Int(width)
            }
            var database: OpaquePointer?
            let bytes = raw.baseAddress!.advanced(by: databaseStart).assumingMemoryBound(to: CChar.self)
            guard hs_deserialize_database(bytes, raw.count - databaseStart, &database) == HS_SUCCESS,
                  let database else { return nil }
            return (database, widths)
        }
    }

    static func store(_ database: OpaquePointer, maxWidth: [Int?], rules: [Rule], in directory: URL) {
        var bytes: UnsafeMutablePointer<CChar>?
        var length = 0
        guard hs_serialize_database(database, &bytes, &length) == HS_SUCCESS, let bytes else { return }
        defer { free(bytes) }
        var data = Data(magic)
        withUnsafeBytes(of: UInt32(maxWidth.count)) { data.append(contentsOf: $0) }
        for width in maxWidth {
            withUnsafeBytes(of: Int32(width.map { min($0, Int(Int32.max)) } ?? -1)) { data.append(contentsOf: $0) }
        }
        data.append(Data(bytes: bytes, count: length))
        // A cache that cannot be written is not an error: the next run compiles again.
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let target = file(for: rules, in: directory)
        let temporary = directory.appendingPathComponent(".\(target.lastPathComponent).\(getpid()).tmp")
        do {
            try data.write(to: temporary)
            if rename(temporary.path, target.path) != 0 { try? FileManager.default.removeItem(at: temporary) }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
        }
        prune(directory, keeping: 4)
    }

    /// Each rule-set change writes a new file: keep the most recently used few (several repositories
    /// with different configs share the folder), remove the rest.
    static func prune(_ directory: URL, keeping count: Int) {
        let files = FileManager.default
        guard let names = try? files.contentsOfDirectory(atPath: directory.path) else { return }
        let databases = names.filter { $0.hasPrefix("rules-") && $0.hasSuffix(".hsdb") }.map { directory.appendingPathComponent($0) }
        guard databases.count > count else { return }
        let byAge = databases.sorted {
            let a = (try? files.attributesOfItem(atPath: $0.path)[.modificationDate] as? Date) ?? .distantPast
            let b = (try? files.attributesOfItem(atPath: $1.path)[.modificationDate] as? Date) ?? .distantPast
            return a > b
        }
        for stale in byAge.dropFirst(count) { try? files.removeItem(at: stale) }
    }

    /// `$XDG_CACHE_HOME/keyseal`, else `~/.cache/keyseal`.
    public static var defaultDirectory: URL {
        let environment = ProcessInfo.processInfo.environment
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("keyseal")
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".cache/keyseal")
    }
}

extension Matcher {
    /// Where compiled rule databases are cached by default.
    public static var defaultCacheDirectory: URL { RuleDatabaseCache.defaultDirectory }
}

/// Identifies what a rule set finds: every field that changes results, and the engine's filter
/// version. Stores key their scanned-blob records by it, so changing rules rescans.
public enum RuleSetHash {
    /// Bump when filters or confirmation change what the same rules report.
    static let engineVersion = "engine-6"

    public static func of(_ rules: [Rule]) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(engineVersion.utf8))
        for rule in rules {
            let span: String
            switch rule.span {
            case .line: span = "line"
            case .block(let bytes): span = "block\(bytes)"
            }
            let parts = [rule.id, rule.provider, rule.description, rule.regex, rule.prefilter ?? "", String(rule.secretGroup),
                         rule.nameGroup.map(String.init) ?? "", rule.caseless ? "i" : "", rule.minEntropy.map { "\($0)" } ?? "",
                         rule.keywords.joined(separator: ","), rule.generic ? "g" : "", span, rule.pairsWith ?? "",
                         String(rule.priority), rule.checksum?.rawValue ?? "", rule.guessable ? "p" : "", rule.namedValue ? "n" : ""]
            for part in parts { hasher.update(data: Array(part.utf8) + [0]) }
        }
        return hasher.finalize().prefix(16).map { String(format: "%02x", $0) }.joined()
    }
}
