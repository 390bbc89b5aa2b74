import CVectorscan
import Crypto
import Foundation
import Synchronization

// Scanning a revision stored as a delta of another: most of its bytes are copies of the base's, whose
// hits are known. Only what the delta inserted (and a margin around it) is scanned again; the base's
// hits in the copied spans are carried over. The matches are the ones a full scan finds, because
// what decides a match is local:
//
// - A pattern of bounded width `w` hits at end offset `e` only through bytes `e - w - 1 ... e` (the
//   one before a match's start and the one at its end decide `^`, `$` and `\b`). Where those lie
//   inside one copied span, the hit is the base's, moved. Such patterns are "narrow" (width at most
//   `DeltaDatabases.maxNarrowWidth`).
// - An unbounded pattern of a line rule (not a named value, whose search takes in the next line)
//   only decides which lines PCRE2 searches, from the line's start to its end. A line whose PCRE2
//   search finds something holds a Vectorscan hit whatever precedes it (the match itself is one), and
//   a line that finds nothing is the same searched or not. So a line copied whole (with the newline
//   before it) is searched in the target as in the base: the base's hits on it are carried.
// - Every other pattern (unbounded block rules, named values, wide locators) is scanned over the
//   whole target, as today.
//
// `MatcherDeltaTests` checks the result against a full scan on random edits of text full of secrets,
// and the history scan can be run both ways (`KEYSEAL_DELTA=0`) to compare them on a repository.

/// Bytes of a delta's target that are a copy of its base's.
public struct CopySegment: Sendable, Equatable {
    public let target: Int
    public let base: Int
    public let count: Int
    public init(target: Int, base: Int, count: Int) {
        self.target = target
        self.base = base
        self.count = count
    }
}

/// The Vectorscan hits of one text blob that a delta of it can carry over: `end << 20 | pattern`,
/// sorted (by end, then pattern), of the narrow and line patterns only.
public struct RecordedHits: Sendable {
    let packed: [UInt64]
    /// The blob's length, which a delta's base size must equal.
    public let length: Int
    /// Bytes this record takes in memory (for whoever keeps many).
    public var memory: Int { packed.count * 8 }
}

/// What a target's delta scan needs of its base: its recorded hits, and where the target copies it.
public struct DeltaBase: Sendable {
    public let hits: RecordedHits
    /// In target order, not overlapping.
    public let segments: [CopySegment]
    public init(hits: RecordedHits, segments: [CopySegment]) {
        self.hits = hits
        self.segments = segments
    }
}

/// How a compiled pattern takes part in a delta scan.
enum DeltaClass: UInt8 {
    case narrow, line, whole
}

/// The rule set split for delta scans: the narrow and line patterns in one database (scanned over
/// the target's edited regions), the rest in another (scanned over the whole target).
final class DeltaDatabases: @unchecked Sendable {
    /// Widths above this make margins around every edit wide enough to scan most of a file again.
    static let maxNarrowWidth = 64
    /// Pattern ids are packed into 20 bits of a recorded hit.
    static let maxPatterns = 1 << 20

    let windowed: VectorscanDatabase
    let whole: VectorscanDatabase?
    /// Per compiled pattern (rules, then locators).
    let kind: [DeltaClass]
    /// The widest narrow pattern.
    let width: Int
    /// The most newlines a line pattern's match may span: its hits on a line depend on that many
    /// lines before it too.
    let lineReach: Int
    /// Hits of the windowed database on regions scanned before, by their bytes.
    let regionHits = RegionHitCache()

    /// How the patterns split (for KEYSEAL_TRACE).
    var summary: String {
        let count = { (c: DeltaClass) in self.kind.lazy.filter { $0 == c }.count }
        return "\(count(.narrow)) narrow (up to \(width) bytes), \(count(.line)) line (up to \(lineReach) newlines), \(count(.whole)) whole"
    }

    private init(windowed: VectorscanDatabase, whole: VectorscanDatabase?, kind: [DeltaClass], width: Int, lineReach: Int) {
        self.lineReach = lineReach
        self.windowed = windowed
        self.whole = whole
        self.kind = kind
        self.width = width
    }

