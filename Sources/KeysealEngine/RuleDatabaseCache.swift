import CVectorscan
import Crypto
import CLocalFiles
import Foundation
import Synchronization

/// A Vectorscan database and what must be done to let it go: the library's own allocation
/// (compiled, or deserialized), a cache file mapped in place, or a buffer the cache file was read
/// into. It is made with a scratch allocated for it, which checked it (`hs_alloc_scratch` verifies
/// a database's checksum), so a damaged cache file is refused before anything scans with it; the
/// first `Matcher.Scratch` takes that scratch rather than allocating (and checking) again.
final class VectorscanDatabase: @unchecked Sendable {
    enum Storage {
        case library
        case mapped(UnsafeMutableRawPointer, Int)
        case buffer(UnsafeMutableRawPointer)
    }
    let pointer: OpaquePointer
    private let storage: Storage
    /// The scratch made with the database, as an address (0: taken), until a `Matcher.Scratch` takes it.
    private let spare: Mutex<UInt>

    /// Nil (and `storage` released) when the database does not pass Vectorscan's checks.
    /// `keepingScratch`: false for a database whose scans use another's scratch, grown for it (the
    /// delta scans' two): the scratch that checked it is freed at once.
    init?(_ pointer: OpaquePointer, storage: Storage, keepingScratch: Bool = true) {
        var scratch: OpaquePointer?
        guard hs_alloc_scratch(pointer, &scratch) == HS_SUCCESS, let scratch else {
            if let scratch { hs_free_scratch(scratch) }
            Self.release(pointer, storage)
            return nil
        }
        self.pointer = pointer
        self.storage = storage
        if keepingScratch {
            spare = Mutex(UInt(bitPattern: UnsafeRawPointer(scratch)))
        } else {
            hs_free_scratch(scratch)
            spare = Mutex(0)
        }
    }

    /// A scratch for this database (the caller frees it): the one made with it, once; then new ones.
    func scratch() -> OpaquePointer? {
        if let taken = OpaquePointer(bitPattern: spare.withLock { spare in
            defer { spare = 0 }
            return spare
        }) {
            return taken
        }
        var scratch: OpaquePointer?
        guard hs_alloc_scratch(pointer, &scratch) == HS_SUCCESS else {
            if let scratch { hs_free_scratch(scratch) }
            return nil
        }
        return scratch
    }

    deinit {
        if let scratch = OpaquePointer(bitPattern: spare.withLock { $0 }) { hs_free_scratch(scratch) }
        Self.release(pointer, storage)
    }

    private static func release(_ pointer: OpaquePointer, _ storage: Storage) {
        switch storage {
        case .library: hs_free_database(pointer)
        case .mapped(let base, let length): munmap(base, length)
        case .buffer(let base): base.deallocate()
        }
    }
}

/// The compiled Vectorscan database on disk, so that hooks do not pay for compiling every rule on
/// every commit. One file per rule set: `rules-<sha256 of the rules and the Vectorscan version>.hsdb`,
/// written to a temporary file and renamed into place (never rewritten in place). A file that is
/// stale, truncated or from another platform is ignored and replaced.
///
/// The file holds the database as Vectorscan lays it out in memory (deserialized at a 64-byte
/// boundary, at a 64-byte offset in the file), so a hook maps the file and scans with it where it
/// lies: no read into a buffer, no zeroed copy, only the pages a scan touches. (Reading, zeroing,
/// copying and checking the 3 MiB of the serialized form took 4 of the 20 ms of `keyseal staged`.)
enum RuleDatabaseCache {
    /// Version 3: the in-memory layout (version 2 held Vectorscan's serialized form). Version 2
    /// kept each pattern's compile flags, so the delta scans' databases compile their subsets with
    /// exactly the full database's flags.
    static let magic = Array("KSHSDB03".utf8)
    /// magic, pattern count, image length, reserved, 8 bytes checking the pattern list and the
    /// image's header.
    static let headerLength = 8 + 4 + 4 + 8 + 8
    /// The image's first bytes, which hold its layout (Vectorscan's checksum covers only the rest).
    static let imageHeaderLength = 256

