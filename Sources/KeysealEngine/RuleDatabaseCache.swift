import CVectorscan
import Crypto
import Foundation

/// The compiled Vectorscan database on disk, so that hooks do not pay for compiling every rule on
/// every commit. One file per rule set: `rules-<sha256 of the rules and the Vectorscan version>.hsdb`,
/// written to a temporary file and renamed into place. A file that is stale, truncated or from
/// another platform is ignored and replaced.
enum RuleDatabaseCache {
    /// Version 2 keeps each pattern's compile flags (whether it fell back to prefilter mode), so the
    /// databases for delta scans compile their subsets with exactly the full database's flags.
    static let magic = Array("KSHSDB02".utf8)

    static func key(_ rules: [Rule]) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(String(cString: hs_version()).utf8))
        let separator: [UInt8] = [0]
        for rule in rules {
            for part in [rule.id, rule.prefilter ?? rule.regex, rule.caseless ? "i" : "-"] {
                var part = part
                part.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
                hasher.update(data: separator)
            }
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// `variant` names a database compiled from part of the rules (the delta scans' two), whose
    /// patterns the rules decide: the same key, another file.
    static func file(for rules: [Rule], variant: String = "", in directory: URL) -> URL {
        directory.appendingPathComponent("rules-\(key(rules))\(variant.isEmpty ? "" : "-" + variant).hsdb")
    }

    /// The full database with each pattern's width and flags; for a `variant`, its database alone
    /// (count 0: the full one's list describes its patterns).
    static func load(rules: [Rule], variant: String = "", from directory: URL) -> (OpaquePointer, [Int?], [UInt32])? {
        guard let data = readWhole(file(for: rules, variant: variant, in: directory)) else { return nil }
        return data.withUnsafeBytes { raw -> (OpaquePointer, [Int?], [UInt32])? in
            let header = magic.count + 4
            guard raw.count > header, raw.prefix(magic.count).elementsEqual(magic) else { return nil }
            let count = Int(raw.loadUnaligned(fromByteOffset: magic.count, as: UInt32.self))
            guard count == (variant.isEmpty ? rules.count : 0) else { return nil }
            let databaseStart = header + count * 8
            guard raw.count > databaseStart else { return nil }
            let widths: [Int?] = (0..<count).map {
                let width = raw.loadUnaligned(fromByteOffset: header + $0 * 8, as: Int32.self)
                return width < 0 ? nil : Int(width)
            }
            let flags = (0..<count).map { raw.loadUnaligned(fromByteOffset: header + $0 * 8 + 4, as: UInt32.self) }
            var database: OpaquePointer?
            let bytes = raw.baseAddress!.advanced(by: databaseStart).assumingMemoryBound(to: CChar.self)
            guard hs_deserialize_database(bytes, raw.count - databaseStart, &database) == HS_SUCCESS,
                  let database else { return nil }
            return (database, widths, flags)
        }
    }

    /// The file's bytes, read into a buffer that is not zeroed first (Data(contentsOf:) zeroes and
    /// then fills its 3 MiB, which showed in every hook's start). Not mapped: a file cut short
    /// under a mapping (another host pruning a shared cache) would crash the hook, where a short
    /// read only sends it back to compiling. nil when it cannot be read whole.
    static func readWhole(_ url: URL) -> [UInt8]? {
        let descriptor = open(url.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_size > 0, info.st_size < 1 << 30 else { return nil }
        let size = Int(info.st_size)
        var complete = true
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            var done = 0
            while done < size {
                let got = read(descriptor, buffer.baseAddress! + done, size - done)
                if got <= 0 { break }
                done += got
            }
            complete = done == size
            count = done
        }
        return complete ? bytes : nil
    }

    static func store(_ database: OpaquePointer, maxWidth: [Int?], flags: [UInt32], rules: [Rule], variant: String = "",
                      in directory: URL) {
        var bytes: UnsafeMutablePointer<CChar>?
        var length = 0
        guard hs_serialize_database(database, &bytes, &length) == HS_SUCCESS, let bytes else { return }
        defer { free(bytes) }
        var data = Data(magic)
        withUnsafeBytes(of: UInt32(maxWidth.count)) { data.append(contentsOf: $0) }
        for (width, flag) in zip(maxWidth, flags) {
            withUnsafeBytes(of: Int32(width.map { min($0, Int(Int32.max)) } ?? -1)) { data.append(contentsOf: $0) }
            withUnsafeBytes(of: flag) { data.append(contentsOf: $0) }
        }
        data.append(Data(bytes: bytes, count: length))
        // A cache that cannot be written is not an error: the next run compiles again.
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let target = file(for: rules, variant: variant, in: directory)
        let temporary = directory.appendingPathComponent(".\(target.lastPathComponent).\(getpid()).tmp")
        do {
            try data.write(to: temporary)
            if rename(temporary.path, target.path) != 0 { try? FileManager.default.removeItem(at: temporary) }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
        }
        prune(directory, keeping: 4)
    }

    /// Each rule-set change writes new files (the full database, and for history scans the delta
    /// scans' two): keep those of the most recently used few rule sets (several repositories with
    /// different configs share the folder), remove the rest.
    static func prune(_ directory: URL, keeping count: Int) {
        let files = FileManager.default
        guard let names = try? files.contentsOfDirectory(atPath: directory.path) else { return }
        // rules-<64 hex digits of the key>[-variant].hsdb
        var sets: [Substring: (newest: Date, files: [URL])] = [:]
        for name in names where name.hasPrefix("rules-") && name.hasSuffix(".hsdb") && name.count >= 6 + 64 + 5 {
            let key = name.dropFirst(6).prefix(64)
            let url = directory.appendingPathComponent(name)
            let date = (try? files.attributesOfItem(atPath: url.path)[.modificationDate] as? Date) ?? .distantPast
            let entry = sets[key] ?? (.distantPast, [])
            sets[key] = (max(entry.newest, date), entry.files + [url])
        }
        guard sets.count > count else { return }
        for stale in sets.values.sorted(by: { $0.newest > $1.newest }).dropFirst(count) {
            for file in stale.files { try? files.removeItem(at: file) }
        }
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