    /// Narrow: bounded width up to `maxNarrowWidth`; its hits are carried where the bytes around
    /// them are copied. Line: a pattern whose matches span at most `maxLineReach` newlines
    /// (`NewlineReach`, read conservatively from its text; not in Vectorscan's prefilter mode, whose
    /// approximation may span more): its hits on a line depend on that line and the few before it,
    /// so they are carried where those lines are copied whole. Whole: the rest, and any pattern
    /// whose hits depend on where the buffer starts or ends (`\A`, `\z`, `\Z`, `\G`, or multiline
    /// turned off), which a copy does not keep.
    static func classify(_ compiled: [Rule], ruleCount: Int, widths: [Int?], flags: [UInt32]) -> (kind: [DeltaClass], lineReach: Int) {
        var reach = 0
        let kind = compiled.indices.map { i -> DeltaClass in
            let pattern = compiled[i].prefilter ?? compiled[i].regex
            if NewlineReach.anchorsToBuffer(pattern) { return .whole }
            if let width = widths[i], width <= maxNarrowWidth { return .narrow }
            if flags[i] & UInt32(HS_FLAG_PREFILTER) == 0, let newlines = NewlineReach.maxNewlines(pattern),
               newlines <= maxLineReach {
                reach = max(reach, newlines)
                return .line
            }
            return .whole
        }
        return (kind, reach)
    }

    /// Patterns that may span more newlines than this are scanned whole.
    static let maxLineReach = 8

    /// Loads both databases from the cache, or compiles them with the full database's flags (so each
    /// pattern reports the very hits it reports there). Nil when there is nothing to gain (no
    /// pattern can be windowed) or they cannot be built: every blob is then scanned in full.
    static func make(_ compiled: [Rule], ruleCount: Int, widths: [Int?], flags: [UInt32], cacheDirectory: URL?) -> DeltaDatabases? {
        guard compiled.count < maxPatterns, widths.count == compiled.count, flags.count == compiled.count else { return nil }
        let (kind, lineReach) = classify(compiled, ruleCount: ruleCount, widths: widths, flags: flags)
        let windowedIDs = kind.indices.filter { kind[$0] != .whole }
        let wholeIDs = kind.indices.filter { kind[$0] == .whole }
        guard !windowedIDs.isEmpty else { return nil }
        let width = kind.indices.filter { kind[$0] == .narrow }.compactMap { widths[$0] }.max() ?? 0
        // The split is the code's as much as the rules': the file names say which patterns it holds.
        func database(_ ids: [Int], _ name: String) -> VectorscanDatabase? {
            var hasher = SHA256()
            for id in ids { hasher.update(data: Array("\(id) \(kind[id]) \(flags[id]) \(lineReach) \(width);".utf8)) }
            let variant = name + "-" + hasher.finalize().prefix(12).map { String(format: "%02x", $0) }.joined()
            if let cacheDirectory,
               let (database, _, _) = RuleDatabaseCache.load(rules: compiled, variant: variant, from: cacheDirectory, keepingScratch: false) {
                return database
            }
            guard let database = try? Matcher.compileSubset(compiled, ids: ids, flags: flags) else { return nil }
            if let cacheDirectory {
                RuleDatabaseCache.store(database, maxWidth: [], flags: [], rules: compiled, variant: variant, in: cacheDirectory)
            }
            return VectorscanDatabase(database, storage: .library, keepingScratch: false)
        }
        guard let windowed = database(windowedIDs, "windowed") else { return nil }
        var whole: VectorscanDatabase? = nil
        if !wholeIDs.isEmpty {
            guard let built = database(wholeIDs, "whole") else { return nil }
            whole = built
        }
        return DeltaDatabases(windowed: windowed, whole: whole, kind: kind, width: width, lineReach: lineReach)
    }
}