    /// The key of `rules` followed by `more` (the matcher's locators, kept apart so that a hook
    /// does not copy the rule list to name its file).
    static func key(_ rules: [Rule], _ more: [Rule] = []) -> String {
        // Streamed through one small buffer: a hook computes this on every run, and an update per
        // part, a formatted string per byte (0.6 ms) or one 300 KB buffer (its page faults) cost more.
        var hasher = SHA256()
        // The file format is part of the name: keyseal versions that share a cache folder (a pinned
        // pre-commit copy beside an install) then keep a file each rather than replacing each
        // other's on every run.
        var text = magic + Array(String(cString: hs_version()).utf8)
        text.reserveCapacity(1 << 16)
        for rule in [rules, more].joined() {
            text += rule.id.utf8
            text.append(0)
            text += (rule.prefilter ?? rule.regex).utf8
            text.append(0)
            text.append(rule.caseless ? UInt8(ascii: "i") : UInt8(ascii: "-"))
            text.append(0)
            if text.count >= 60_000 {
                hasher.update(data: text)
                text.removeAll(keepingCapacity: true)
            }
        }
        hasher.update(data: text)
        return hexadecimal(hasher.finalize())
    }

    static func hexadecimal<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `variant` names a database compiled from part of the rules (the delta scans' two), whose
    /// patterns the rules decide: the same key, another file.
    static func file(for rules: [Rule], _ more: [Rule] = [], variant: String = "", in directory: URL) -> URL {
        directory.appendingPathComponent("rules-\(key(rules, more))\(variant.isEmpty ? "" : "-" + variant).hsdb")
    }

    static func imageOffset(count: Int) -> Int { (headerLength + count * 8 + 63) & ~63 }

    /// What Vectorscan's checksum does not cover: each pattern's width and flags (which bound the
    /// searches around a hit), and the image's header.
    static func check(patterns: UnsafeRawBufferPointer, image: UnsafeRawBufferPointer) -> UInt64 {
        var hasher = SHA256()
        hasher.update(bufferPointer: patterns)
        hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: image.prefix(imageHeaderLength)))
        return hasher.finalize().withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }

    /// The full database with each pattern's width and flags; for a `variant`, its database alone
    /// (count 0: the full one's list describes its patterns).
    static func load(rules: [Rule], _ more: [Rule] = [], variant: String = "", from directory: URL,
                     keepingScratch: Bool = true) -> (VectorscanDatabase, [Int?], [UInt32])? {
        let descriptor = open(file(for: rules, more, variant: variant, in: directory).path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_size > 0, info.st_size < 1 << 30 else { return nil }
        let size = Int(info.st_size)
        let storage: VectorscanDatabase.Storage
        let base: UnsafeMutableRawPointer
        if onLocalFileSystem(descriptor), let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0),
           mapped != MAP_FAILED {
            base = mapped
            storage = .mapped(mapped, size)
        } else {
            // Aligned as a mapping is, so the image lies at a 64-byte boundary here too.
            base = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
            storage = .buffer(base)
            var done = 0
            while done < size {
                let got = read(descriptor, base + done, size - done)
                if got <= 0 { break }
                done += got
            }
            guard done == size else {
                base.deallocate()
                return nil
            }
        }
        func refuse() -> (VectorscanDatabase, [Int?], [UInt32])? {
            switch storage {
            case .mapped(let base, let length): munmap(base, length)
            case .buffer(let base): base.deallocate()
            case .library: break
            }
            return nil
        }
        let raw = UnsafeRawBufferPointer(start: base, count: size)
        guard size > headerLength, raw.prefix(magic.count).elementsEqual(magic) else { return refuse() }
        let count = Int(raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        let imageLength = Int(raw.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        let stored = raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
        guard count == (variant.isEmpty ? rules.count + more.count : 0), imageLength >= imageHeaderLength,
              imageOffset(count: count) + imageLength == size
        else { return refuse() }
        let image = UnsafeRawBufferPointer(rebasing: raw[imageOffset(count: count)...])
        // The layout (where the bytecode starts, its length) must be the one written; then
        // Vectorscan's own checks (magic, version, platform, length) and its checksum of the rest.
        var length = 0
        // Safe: `image` is at least `imageHeaderLength` bytes, past any database header.
        let database = OpaquePointer(image.baseAddress!)
        let patterns = UnsafeRawBufferPointer(rebasing: raw[headerLength..<(headerLength + count * 8)])
        guard check(patterns: patterns, image: image) == stored, hs_database_size(database, &length) == HS_SUCCESS, length == imageLength
        else { return refuse() }
        let widths: [Int?] = (0..<count).map {
            let width = raw.loadUnaligned(fromByteOffset: headerLength + $0 * 8, as: Int32.self)
            return width < 0 ? nil : Int(width)
        }
        let flags = (0..<count).map { raw.loadUnaligned(fromByteOffset: headerLength + $0 * 8 + 4, as: UInt32.self) }
        guard let checked = VectorscanDatabase(database, storage: storage, keepingScratch: keepingScratch) else { return nil }
        return (checked, widths, flags)
    }

    /// Whether a mapping of the file is safe to keep: on a network or FUSE file system another host
    /// can remove the file under it (a later page fault then kills the process); there the file is
    /// read instead. Local file systems keep an unlinked file's pages for whoever maps it, and
    /// keyseal replaces cache files by renaming, never by rewriting them.
    static func onLocalFileSystem(_ descriptor: Int32) -> Bool { keyseal_on_local_file_system(descriptor) == 1 }

    static func store(_ database: OpaquePointer, maxWidth: [Int?], flags: [UInt32], rules: [Rule], variant: String = "",
                      in directory: URL) {
        var bytes: UnsafeMutablePointer<CChar>?
        var length = 0
        guard hs_serialize_database(database, &bytes, &length) == HS_SUCCESS, let bytes else { return }
        defer { free(bytes) }
        var imageLength = 0
        guard hs_serialized_database_size(bytes, length, &imageLength) == HS_SUCCESS, imageLength >= imageHeaderLength,
              imageLength < 1 << 30
        else { return }
        let image = UnsafeMutableRawPointer.allocate(byteCount: imageLength, alignment: 64)
        defer { image.deallocate() }
        guard hs_deserialize_database_at(bytes, length, OpaquePointer(image)) == HS_SUCCESS else { return }
        let imageBytes = UnsafeRawBufferPointer(start: image, count: imageLength)
        var patterns: [UInt8] = []
        for (width, flag) in zip(maxWidth, flags) {
            withUnsafeBytes(of: Int32(width.map { min($0, Int(Int32.max)) } ?? -1)) { patterns.append(contentsOf: $0) }
            withUnsafeBytes(of: flag) { patterns.append(contentsOf: $0) }
        }
        var data = Data(magic)
        withUnsafeBytes(of: UInt32(maxWidth.count)) { data.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(imageLength)) { data.append(contentsOf: $0) }
        data.append(contentsOf: [UInt8](repeating: 0, count: 8))
        let sum = patterns.withUnsafeBytes { check(patterns: $0, image: imageBytes) }
        withUnsafeBytes(of: sum) { data.append(contentsOf: $0) }
        data.append(contentsOf: patterns)
        data.append(contentsOf: [UInt8](repeating: 0, count: imageOffset(count: maxWidth.count) - data.count))
        data.append(contentsOf: imageBytes)
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
        // getenv, not ProcessInfo's environment, which copies every variable into a dictionary
        // (a hook asks on every run).
        if let xdg = getenv("XDG_CACHE_HOME").map({ String(cString: $0) }), !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("keyseal")
        }
        let home = getenv("HOME").map { String(cString: $0) } ?? NSHomeDirectory()
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
        // The same bytes (and hash) as an update per part, streamed through one small buffer as
        // `RuleDatabaseCache.key` does: an update per part was 19,000 arrays for 1,111 rules.
        var hasher = SHA256()
        var bytes = Array(engineVersion.utf8)
        bytes.reserveCapacity(1 << 16)
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
            for part in parts {
                bytes.append(contentsOf: part.utf8)
                bytes.append(0)
            }
            if bytes.count >= 60_000 {
                hasher.update(data: bytes)
                bytes.removeAll(keepingCapacity: true)
            }
        }
        hasher.update(data: bytes)
        return RuleDatabaseCache.hexadecimal(hasher.finalize().prefix(16))
    }
}