/// The windowed database's hits on regions already scanned, by the regions' bytes. History repeats
/// the same edit in many deltas (a change merged into several branches, revisions stored as deltas
/// of different bases that insert the same text): on redis 73% of the regions, and 47% of their
/// bytes, were ones scanned before. In block mode a region is the whole buffer Vectorscan sees, so
/// its hits depend on its bytes alone: a region seen before gets the hits it got then, moved.
///
/// Keys: a SipHash of the region's length and bytes, under a key drawn at random for each cache (not
/// only Swift's per-process seed, which SWIFT_DETERMINISTIC_HASHING fixes): whoever writes a
/// repository cannot make a region that holds a secret collide with one that does not.
final class RegionHitCache: @unchecked Sendable {
    private let salt: (UInt64, UInt64)
    private struct State {
        /// Regions that had no hit (most of them), and the hits of the others, relative to their start.
        var empty = Set<UInt64>()
        var withHits: [UInt64: [UInt64]] = [:]
        /// Hits kept in `withHits`.
        var hits = 0
    }
    private let state = Mutex(State())
    /// Bounds on memory: 1M regions (about 32 MiB of keys and table at most) and 1M kept hits (8 MiB,
    /// plus an array header per region that has any). A repository full of hits (every `\/` is one
    /// for the JSON-escape locator) cannot make the cache grow past them: beyond, regions are scanned
    /// as before. Most regions have no hit or a few.
    static let maxRegions = 1 << 20
    static let maxHits = 1 << 20
    static let maxHitsPerRegion = 16

    init() {
        var random = SystemRandomNumberGenerator()
        salt = (random.next(), random.next())
    }

    func key(_ region: UnsafeRawBufferPointer) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(salt.0)
        hasher.combine(salt.1)
        hasher.combine(region.count)
        hasher.combine(bytes: region)
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }

    /// The hits a region with this key had (relative to its start; empty: none), nil if none was seen.
    func hits(_ key: UInt64) -> [UInt64]? {
        state.withLock { state in
            if state.empty.contains(key) { return [] }
            return state.withHits[key]
        }
    }

    /// Keeps a region's hits, given where the scan put them (`found`, each `shift` past the region's own).
    func record(_ key: UInt64, _ found: ArraySlice<UInt64>, shift: UInt64) {
        guard found.count <= Self.maxHitsPerRegion else { return }
        let hits = found.map { $0 - shift }
        state.withLock { state in
            guard state.empty.count + state.withHits.count < Self.maxRegions, state.hits + hits.count <= Self.maxHits,
                  state.withHits[key] == nil
            else { return }
            if hits.isEmpty {
                state.empty.insert(key)
            } else {
                state.withHits[key] = hits
                state.hits += hits.count
            }
        }
    }
}

/// Where a delta scan's Vectorscan calls report: packed hits, offset by the scanned region's start.
final class HitCollector {
    var packed: [UInt64] = []
    var offset = 0
}

private func onCollect(_ id: UInt32, _ from: UInt64, _ to: UInt64, _ flags: UInt32, _ context: UnsafeMutableRawPointer?) -> Int32 {
    // Safe: `deltaHits` passes its collector as the context and keeps it alive for the call.
    let collector = Unmanaged<HitCollector>.fromOpaque(context!).takeUnretainedValue()
    collector.packed.append(UInt64(collector.offset + Int(to)) << 20 | UInt64(id))
    // A region full of hits is not worth windowing: the caller scans the blob in full instead.
    return collector.packed.count >= HitBuffer.limit ? 1 : 0
}

extension Matcher {
    /// The hits a full scan of `bytes` would give (exactly for narrow and whole patterns, the same
    /// searched lines for line patterns), sorted; nil when the delta does not describe `bytes` or
    /// the hits would fill the hit buffer (the caller then scans in full).
    func deltaHits(_ bytes: UnsafeBufferPointer<UInt8>, _ delta: DeltaBase, databases: DeltaDatabases,
                   scratch: Scratch) throws -> [UInt64]? {
        let n = bytes.count
        let w = databases.width
        let baseHits = delta.hits.packed
        // End offsets whose hits are carried over, per class: half-open, increasing, disjoint.
        var interiorNarrow: [Range<Int>] = []
        var interiorLine: [Range<Int>] = []
        var carried: [UInt64] = []
        var previousEnd = 0
        for segment in delta.segments {
            let t0 = segment.target, t1 = segment.target + segment.count
            guard segment.count > 0, t0 >= previousEnd, t1 <= n, segment.base >= 0,
                  segment.base + segment.count <= delta.hits.length
            else { return nil }
            previousEnd = t1
            // Narrow: bytes e - w - 1 ... e inside the segment.
            let narrow: Range<Int>? = segment.count >= w + 2 ? (t0 + w + 1)..<t1 : nil
            // Line: e - 1 on a line that, with the `lineReach` lines before it and the newlines
            // before those and after it, lies in the segment.
            var line: Range<Int>? = nil
            if var first = Self.firstNewline(bytes, t0..<t1), let last = Self.lastNewline(bytes, t0..<t1) {
                for _ in 0..<databases.lineReach where first < last {
                    first = Self.firstNewline(bytes, (first + 1)..<t1) ?? last
                }
                // e - 1 up to the last newline's line end, e itself (the byte an assertion after
                // the match reads) at most that newline: both in the segment.
                if first < last { line = (first + 2)..<(last + 1) }
            }
            if let narrow { interiorNarrow.append(narrow) }
            if let line { interiorLine.append(line) }
            let low = min(narrow?.lowerBound ?? .max, line?.lowerBound ?? .max)
            let high = max(narrow?.upperBound ?? 0, line?.upperBound ?? 0)
            guard low < high else { continue }
            let shift = segment.base - t0
            var k = Self.firstHit(baseHits, atOrAfter: low + shift)
            while k < baseHits.count {
                let e = Int(baseHits[k] >> 20) - shift
                if e >= high { break }
                let id = Int(baseHits[k] & 0xfffff)
                let keep: Bool
                switch databases.kind[id] {
                case .narrow: keep = narrow?.contains(e) ?? false
                case .line: keep = line?.contains(e) ?? false
                case .whole: keep = false
                }
                if keep { carried.append(UInt64(e) << 20 | UInt64(id)) }
                k += 1
            }
            if carried.count >= HitBuffer.limit { return nil }
        }
        // Regions to scan: around each run of end offsets carried in neither class.
        var regions: [Range<Int>] = []
        for gap in Self.gaps(interiorNarrow, upTo: n) {
            regions.append(max(0, gap.lowerBound - w - 1)..<min(n, gap.upperBound))
        }
        for gap in Self.gaps(interiorLine, upTo: n) {
            var start = Self.lineStart(bytes, before: gap.lowerBound - 1)
            for _ in 0..<databases.lineReach where start > 0 { start = Self.lineStart(bytes, before: start - 1) }
            let end = Self.lineEnd(bytes, from: max(gap.upperBound - 2, 0))
            regions.append(max(0, start - 1)..<min(n, end + 2))
        }
        let collector = scratch.collector
        collector.packed.removeAll(keepingCapacity: true)
        let context = Unmanaged.passUnretained(collector).toOpaque()
        // Safe: `scan` returns early on an empty buffer, so the base address exists.
        let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
        var scannedBytes = 0
        let started = ThreadCPU.now()
        let cache = databases.regionHits
        for region in Self.merged(regions) where !region.isEmpty {
            scratch.deltaRegions += 1
            let key = cache.key(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[region]))
            let shift = UInt64(region.lowerBound) << 20
            if let known = cache.hits(key) {
                scratch.deltaRegionsReused += 1
                scratch.deltaBytesReused += region.count
                for hit in known { collector.packed.append(hit + shift) }
                if collector.packed.count >= HitBuffer.limit { return nil }
                continue
            }
            scannedBytes += region.count
            let first = collector.packed.count
            collector.offset = region.lowerBound
            let status = hs_scan(databases.windowed.pointer, base + region.lowerBound, UInt32(region.count), 0, scratch.hs, onCollect, context)
            if status == HS_SCAN_TERMINATED { return nil }
            guard status == HS_SUCCESS else { throw EngineError("hs_scan failed with status \(status)") }
            cache.record(key, collector.packed[first...], shift: shift)
        }
        let windowedDone = ThreadCPU.now()
        scratch.time.windowed += windowedDone - started
        var hits = carried
        for hit in collector.packed {
            let e = Int(hit >> 20)
            let carriedHere: Bool
            switch databases.kind[Int(hit & 0xfffff)] {
            case .narrow: carriedHere = Self.contains(interiorNarrow, e)
            case .line: carriedHere = Self.contains(interiorLine, e)
            case .whole: carriedHere = false
            }
            if !carriedHere { hits.append(hit) }
        }
        if let whole = databases.whole {
            collector.packed.removeAll(keepingCapacity: true)
            collector.offset = 0
            let status = hs_scan(whole.pointer, base, UInt32(n), 0, scratch.hs, onCollect, context)
            scratch.time.whole += ThreadCPU.now() - windowedDone
            if status == HS_SCAN_TERMINATED { return nil }
            guard status == HS_SUCCESS else { throw EngineError("hs_scan failed with status \(status)") }
            hits += collector.packed
        }
        if hits.count >= HitBuffer.limit { return nil }
        hits.sort()
        scratch.deltaBlobs += 1
        scratch.deltaBytes += n
        scratch.deltaBytesScanned += scannedBytes + (databases.whole == nil ? 0 : n)
        return hits
    }

    /// The half-open runs of end offsets `1...n` outside `interiors` (increasing, disjoint).
    static func gaps(_ interiors: [Range<Int>], upTo n: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var next = 1
        for interior in interiors {
            if interior.lowerBound > next { out.append(next..<interior.lowerBound) }
            next = max(next, interior.upperBound)
        }
        if next <= n { out.append(next..<(n + 1)) }
        return out
    }

    /// Whether `value` lies in one of the increasing, disjoint `ranges` (binary search).
    static func contains(_ ranges: [Range<Int>], _ value: Int) -> Bool {
        var low = 0, high = ranges.count
        while low < high {
            let mid = (low + high) / 2
            if ranges[mid].upperBound <= value { low = mid + 1 } else { high = mid }
        }
        return low < ranges.count && ranges[low].contains(value)
    }

    /// The first index of sorted packed hits whose end is at least `end`.
    static func firstHit(_ packed: [UInt64], atOrAfter end: Int) -> Int {
        let key = UInt64(max(end, 0)) << 20
        var low = 0, high = packed.count
        while low < high {
            let mid = (low + high) / 2
            if packed[mid] < key { low = mid + 1 } else { high = mid }
        }
        return low
    }

    static func firstNewline(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int? {
        guard !range.isEmpty, let hit = memchr(bytes.baseAddress! + range.lowerBound, 0x0a, range.count) else { return nil }
        return UnsafeRawPointer(hit) - UnsafeRawPointer(bytes.baseAddress!)
    }
}

/// The calling thread's CPU time, in seconds (for the phase times KEYSEAL_TRACE prints: a wall
/// clock on a shared machine counts other processes too).
enum ThreadCPU {
    /// Only when KEYSEAL_TRACE asks: the thread's CPU clock is a system call (the vDSO serves only
    /// the wall clocks), and a redis scan made 67,000 of them.
    static let measuring = ProcessInfo.processInfo.environment["KEYSEAL_TRACE"] != nil

    static func now() -> Double {
        guard measuring else { return 0 }
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// CPU seconds one scratch spent in Vectorscan at the top level of blobs: full scans, and a delta
/// scan's windowed regions and whole pass.
public struct VectorscanTime: Sendable {
    public var full = 0.0, windowed = 0.0, whole = 0.0
    public init(full: Double = 0, windowed: Double = 0, whole: Double = 0) {
        self.full = full
        self.windowed = windowed
        self.whole = whole
    }
    public static func + (a: Self, b: Self) -> Self {
        VectorscanTime(full: a.full + b.full, windowed: a.windowed + b.windowed, whole: a.whole + b.whole)
    }
}

/// How many newlines a Vectorscan pattern's match can hold at most, read from its text; nil when it
/// may hold any number, or the pattern uses something this reading does not know (it then claims
/// nothing). Patterns are compiled without DOTALL, so `.` never matches a newline.
enum NewlineReach {
    /// Whether the pattern may hold an assertion about the buffer's own start or end (or turn
    /// multiline off): read textually, so an escaped backslash before such a letter counts too.
    static func anchorsToBuffer(_ pattern: String) -> Bool {
        ["\\A", "\\z", "\\Z", "\\G", "(?-", "(?^"].contains { pattern.contains($0) }
    }

    static func maxNewlines(_ pattern: String) -> Int? {
        var parser = Parser(bytes: Array(pattern.utf8))
        guard let count = parser.alternation(), parser.at == parser.bytes.count else { return nil }
        return count
    }

    struct Parser {
        let bytes: [UInt8]
        var at = 0
        var depth = 0

        /// Alternatives up to `)` or the end: the most of any.
        mutating func alternation() -> Int? {
            var most = 0
            while true {
                guard let count = sequence() else { return nil }
                most = max(most, count)
                if at < bytes.count && bytes[at] == UInt8(ascii: "|") { at += 1; continue }
                return most
            }
        }

        /// Atoms, each times its quantifier, added up.
        mutating func sequence() -> Int? {
            var total = 0
            while at < bytes.count && bytes[at] != UInt8(ascii: "|") && bytes[at] != UInt8(ascii: ")") {
                guard let count = atom(), let repeated = quantified(count) else { return nil }
                total += repeated
                if total > 1_000 { return nil }
            }
            return total
        }

        mutating func atom() -> Int? {
            let c = bytes[at]
            at += 1
            switch c {
            case UInt8(ascii: "("):
                if at < bytes.count && bytes[at] == UInt8(ascii: "?") {
                    at += 1
                    // Non-capturing and flag groups only; `(?s` (DOTALL), lookaround, anything else: unknown.
                    while at < bytes.count, let flag = Optional(bytes[at]),
                          [UInt8(ascii: "i"), UInt8(ascii: "m"), UInt8(ascii: "-")].contains(flag) { at += 1 }
                    guard at < bytes.count else { return nil }
                    if bytes[at] == UInt8(ascii: ")") { at += 1; return 0 }
                    guard bytes[at] == UInt8(ascii: ":") else { return nil }
                    at += 1
                }
                // Groups nest by recursion: a custom rule's pattern (a scanned repository's config)
                // must not run the stack out.
                depth += 1
                defer { depth -= 1 }
                guard depth <= 64, let inner = alternation(), at < bytes.count, bytes[at] == UInt8(ascii: ")") else { return nil }
                at += 1
                return inner
            case UInt8(ascii: "["):
                guard let matches = classMatchesNewline() else { return nil }
                return matches ? 1 : 0
            case UInt8(ascii: "\\"):
                guard at < bytes.count else { return nil }
                let e = bytes[at]
                at += 1
                if e == UInt8(ascii: "x") {
                    guard let value = hexEscape() else { return nil }
                    return value == 0x0a ? 1 : 0
                }
                return escape(e)
            case 0x0a, 0x0b, 0x0c, 0x0d:
                return c == 0x0a ? 1 : 0
            case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"), UInt8(ascii: "{"):
                return nil  // a quantifier with nothing before it
            default:
                return 0
            }
        }

        /// Newlines an escape outside a class matches: nil for escapes this reading does not know.
        func escape(_ e: UInt8) -> Int? {
            switch e {
            case UInt8(ascii: "n"), UInt8(ascii: "s"), UInt8(ascii: "v"), UInt8(ascii: "W"), UInt8(ascii: "D"), UInt8(ascii: "H"):
                return 1
            case UInt8(ascii: "t"), UInt8(ascii: "r"), UInt8(ascii: "w"), UInt8(ascii: "d"), UInt8(ascii: "S"), UInt8(ascii: "h"),
                 UInt8(ascii: "b"), UInt8(ascii: "B"), UInt8(ascii: "A"), UInt8(ascii: "z"), UInt8(ascii: "Z"), UInt8(ascii: "f"),
                 UInt8(ascii: "e"), UInt8(ascii: "a"):
                return 0
            default:
                // Any other letter or digit (\x, \0, \c, \p, \Q, \R, back references): unknown.
                let alphanumeric = (e >= 0x30 && e <= 0x39) || ((e | 0x20) >= 0x61 && (e | 0x20) <= 0x7a)
                return alphanumeric || e >= 0x80 ? nil : (e == 0x0a ? 1 : 0)
            }
        }

        /// After `[`: whether the class can match a newline. Nil (the pattern is not read) for what
        /// this reading does not know inside a class: POSIX classes, `\Q`, escapes other than a few,
        /// control bytes. A range counts as matching a newline unless it starts at a printable byte
        /// written as itself (above the newline, so the range cannot hold one).
        mutating func classMatchesNewline() -> Bool? {
            var negated = false
            if at < bytes.count && bytes[at] == UInt8(ascii: "^") { negated = true; at += 1 }
            var surely = false, maybe = false
            var first = true
            var previousPrintable = false
            while at < bytes.count {
                let c = bytes[at]
                if c == UInt8(ascii: "]") && !first {
                    at += 1
                    return negated ? !surely : (surely || maybe)
                }
                first = false
                at += 1
                if c == UInt8(ascii: "[") { return nil }
                if c == UInt8(ascii: "-") && at < bytes.count && bytes[at] != UInt8(ascii: "]") {
                    if !previousPrintable { maybe = true }
                    previousPrintable = false
                    continue
                }
                if c == UInt8(ascii: "\\") {
                    guard at < bytes.count else { return nil }
                    let e = bytes[at]
                    at += 1
                    previousPrintable = false
                    if e == UInt8(ascii: "x") {
                        guard let value = hexEscape() else { return nil }
                        if value == 0x0a { surely = true }
                        // A byte above the newline: a range from it cannot hold one.
                        previousPrintable = value > 0x0a
                        continue
                    }
                    switch e {
                    case UInt8(ascii: "n"), UInt8(ascii: "s"), UInt8(ascii: "v"): surely = true
                    case UInt8(ascii: "t"), UInt8(ascii: "r"), UInt8(ascii: "w"), UInt8(ascii: "d"), UInt8(ascii: "S"),
                         UInt8(ascii: "h"), UInt8(ascii: "f"):
                        break
                    default:
                        let alphanumeric = (e >= 0x30 && e <= 0x39) || ((e | 0x20) >= 0x61 && (e | 0x20) <= 0x7a)
                        if alphanumeric || e < 0x20 || e >= 0x7f { return nil }
                        previousPrintable = true  // an escaped punctuation byte, above the newline
                    }
                    continue
                }
                if c == 0x0a { surely = true; previousPrintable = false; continue }
                if c < 0x20 || c >= 0x7f { return nil }
                previousPrintable = true
            }
            return nil  // no closing `]`
        }

        /// After `\x`: the byte of exactly two hex digits (`\x27`); nil for any other form
        /// (`\x{...}`, one digit), which this reading leaves alone.
        mutating func hexEscape() -> UInt8? {
            guard at + 1 < bytes.count, let high = EncodedSpans.hexValue(bytes[at]), let low = EncodedSpans.hexValue(bytes[at + 1])
            else { return nil }
            at += 2
            return high << 4 | low
        }

        /// `count` times the quantifier that follows (if any); nil when unbounded and `count > 0`.
        mutating func quantified(_ count: Int) -> Int? {
            guard at < bytes.count else { return count }
            var result: Int?
            switch bytes[at] {
            case UInt8(ascii: "*"), UInt8(ascii: "+"):
                at += 1
                result = count == 0 ? 0 : nil
            case UInt8(ascii: "?"):
                at += 1
                result = count
            case UInt8(ascii: "{"):
                // {n}, {n,}, {n,m}; anything else is a literal `{` (PCRE's reading), which matches no newline.
                var j = at + 1
                var low = 0, high: Int? = nil, digits = 0
                while j < bytes.count, bytes[j] >= 0x30, bytes[j] <= 0x39 { low = low * 10 + Int(bytes[j] - 0x30); j += 1; digits += 1
                    if low > 100_000 { return nil } }
                guard digits > 0, j < bytes.count else { return count }
                if bytes[j] == UInt8(ascii: "}") {
                    high = low
                } else if bytes[j] == UInt8(ascii: ",") {
                    j += 1
                    var value = 0, more = 0
                    while j < bytes.count, bytes[j] >= 0x30, bytes[j] <= 0x39 { value = value * 10 + Int(bytes[j] - 0x30); j += 1; more += 1
                        if value > 100_000 { return nil } }
                    guard j < bytes.count, bytes[j] == UInt8(ascii: "}") else { return count }
                    high = more > 0 ? value : nil
                } else {
                    return count
                }
                at = j + 1
                if let high { result = count * high } else { result = count == 0 ? 0 : nil }
            default:
                return count
            }
            // Lazy or possessive: the same reach.
            if at < bytes.count && (bytes[at] == UInt8(ascii: "?") || bytes[at] == UInt8(ascii: "+")) { at += 1 }
            return result
        }
    }
}
