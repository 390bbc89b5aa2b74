import CPCRE2
import CVectorscan
import Foundation

/// A secret a rule found in a buffer. Offsets are bytes into the scanned buffer.
public struct EngineMatch: Sendable {
    public let rule: Int
    public let secretStart: Int
    public let secretEnd: Int
    /// 1-based line and column (column counts Unicode code points, as SARIF's `unicodeCodePoints`).
    public var line: Int
    public var column: Int
    public let secret: [UInt8]
    /// Index (in the same result list) of the other half of a paired secret.
    public var pairedWith: Int?
    /// The provider's built-in checksum: true verified, false failed, nil when the format has none.
    public var checksumValid: Bool? = nil
    /// How the secret was hidden when found inside an encoded span (`base64`, `percent`,
    /// `json-escape`, `gzip`, chained with `+`); line and column are then the span's.
    public var encoding: String? = nil
    /// The member path when found inside an archive (`inner/dir/file`, nested with `!`).
    public var innerPath: String? = nil
    /// The byte offset in the blob (or archive member) when found in a binary's printable run;
    /// line and column are then 0.
    public var byteOffset: Int? = nil
    /// With `byteOffset`: the bytes the secret (or the encoded span holding it) takes in the blob.
    public var byteLength: Int? = nil
    /// The identity the secret is used with, from the same block (`DB_USER (admi…)` beside a
    /// password, `CLIENT_ID (3f2a…)` beside a client secret): name and preview only.
    public var identity: String? = nil
    /// Length of the rule's whole match (name, assignment and secret): where rules of the same
    /// priority find the same secret, the one that needed more context names it.
    public var matchLength: Int = 0
}

/// What a scan of one blob left out, and why. No bound ends a blob quietly: whatever one skipped
/// is named here, and counted by whoever reports the blob.
public struct ScanGaps: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// An archive whose opening stopped at a bound (depth, size or member count): some members
    /// were not read.
    public static let archiveTruncated = ScanGaps(rawValue: 1 << 0)
    /// PCRE2's match, depth or heap limit stopped a rule at some offset (see `regexLimitHits`): the
    /// rule went on from the next offset, but what starts at that offset was not decided.
    public static let regexLimit = ScanGaps(rawValue: 1 << 1)
    /// Encoded text (base64, percent, JSON escapes) was decoded only in part: the budget for locator
    /// hits (where encoded text may start) or the decoding bounds (spans, bytes, line length) were
    /// reached. Every rule still ran over all of the blob's own bytes: nothing written in clear was
    /// skipped.
    public static let decodedInPart = ScanGaps(rawValue: 1 << 2)

    /// The gaps after which a rule may have missed text written in clear: hooks refuse such a blob
    /// unless its path is allowlisted, and `scan --fail-on-unscanned` fails on it. (`decodedInPart` is
    /// counted and reported, but does not block: it concerns only encoded text, whose decoding is
    /// bounded anyway.)
    public static let blocking: ScanGaps = [.archiveTruncated, .regexLimit]
}

/// What scanning one blob found, and what the blob was.
public struct BlobScan: Sendable {
    public let matches: [EngineMatch]
    public let kind: BlobKind
    /// What the scan left out (empty: the blob was scanned in full).
    public let gaps: ScanGaps
    /// Rule id → how many times a PCRE2 limit stopped that rule in this blob.
    public let regexLimitHits: [String: Int]
    /// The blob's hits kept for its deltas (`scanBlob(record: true)` of a text blob).
    public internal(set) var recorded: RecordedHits? = nil
    /// An archive whose opening stopped at a bound (depth, size or member count).
    public var truncated: Bool { gaps.contains(.archiveTruncated) }

    public init(matches: [EngineMatch], kind: BlobKind, truncated: Bool = false, gaps: ScanGaps = [],
                regexLimitHits: [String: Int] = [:]) {
        self.matches = matches
        self.kind = kind
        self.gaps = truncated ? gaps.union(.archiveTruncated) : gaps
        self.regexLimitHits = regexLimitHits
    }
}

public struct EngineError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// All rules compiled once: one Vectorscan database, one PCRE2 (JIT) program per rule.
/// Immutable after `init`, so one instance serves every thread; each thread brings its own `Scratch`.
public final class Matcher: @unchecked Sendable {
    public let rules: [Rule]
    private let database: VectorscanDatabase
    /// The longest match each rule's Vectorscan pattern can make (nil: unbounded). A hit ending at
    /// `to` started at or after `to - maxWidth`, which bounds where PCRE2 must look. This replaces
    /// HS_FLAG_SOM_LEFTMOST, which made compiling the rule set 25 times slower and is refused
    /// ("Pattern is too large") for a fifth of the rules.
    private let maxWidth: [Int?]
    private let pairIndex: [Int?]
    /// Each rule's keywords, lower-cased UTF-8, for a byte search (a String search per candidate
    /// cost 460 µs a match on a file of thousands of matches).
    private let keywordBytes: [[[UInt8]]]

    static let allowMarker = Array("keyseal:allow".utf8)

    /// Whether the Vectorscan database came from the on-disk cache (for tests and traces).
    public let loadedFromCache: Bool
    /// The databases for scanning a delta against its base (see DeltaScan.swift); nil unless asked for.
    let deltaDatabases: DeltaDatabases?
    /// Whether `scanBlob` can take a `DeltaBase` (otherwise it scans in full).
    public var scansDeltas: Bool { deltaDatabases != nil }
    /// How delta scans split the patterns, for KEYSEAL_TRACE.
    public var deltaSummary: String? { deltaDatabases?.summary }

    /// Compiles `rules`, or loads them from `cacheDirectory` when a database compiled from exactly
    /// these rules is there (and stores it there otherwise). PCRE2 programs are compiled lazily, per
    /// thread, for the rules that get a hit: a hook that scans a few files pays for a few. With
    /// `deltaScans` (a history scan), the two databases of delta scans are loaded or built too.
    public init(rules: [Rule], cacheDirectory: URL? = nil, deltaScans: Bool = false) throws {
        self.rules = rules
        // Rules then locators, as one list only where needed (a hook loading the cache does not).
        var compiledList: [Rule]? = nil
        func compiled() -> [Rule] {
            if let compiledList { return compiledList }
            let list = rules + SpanLocator.rules
            compiledList = list
            return list
        }
        let flags: [UInt32]
        if let cacheDirectory, let cached = RuleDatabaseCache.load(rules: rules, SpanLocator.rules, from: cacheDirectory) {
            (database, maxWidth, flags) = cached
            loadedFromCache = true
        } else {
            let compiledDatabase: OpaquePointer
            (compiledDatabase, maxWidth, flags) = try Self.compileVectorscan(compiled())
            guard let checked = VectorscanDatabase(compiledDatabase, storage: .library) else {
                throw EngineError("hs_alloc_scratch failed")
            }
            database = checked
            loadedFromCache = false
            if let cacheDirectory {
                RuleDatabaseCache.store(compiledDatabase, maxWidth: maxWidth, flags: flags, rules: compiled(), in: cacheDirectory)
            }
        }
        deltaDatabases = deltaScans
            ? DeltaDatabases.make(compiled(), ruleCount: rules.count, widths: maxWidth, flags: flags, cacheDirectory: cacheDirectory)
            : nil
        // Few rules pair: look their partners up rather than hash every id (a hook builds this each run).
        pairIndex = rules.map { rule in rule.pairsWith.flatMap { partner in rules.firstIndex { $0.id == partner } } }
        keywordBytes = rules.map { $0.keywords.map { Array($0.lowercased().utf8) } }
    }

    /// Compiles every rule's PCRE2 regex once, so a bad regex is reported before any scan.
    public static func validate(_ rules: [Rule]) throws {
        for rule in rules { pcre2_code_free_8(try compilePCRE2(rule)) }
    }

    /// Per-thread state: Vectorscan scratch, PCRE2 match data and programs, reusable hit buffers.
    public final class Scratch {
        let hs: OpaquePointer
        let matchData: OpaquePointer
        /// A JIT stack larger than PCRE2's 32 KiB default, so long matches (PEM blocks) fit.
        let jitStack: OpaquePointer?
        let matchContext: OpaquePointer?
        let hits = HitBuffer()
        /// Where a delta scan's Vectorscan calls report.
        let collector = HitCollector()
        /// What the last `scanBlob` recorded for deltas of its blob (nil: nothing asked, or not text,
        /// or too many hits to keep).
        var recorded: RecordedHits?
        /// What the scans since the last `scanBlob` left out; `scanBlob` starts it afresh.
        var gaps: ScanGaps = []
        /// Rule index → PCRE2 limit hits since the last `scanBlob`.
        var limitHits: [Int: Int] = [:]
        /// For the rule tests: keep every rule's match where several find the same bytes, so a test
        /// can see which rules compete for a secret (the priority check).
        var keepOverlaps = false
        /// The delta the current `scanBlob` may use for its blob's own text.
        var delta: DeltaBase?
        /// Blobs this scratch scanned as deltas, and the bytes Vectorscan read of them (the windowed
        /// database's regions plus the whole database's full pass), against their lengths.
        public internal(set) var deltaBlobs = 0, deltaBytesScanned = 0, deltaBytes = 0, deltaRegions = 0
        /// Regions whose bytes were scanned before (their hits taken from `RegionHitCache`), and their bytes.
        public internal(set) var deltaRegionsReused = 0, deltaBytesReused = 0
        public internal(set) var time = VectorscanTime()
        private var programs: [OpaquePointer?]
        private var failed: [Bool]
        private let rules: [Rule]

        /// The rule's PCRE2 program, compiled on first use; nil when the regex does not compile
        /// (built-in regexes are tested, custom ones are validated when the config loads).
        func program(_ index: Int) -> OpaquePointer? {
            if let program = programs[index] { return program }
            if failed[index] { return nil }
            programs[index] = try? Matcher.compilePCRE2(rules[index])
            failed[index] = programs[index] == nil
            return programs[index]
        }

        init(database: VectorscanDatabase, delta: DeltaDatabases?, rules: [Rule]) throws {
            self.rules = rules
            programs = [OpaquePointer?](repeating: nil, count: rules.count)
            failed = [Bool](repeating: false, count: rules.count)
            // One scratch serves every database it is allocated for (each call grows it as needed).
            var scratch: OpaquePointer? = database.scratch()
            guard scratch != nil else { throw EngineError("hs_alloc_scratch failed") }
            for db in [delta?.windowed, delta?.whole].compactMap({ $0?.pointer }) {
                guard hs_alloc_scratch(db, &scratch) == HS_SUCCESS else {
                    if let scratch { hs_free_scratch(scratch) }
                    throw EngineError("hs_alloc_scratch failed")
                }
            }
            guard let scratch else { throw EngineError("hs_alloc_scratch failed") }
            if let delta { hits.recordable = delta.kind.map { $0 != .whole } }
            hs = scratch
            guard let data = pcre2_match_data_create_8(32, nil) else {
                hs_free_scratch(scratch)
                throw EngineError("pcre2_match_data_create_8 failed")
            }
            matchData = data
            jitStack = pcre2_jit_stack_create_8(32 * 1024, 1024 * 1024, nil)
            guard let context = pcre2_match_context_create_8(nil) else {
                hs_free_scratch(scratch)
                pcre2_match_data_free_8(data)
                pcre2_jit_stack_free_8(jitStack)
                throw EngineError("pcre2_match_context_create_8 failed")
            }
            matchContext = context
            // Explicit limits, not the library's build defaults (10 million steps, 20 GB of heap):
            // a custom rule that backtracks without end costs a bounded time per start position.
            pcre2_set_match_limit_8(context, Matcher.matchLimit)
            pcre2_set_depth_limit_8(context, Matcher.depthLimit)
            pcre2_set_heap_limit_8(context, Matcher.heapLimitKiB)
            if let jitStack { pcre2_jit_stack_assign_8(context, nil, UnsafeMutableRawPointer(jitStack)) }
        }
        deinit {
            hs_free_scratch(hs)
            pcre2_match_data_free_8(matchData)
            pcre2_match_context_free_8(matchContext)
            pcre2_jit_stack_free_8(jitStack)
            for program in programs { pcre2_code_free_8(program) }
        }
    }

    public func makeScratch() throws -> Scratch { try Scratch(database: database, delta: deltaDatabases, rules: rules) }

    /// PCRE2 limits, per start position. A step is a backtracking point: the longest built-in
    /// match (a 64 KiB PGP block, one step and one level of depth per byte of its lazy body) needs
    /// about 70,000 of each, well within these.
    static let matchLimit: UInt32 = 1_000_000
    static let depthLimit: UInt32 = 250_000
    /// Backtracking frames of the interpreter (the JIT uses its own stack, and on overflow the
    /// interpreter is asked).
    static let heapLimitKiB: UInt32 = 128 * 1024
    /// Limit hits after which a rule is given up for the rest of a blob (still reported): each costs
    /// a full run to the limit, so a rule that hits it everywhere must not cost a blob minutes.
    static let maxLimitHitsPerRule = 64
    /// Start positions tried one at a time (anchored) to find the one where a limit was hit, before
    /// the search goes on from the last one tried.
    static let maxProbes = 4096

    /// Finds every rule's secrets in a blob: text directly and through its encoded spans, a binary
    /// through its printable runs, an archive through its members. What the scan left out (an
    /// archive cut short, a regex limit, encoded text decoded in part) is in the result's `gaps`.
    ///
    /// For a history scan (`scansDeltas`): `delta`, when the blob is stored as a delta of a text blob
    /// scanned before, lets the scan carry that blob's hits over the bytes the delta copies; `record`
    /// keeps this blob's hits in the result (`recorded`) for the blobs stored as deltas of it.
    public func scanBlob(_ buffer: UnsafeRawBufferPointer, scratch: Scratch, delta: DeltaBase? = nil,
                         record: Bool = false) throws -> BlobScan {
        var budget = ArchiveBudget()
        scratch.gaps = []
        scratch.limitHits = [:]
        scratch.recorded = nil
        scratch.hits.recording = record && deltaDatabases != nil
        scratch.delta = deltaDatabases == nil ? nil : delta
        defer {
            scratch.hits.recording = false
            scratch.delta = nil
        }
        let (matches, kind) = try scanBlob(buffer.bindMemory(to: UInt8.self), scratch: scratch, depth: 0, budget: &budget)
        var limits: [String: Int] = [:]
        for (rule, count) in scratch.limitHits { limits[rules[rule].id, default: 0] += count }
        var scan = BlobScan(matches: matches, kind: kind, truncated: budget.truncated, gaps: scratch.gaps, regexLimitHits: limits)
        scan.recorded = kind == .text ? scratch.recorded : nil
        return scan
    }

    private func scanBlob(_ bytes: UnsafeBufferPointer<UInt8>, scratch: Scratch, depth: Int,
                          budget: inout ArchiveBudget) throws -> ([EngineMatch], BlobKind) {
        if let format = Containers.format(bytes) {
            // Members' hits are not the archive's: nothing to record or carry.
            scratch.hits.recording = false
            scratch.delta = nil
            guard depth < ArchiveBudget.maxDepth else {
                budget.truncated = true
                return ([], .archive)
            }
            var found: [EngineMatch] = []
            // Each member is scanned as it is read, so one member's bytes per level are alive at a time.
            let opened = try Containers.forEachMember(bytes, format: format, budget: &budget) { member, budget in
                let (inner, _) = try scanBlob(member.bytes, scratch: scratch, depth: depth + 1, budget: &budget)
                for var match in inner {
                    if format == .gzip {
                        match.encoding = "gzip" + (match.encoding.map { "+" + $0 } ?? "")
                    } else {
                        match.innerPath = member.path + (match.innerPath.map { "!" + $0 } ?? "")
                    }
                    found.append(match)
                }
            }
            if opened { return (found, .archive) }
            // It looks like an archive but cannot be opened: not fully scanned; its bytes are scanned as they are.
            budget.truncated = true
        }
        if Containers.isBinary(bytes) {
            // Hits of printable runs are not the blob's: nothing to record or carry.
            scratch.hits.recording = false
            scratch.delta = nil
            let (text, starts) = Containers.printableRuns(bytes)
            let found = try text.withUnsafeBytes { try scan($0, scratch: scratch) }.map { match -> EngineMatch in
                var located = match
                located.byteOffset = Containers.blobOffset(match.secretStart, in: starts)
                located.byteLength = match.secretEnd - match.secretStart
                located.line = 0
                located.column = 0
                return located
            }
            return (found, .binary)
        }
        return (try scan(UnsafeRawBufferPointer(bytes), scratch: scratch), .text)
    }

    /// Finds every rule's secrets in a text `buffer`, and in the text its encoded spans decode to.
    public func scan(_ buffer: UnsafeRawBufferPointer, scratch: Scratch) throws -> [EngineMatch] {
        var budget = DecodeBudget()
        return try scan(buffer, scratch: scratch, depth: 0, budget: &budget)
    }

    private func scan(_ buffer: UnsafeRawBufferPointer, scratch: Scratch, depth: Int,
                      budget: inout DecodeBudget) throws -> [EngineMatch] {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return [] }
        guard buffer.count <= Int(UInt32.max) else { throw EngineError("buffer over 4 GiB") }
        let bytes = buffer.bindMemory(to: UInt8.self)
        let hits = scratch.hits
        let confirmation = Confirmation(ruleCount: rules.count)
        hits.reset(ruleCount: rules.count, bytes: bytes)
        // Rule hits are confirmed whenever the buffer fills, from inside the callback (block-mode
        // Vectorscan cannot resume a scan), so no number of hits ends the scan of a blob.
        hits.flush = { [unowned self] in self.confirm(hits, in: bytes, scratch: scratch, into: confirmation) }
        defer { hits.flush = nil }
        // Only the blob's own text is recorded or delta-scanned, not what its spans decode to.
        let delta = depth == 0 ? scratch.delta : nil
        let recording = depth == 0 && hits.recording
        scratch.delta = nil
        hits.recording = false
        if let delta, let databases = deltaDatabases, let carried = try deltaHits(bytes, delta, databases: databases, scratch: scratch) {
            for hit in carried { hits.add(UInt32(hit & 0xfffff), end: Int(hit >> 20)) }
            if recording {
                scratch.recorded = RecordedHits(packed: carried.filter { hits.recordable[Int($0 & 0xfffff)] }, length: bytes.count)
            }
        } else {
            hits.recording = recording
            let started = ThreadCPU.now()
            defer { scratch.time.full += ThreadCPU.now() - started }
            let status = hs_scan(database.pointer, base.assumingMemoryBound(to: CChar.self), UInt32(buffer.count), 0, scratch.hs,
                                 onHit, Unmanaged.passUnretained(hits).toOpaque())
            hits.recording = false
            guard status == HS_SUCCESS else {
                throw EngineError("hs_scan failed with status \(status)")
            }
            if recording && !hits.recordOverflow {
                if !hits.recorded.isSorted() { hits.recorded.sort() }
                scratch.recorded = RecordedHits(packed: hits.recorded, length: bytes.count)
            }
        }
        confirm(hits, in: bytes, scratch: scratch, into: confirmation)
        hits.flush = nil
        if hits.locatorsDropped { scratch.gaps.insert(.decodedInPart) }
        let locators = hits.locators
        if confirmation.found.isEmpty && locators.isEmpty { return [] }
        var found = scratch.keepOverlaps ? confirmation.found : resolveOverlaps(confirmation.found)
        if !locators.isEmpty && depth < DecodeBudget.maxDepth {
            // A secret already found in the clear (by any rule) is not found again through a
            // decoding that leaves it as it was (SQL statements rewritten as assignments).
            let known = Set(found.map(\.secret))
            var decoded: [EngineMatch] = []
            defer { if budget.partial { scratch.gaps.insert(.decodedInPart) } }
            for span in EncodedSpans.find(locators, in: bytes, budget: &budget) {
                let inner = try span.decoded.withUnsafeBytes { try scan($0, scratch: scratch, depth: depth + 1, budget: &budget) }
                for match in inner where !known.contains(match.secret) {
                    var outer = EngineMatch(rule: match.rule, secretStart: span.range.lowerBound, secretEnd: span.range.upperBound,
                                            line: 0, column: 0, secret: match.secret, pairedWith: nil,
                                            checksumValid: match.checksumValid)
                    outer.encoding = span.encoding + (match.encoding.map { "+" + $0 } ?? "")
                    decoded.append(outer)
                }
            }
            if !decoded.isEmpty {
                // The encoded text itself, caught by a generic rule, is the same secret seen worse.
                let spans = Self.merged(decoded.map { $0.secretStart..<$0.secretEnd })
                found.removeAll { raw in rules[raw.rule].generic && Self.overlaps(raw.secretStart..<raw.secretEnd, spans) }
                var unique = Set<SecretKey>()
                found += decoded.filter { unique.insert(SecretKey(rule: $0.rule, secret: $0.secret)).inserted }
            }
        }
        if found.isEmpty { return found }
        found.sort { $0.secretStart < $1.secretStart }
        Self.locate(&found, in: bytes)
        pair(&found)
        var cursor = LineCursor()
        var identities = Identities.Cache()
        for i in found.indices where found[i].encoding == nil && found[i].pairedWith == nil {
            let lineStart = cursor.lineStart(bytes, before: found[i].secretStart)
            found[i].identity = Identities.identity(for: found[i], in: bytes, lineStart: lineStart, cache: &identities)
        }
        return found
    }

    /// `ranges` sorted and merged where they overlap or touch: disjoint, in increasing order.
    static func merged(_ ranges: [Range<Int>]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = out.last, range.lowerBound <= last.upperBound {
                out[out.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                out.append(range)
            }
        }
        return out
    }

    /// Whether `range` shares a byte with one of the disjoint, sorted `ranges` (binary search).
    static func overlaps(_ range: Range<Int>, _ ranges: [Range<Int>]) -> Bool {
        // The last range starting before `range` ends is the only one that can overlap it.
        var low = 0, high = ranges.count
        while low < high {
            let mid = (low + high) / 2
            if ranges[mid].lowerBound < range.upperBound { low = mid + 1 } else { high = mid }
        }
        return low > 0 && ranges[low - 1].upperBound > range.lowerBound
    }

    private struct SecretKey: Hashable {
        let rule: Int
        let secret: [UInt8]
    }

    // MARK: - Confirmation with PCRE2

    /// What confirming one buffer's hits has found so far; it lives across the flushes of the hit
    /// buffer during one `hs_scan`.
    final class Confirmation {
        var found: [EngineMatch] = []
        /// rule * 2^40 + secret start, to drop the same secret reported twice.
        var seen = Set<Int>()
        /// Per rule: the end of the region already searched, so overlapping hits are not searched again.
        var searchedTo: [Int]
        /// Line starts of the hits (which come in order of their end).
        var hitLines = LineCursor()
        /// The line of the last accepted candidate, and what it holds.
        var line = LineFacts()

        init(ruleCount: Int) {
            searchedTo = [Int](repeating: -1, count: ruleCount)
        }
    }

    /// What `accept` asks about a candidate's line, worked out once per line: on a long line with
    /// many candidates, finding its ends and markers again for each was quadratic.
    struct LineFacts {
        var range: Range<Int> = 0..<0
        var known = false
        var allowed = false
        var documented = false
        var cursor = LineCursor()

        mutating func of(_ offset: Int, in bytes: UnsafeBufferPointer<UInt8>) -> LineFacts {
            if !known || offset < range.lowerBound || offset > range.upperBound {
                let start = cursor.lineStart(bytes, before: offset)
                range = start..<Matcher.lineEnd(bytes, from: offset)
                allowed = Matcher.contains(bytes, range, Matcher.allowMarker)
                documented = PlaceholderFilter.lineMarkers.contains { Matcher.contains(bytes, range, $0) }
                known = true
            }
            return self
        }
    }

    /// PCRE2 over the neighbourhood of each rule hit in `hits` (then emptied). Each rule's hits
    /// search a region once: a line rule its line, a block rule from its hit to the next hit of the
    /// same rule (a block does not run on into the next block's header) or its byte bound. With the
    /// line starts remembered in order, the work is linear in the buffer whatever it holds.
    private func confirm(_ hits: HitBuffer, in bytes: UnsafeBufferPointer<UInt8>, scratch: Scratch,
                         into state: Confirmation) {
        defer { hits.clearRuleHits() }
        guard hits.count > 0 else { return }
        // For block rules: the end of the next hit of the same rule in this batch (-1: none).
        var nextSame = [Int](repeating: -1, count: hits.count)
        var laterEnd: [Int: Int] = [:]
        for k in stride(from: hits.count - 1, through: 0, by: -1) {
            let rule = Int(hits.ids[k])
            guard case .block = rules[rule].span else { continue }
            nextSame[k] = laterEnd[rule] ?? -1
            laterEnd[rule] = Int(hits.tos[k])
        }
        for k in 0..<hits.count {
            let ruleIndex = Int(hits.ids[k])
            let end = Int(hits.tos[k])
            let rule = rules[ruleIndex]
            if end <= state.searchedTo[ruleIndex] { continue }
            if scratch.limitHits[ruleIndex, default: 0] >= Self.maxLimitHitsPerRule { continue }
            guard let program = scratch.program(ruleIndex) else { continue }
            let lineStart = state.hitLines.lineStart(bytes, before: max(end - 1, 0))
            var windowStart = lineStart
            if let width = maxWidth[ruleIndex] { windowStart = max(windowStart, end - width) }
            let subjectStart = lineStart
            let windowEnd: Int
            switch rule.span {
            case .line:
                windowEnd = Self.lineEnd(bytes, from: end - 1)
                if rule.namedValue {
                    // `name: NAME` with `value: …` on the next line (a Kubernetes env entry): the
                    // search takes in the line before the hit's and the line after. Only the hit's
                    // line counts as searched, so a hit on the next line gets its own search (the
                    // `seen` set drops what two searches both find).
                    let previous = lineStart > 0 ? Self.lineStart(bytes, before: lineStart - 1) : lineStart
                    var from = previous
                    if let width = maxWidth[ruleIndex] { from = max(from, end - width) }
                    search(ruleIndex, program: program, subjectStart: previous, from: from,
                           to: Self.lineEnd(bytes, from: min(windowEnd + 1, bytes.count)), bytes: bytes, scratch: scratch, state: state)
                    state.searchedTo[ruleIndex] = windowEnd
                    continue
                }
            case .block(let maxBytes):
                // Without a width, the window would reach back to the line start for every hit:
                // starts before the previous hit's end were tried by its search.
                if maxWidth[ruleIndex] == nil { windowStart = max(windowStart, state.searchedTo[ruleIndex]) }
                var limit = min(bytes.count, max(end, windowStart + maxBytes))
                // The next block's header starts (at the latest) at its hit's end less the
                // prefilter's width; when that is past this hit, this block stops there.
                if nextSame[k] >= 0 {
                    let nextStart = nextSame[k] - (maxWidth[ruleIndex] ?? 1)
                    if nextStart >= end { limit = min(limit, nextStart) }
                }
                windowEnd = limit
            }
            search(ruleIndex, program: program, subjectStart: subjectStart, from: windowStart, to: windowEnd,
                   bytes: bytes, scratch: scratch, state: state)
            state.searchedTo[ruleIndex] = rule.span == .line ? windowEnd : end
        }
    }

    /// Every match of one rule that starts in `from..<to`, the subject running from `subjectStart`
    /// to `to`. A PCRE2 error (a limit) is counted against the rule, and the search goes on after
    /// the start position that hit it.
    private func search(_ ruleIndex: Int, program: OpaquePointer, subjectStart: Int, from: Int, to windowEnd: Int,
                        bytes: UnsafeBufferPointer<UInt8>, scratch: Scratch, state: Confirmation) {
        let rule = rules[ruleIndex]
        let matchData = scratch.matchData
        // Safe: `scan` returns early on an empty buffer, so the base address exists.
        let subject = bytes.baseAddress! + subjectStart
        let length = windowEnd - subjectStart
        func run(_ at: Int, _ options: UInt32) -> Int32 {
            pcre2_match_8(program, subject, length, at - subjectStart, options, matchData, scratch.matchContext)
        }
        var offset = from
        while offset < windowEnd {
            var rc = run(offset, 0)
            if rc < 0 && rc != PCRE2_ERROR_NOMATCH && rc != PCRE2_ERROR_MATCHLIMIT {
                // A JIT resource limit (its stack) is not a verdict: ask the interpreter, which
                // backtracks on the heap.
                rc = run(offset, UInt32(PCRE2_NO_JIT))
            }
            if rc == PCRE2_ERROR_NOMATCH { break }
            if rc < 0 {
                // Some start position at or after `offset` hit a limit. Find it by trying each in
                // turn with the interpreter, count it against the rule, and go on after it.
                var at = offset, probes = 0
                rc = PCRE2_ERROR_NOMATCH
                while at < windowEnd && probes < Self.maxProbes {
                    rc = run(at, UInt32(PCRE2_NO_JIT | PCRE2_ANCHORED))
                    if rc != PCRE2_ERROR_NOMATCH { break }
                    at += 1
                    probes += 1
                }
                if rc < 0 {
                    if rc == PCRE2_ERROR_NOMATCH && at >= windowEnd { break }
                    // A limit at `at` (or not found within the probes: the search resumes there).
                    scratch.limitHits[ruleIndex, default: 0] += 1
                    scratch.gaps.insert(.regexLimit)
                    if scratch.limitHits[ruleIndex, default: 0] >= Self.maxLimitHitsPerRule { break }
                    offset = rc == PCRE2_ERROR_NOMATCH ? at : at + 1
                    continue
                }
            }
            // Safe: a successful match leaves the ovector set.
            let vector = pcre2_get_ovector_pointer_8(matchData)!
            let matchStart = subjectStart + vector[0], matchEnd = subjectStart + vector[1]
            let group = rule.secretGroup
            var next = matchEnd > matchStart ? matchEnd : matchStart + 1
            if Int(rc) > group, vector[2 * group] != Int(bitPattern: UInt.max) {
                let s = subjectStart + vector[2 * group], e = subjectStart + vector[2 * group + 1]
                // A rejected value may itself be the name of the next assignment:
                // `setCredential("API_TOKEN", "v")` first reads as `Credential(` with the value
                // `API_TOKEN`. The search resumes at the value, not after it.
                if rule.namedValue && s > matchStart { next = s }
                var name: Range<Int>? = nil
                if let g = rule.nameGroup, Int(rc) > g, vector[2 * g] != Int(bitPattern: UInt.max) {
                    name = (subjectStart + vector[2 * g])..<(subjectStart + vector[2 * g + 1])
                }
                if e > s, state.seen.insert(ruleIndex << 40 | s).inserted,
                   accept(rule, ruleIndex, secret: s..<e, name: name, match: matchStart..<matchEnd, bytes: bytes, line: &state.line) {
                    let secret = Array(bytes[s..<e])
                    state.found.append(EngineMatch(rule: ruleIndex, secretStart: s, secretEnd: e, line: 0, column: 0,
                                                   secret: secret, pairedWith: nil,
                                                   checksumValid: rule.checksum?.verify(secret), matchLength: matchEnd - matchStart))
                    next = matchEnd
                }
            }
            offset = next
        }
    }

    private func accept(_ rule: Rule, _ ruleIndex: Int, secret: Range<Int>, name: Range<Int>?, match: Range<Int>,
                        bytes: UnsafeBufferPointer<UInt8>, line lineFacts: inout LineFacts) -> Bool {
        if let name, !name.isEmpty {
            let nameBytes = UnsafeBufferPointer(rebasing: bytes[name])
            if rule.namedValue && !rule.generic ? NameFilter.endsWithNonSecretWord(nameBytes) : NameFilter.isNonSecretName(Array(nameBytes)) {
                return false
            }
        }
        if rule.namedValue, let name, !Self.plausibleAssignment(bytes, name: match.lowerBound..<name.upperBound, secret: secret,
                                                                 generic: rule.generic) { return false }
        let raw = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[secret]))
        if let floor = rule.minEntropy, shannonEntropy(raw) < floor { return false }
        if PublishedExamples.contains(UnsafeBufferPointer(rebasing: bytes[secret])) { return false }
        if TemplateMarkers.contains(UnsafeBufferPointer(rebasing: bytes[secret])) { return false }
        if rule.checksum == .basicCredentials && !BasicCredentials.plausible(Array(bytes[secret])) { return false }
        let line = lineFacts.of(match.lowerBound, in: bytes)
        if line.allowed { return false }
        if !keywordBytes[ruleIndex].isEmpty {
            let window = max(0, match.lowerBound - 256)..<min(bytes.count, match.upperBound + 64)
            if !keywordBytes[ruleIndex].contains(where: { Self.containsCaseless(bytes, window, $0) }) { return false }
        }
        if rule.generic {
            let before = secret.lowerBound > 0 ? bytes[secret.lowerBound - 1] : 0
            let quoted = before == 0x22 || before == 0x27 || before == 0x60
            if PlaceholderFilter.isPlaceholder(Array(bytes[secret]), quoted: quoted) { return false }
            // `password = lookupPassword(user)`: a call, not a value.
            if secret.upperBound < bytes.count && bytes[secret.upperBound] == 0x28 { return false }
            if line.documented { return false }
        }
        return true
    }

    /// The separators of the assignment model that are also ordinary code, checked where the regex
    /// cannot: a `,` or `(` between name and value counts only with the value quoted
    /// (`define('NAME', 'v')`, `getenv("NAME", "v")`, not `f(passwords, ACLMatch)`), and a `,` only
    /// with the name quoted too (not `f("--key="+authKey, "--routes=10.0.0.0/24")`); whitespace alone
    /// only where a line is a declaration: the name first on its line (`.properties`, `.netrc`), or
    /// after `ENV`/`ARG`/`set`/`setx`/`#define`/`define`, or a command-line flag (`--password v`).
    /// A generic rule's value after `,` or `(` must also hold both letters and digits: code is full of
    /// string lists (`("vault-token", "HashiCorp")`) whose next item is a word.
    static func plausibleAssignment(_ bytes: UnsafeBufferPointer<UInt8>, name: Range<Int>, secret: Range<Int>,
                                    generic: Bool) -> Bool {
        var operatorSeen = false, listSeen = false, quoteSeen = false, previous: UInt8 = 0
        for byte in bytes[name.upperBound..<secret.lowerBound] {
            switch byte {
            case 0x3d, 0x3a, 0x3e, 0x0a: operatorSeen = true  // = : > newline (a value field)
            case 0x22, 0x27, 0x60: quoteSeen = true
            case 0x2c:  // `,`: between two strings (`getenv("NAME", "v")`), not after a variable (`f(authKey, "v")`)
                if !quoteSeen { return false }
                listSeen = true
            case 0x28:  // `(`: a call, `setAcmeKey("v")`, not prose `token (`v`)`
                if previous == 0x20 || previous == 0x09 { return false }
                listSeen = true
            default: break
            }
            previous = byte
        }
        if operatorSeen { return true }
        let before = secret.lowerBound > 0 ? bytes[secret.lowerBound - 1] : 0
        let quoted = before == 0x22 || before == 0x27 || before == 0x60
        if listSeen {
            guard quoted else { return false }
            if !generic { return true }
            let value = bytes[secret]
            return value.contains { $0 >= 0x30 && $0 <= 0x39 } && value.contains { ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7a }
        }
        // Whitespace alone: what precedes the name on its line decides (read in place, no copy).
        var start = name.lowerBound
        while start > 0 && bytes[start - 1] != 0x0a { start -= 1 }
        while start < name.lowerBound && (bytes[start] == 0x20 || bytes[start] == 0x09) { start += 1 }
        if start == name.lowerBound { return true }
        if bytes[name.lowerBound - 1] == 0x2d || bytes[name.lowerBound] == 0x2d { return true }  // --password, -p
        var end = name.lowerBound
        while end > start && (bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09) { end -= 1 }
        let prefix = bytes[start..<end]
        return Self.declarationWords.contains { word in
            prefix.count >= word.count && prefix.suffix(word.count).elementsEqual(word)
                && (prefix.count == word.count || [0x20, 0x09, 0x3b, 0x26, 0x7c].contains(prefix[end - word.count - 1]))
        }
    }

    /// Words after which a name and its value may be separated by whitespace alone.
    static let declarationWords: [[UInt8]] = ["ENV", "ARG", "set", "SET", "setx", "SETX", "#define", "define", "export"].map { Array($0.utf8) }

    /// Where two matches overlap, a generic rule yields to a specific one; between generic rules the
    /// higher-ranked one wins (URIs before the catch-all assignment). Between specific rules, a secret
    /// inside another's (the API key inside a webhook URL, the JWT inside a connection string) yields
    /// to the whole; on exactly the same bytes the higher-ranked rule names the secret. Rank:
    /// priority, then the longer whole match, then the rule id. Never the order rules are listed in.
    private func resolveOverlaps(_ found: [EngineMatch]) -> [EngineMatch] {
        guard found.count > 1 else { return found }
        let sorted = found.sorted { $0.secretStart < $1.secretStart }
        var dropped = [Bool](repeating: false, count: sorted.count)
        func loses(_ a: EngineMatch, to b: EngineMatch) -> Bool {
            let ra = rules[a.rule], rb = rules[b.rule]
            if ra.generic != rb.generic { return ra.generic }
            if ra.generic { return Self.outranks(b, rb, a, ra) }
            let aInB = a.secretStart >= b.secretStart && a.secretEnd <= b.secretEnd
            let bInA = b.secretStart >= a.secretStart && b.secretEnd <= a.secretEnd
            if aInB && bInA { return Self.outranks(b, rb, a, ra) }
            return aInB
        }
        var any = false
        for i in sorted.indices {
            var j = i + 1
            while j < sorted.count && sorted[j].secretStart < sorted[i].secretEnd {
                if sorted[j].rule != sorted[i].rule {
                    if loses(sorted[i], to: sorted[j]) { dropped[i] = true; any = true }
                    if loses(sorted[j], to: sorted[i]) { dropped[j] = true; any = true }
                }
                j += 1
            }
        }
        return any ? sorted.indices.filter { !dropped[$0] }.map { sorted[$0] } : sorted
    }

    /// Whether match `a` of rule `ra` ranks above match `b` of rule `rb`.
    static func outranks(_ a: EngineMatch, _ ra: Rule, _ b: EngineMatch, _ rb: Rule) -> Bool {
        if ra.priority != rb.priority { return ra.priority > rb.priority }
        if a.matchLength != b.matchLength { return a.matchLength > b.matchLength }
        return ra.id < rb.id
    }

    /// Links each match of a paired rule to the nearest match of its partner within 10 lines (the
    /// earlier on a tie). Matches are sorted by offset, so each rule's lines are in order and the
    /// nearest is found by bisection: many pairs in one blob cost n log n, not n².
    private func pair(_ found: inout [EngineMatch]) {
        var byRule: [Int: [Int]] = [:]
        for i in found.indices { byRule[found[i].rule, default: []].append(i) }
        for i in found.indices {
            guard let partner = pairIndex[found[i].rule], let candidates = byRule[partner] else { continue }
            let line = found[i].line
            // The first candidate on a line at or after `line`, and the first one on the line before it.
            var low = 0, high = candidates.count
            while low < high {
                let mid = (low + high) / 2
                if found[candidates[mid]].line < line { low = mid + 1 } else { high = mid }
            }
            var best: (index: Int, distance: Int)? = nil
            if low > 0 {
                let previousLine = found[candidates[low - 1]].line
                var first = low - 1
                while first > 0 && found[candidates[first - 1]].line == previousLine { first -= 1 }
                best = (candidates[first], line - previousLine)
            }
            if low < candidates.count {
                let distance = found[candidates[low]].line - line
                // A tie goes to the earlier match, which the one before always is.
                if best.map({ distance < $0.distance }) ?? true { best = (candidates[low], distance) }
            }
            found[i].pairedWith = best.flatMap { $0.distance <= 10 ? $0.index : nil }
        }
    }

    /// Fills in 1-based line and column for matches sorted by offset, in one pass over the buffer:
    /// columns are counted on from the previous match when it is on the same line.
    static func locate(_ found: inout [EngineMatch], in bytes: UnsafeBufferPointer<UInt8>) {
        var line = 1, lineStart = 0, position = 0
        var counted = 0, column = 1  // the column of byte `counted`
        for i in found.indices {
            let target = found[i].secretStart
            while position < target {
                if bytes[position] == 0x0a { line += 1; lineStart = position + 1 }
                position += 1
            }
            if counted < lineStart || counted > target { counted = lineStart; column = 1 }
            for byte in bytes[counted..<target] where byte & 0xc0 != 0x80 { column += 1 }
            counted = target
            found[i].line = line
            found[i].column = column
        }
    }

    /// The start of the line holding `offset`: a walk back to the previous newline. Callers that
    /// ask for many offsets in one buffer use a `LineCursor`.
    static func lineStart(_ bytes: UnsafeBufferPointer<UInt8>, before offset: Int) -> Int {
        lastNewline(bytes, 0..<max(0, min(offset, bytes.count))).map { $0 + 1 } ?? 0
    }

    /// The last newline in `range`: eight bytes at a time, then byte by byte in the word that holds
    /// one (a byte loop back over a long line showed in delta scans).
    static func lastNewline(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int? {
        guard let start = bytes.baseAddress, !range.isEmpty else { return nil }
        let base = UnsafeRawPointer(start)
        var i = range.upperBound
        while i - 8 >= range.lowerBound {
            let word = base.loadUnaligned(fromByteOffset: i - 8, as: UInt64.self) ^ 0x0a0a_0a0a_0a0a_0a0a
            // Nonzero exactly when some byte of `word` is zero (a newline in the original).
            if (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080 != 0 { break }
            i -= 8
        }
        while i > range.lowerBound {
            i -= 1
            if bytes[i] == 0x0a { return i }
        }
        return nil
    }

    @inline(__always)
    static func lineEnd(_ bytes: UnsafeBufferPointer<UInt8>, from offset: Int) -> Int {
        guard offset < bytes.count else { return bytes.count }
        let base = bytes.baseAddress! + offset
        if let hit = memchr(base, 0x0a, bytes.count - offset) {
            return offset + (UnsafeRawPointer(hit) - UnsafeRawPointer(base))
        }
        return bytes.count
    }

    /// Whether `needle` (lower-case) occurs in `range`, ASCII letters compared without case.
    static func containsCaseless(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ needle: [UInt8]) -> Bool {
        guard let first = needle.first else { return true }
        guard range.count >= needle.count else { return false }
        @inline(__always) func lower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte }
        var at = range.lowerBound
        let last = range.upperBound - needle.count
        while at <= last {
            if lower(bytes[at]) == first {
                var k = 1
                while k < needle.count && lower(bytes[at + k]) == needle[k] { k += 1 }
                if k == needle.count { return true }
            }
            at += 1
        }
        return false
    }

    static func contains(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ needle: [UInt8]) -> Bool {
        guard range.count >= needle.count else { return false }
        // memmem is a GNU extension that Glibc's Swift module does not export: memchr, then memcmp.
        var at = range.lowerBound
        let last = range.upperBound - needle.count
        while at <= last {
            guard let hit = memchr(bytes.baseAddress! + at, Int32(needle[0]), last - at + 1) else { return false }
            at = UnsafeRawPointer(hit) - UnsafeRawPointer(bytes.baseAddress!)
            if memcmp(bytes.baseAddress! + at, needle, needle.count) == 0 { return true }
            at += 1
        }
        return false
    }

    // MARK: - Compilation

    static func compilePCRE2(_ rule: Rule) throws -> OpaquePointer {
        var errorCode: Int32 = 0
        var errorOffset = 0
        var options = UInt32(PCRE2_MULTILINE)
        if rule.caseless { options |= UInt32(PCRE2_CASELESS) }
        let utf8 = Array(rule.regex.utf8)
        let code = utf8.withUnsafeBufferPointer {
            pcre2_compile_8($0.baseAddress, $0.count, options, &errorCode, &errorOffset, nil)
        }
        guard let code else {
            var message = [UInt8](repeating: 0, count: 256)
            _ = pcre2_get_error_message_8(errorCode, &message, message.count)
            let text = String(decoding: message.prefix { $0 != 0 }, as: UTF8.self)
            throw EngineError("rule \(rule.id): regex does not compile at offset \(errorOffset): \(text)")
        }
        var groups: UInt32 = 0
        pcre2_pattern_info_8(code, UInt32(PCRE2_INFO_CAPTURECOUNT), &groups)
        guard Int(groups) >= rule.secretGroup, rule.secretGroup >= 1 else {
            pcre2_code_free_8(code)
            throw EngineError("rule \(rule.id): regex needs capture group \(rule.secretGroup) for the secret")
        }
        // JIT is a speed-up only; the interpreter gives the same answers where JIT is unavailable.
        _ = pcre2_jit_compile_8(code, UInt32(PCRE2_JIT_COMPLETE))
        return code
    }

    /// One database for all rules. A pattern Vectorscan cannot take exactly is compiled in prefilter
    /// mode (it may then report more hits; PCRE2 decides).
    static func compileVectorscan(_ rules: [Rule]) throws -> (OpaquePointer, [Int?], [UInt32]) {
        var flags = rules.map { UInt32(HS_FLAG_MULTILINE) | ($0.caseless ? UInt32(HS_FLAG_CASELESS) : 0) }
        let patterns = rules.map { $0.prefilter ?? $0.regex }
        let cStrings = patterns.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        for _ in 0...(rules.count + 1) {
            var database: OpaquePointer?
            var compileError: UnsafeMutablePointer<hs_compile_error_t>?
            let ids = (0..<UInt32(rules.count)).map { $0 }
            let status = cStrings.map { UnsafePointer($0) }.withUnsafeBufferPointer { exprs in
                hs_compile_multi(exprs.baseAddress, flags, ids, UInt32(rules.count), UInt32(HS_MODE_BLOCK), nil,
                                 &database, &compileError)
            }
            if status == HS_SUCCESS, let database {
                return (database, zip(cStrings, flags).map { maxWidth($0.0, $0.1) }, flags)
            }
            let failed = Int(compileError?.pointee.expression ?? -1)
            let message = compileError?.pointee.message.map { String(cString: $0) } ?? "status \(status)"
            hs_free_compile_error(compileError)
            guard failed >= 0, failed < rules.count, flags[failed] & UInt32(HS_FLAG_PREFILTER) == 0 else {
                let which = failed >= 0 && failed < rules.count ? "rule \(rules[failed].id)" : "the rule set"
                throw EngineError("Vectorscan cannot compile \(which): \(message)")
            }
            flags[failed] |= UInt32(HS_FLAG_PREFILTER)
        }
        throw EngineError("Vectorscan could not compile the rule set")
    }

    /// The patterns `ids` of `rules` in one database, each with its id and the flags it has in the
    /// full database (prefilter mode included), so each reports the same hits there as here.
    static func compileSubset(_ rules: [Rule], ids: [Int], flags: [UInt32]) throws -> OpaquePointer {
        let cStrings = ids.map { strdup(rules[$0].prefilter ?? rules[$0].regex) }
        defer { cStrings.forEach { free($0) } }
        var database: OpaquePointer?
        var compileError: UnsafeMutablePointer<hs_compile_error_t>?
        let subsetFlags = ids.map { flags[$0] }
        let subsetIDs = ids.map { UInt32($0) }
        let status = cStrings.map { UnsafePointer($0) }.withUnsafeBufferPointer { exprs in
            hs_compile_multi(exprs.baseAddress, subsetFlags, subsetIDs, UInt32(ids.count), UInt32(HS_MODE_BLOCK), nil,
                             &database, &compileError)
        }
        hs_free_compile_error(compileError)
        guard status == HS_SUCCESS, let database else { throw EngineError("Vectorscan cannot compile the delta databases") }
        return database
    }

    static func maxWidth(_ pattern: UnsafeMutablePointer<CChar>?, _ flags: UInt32) -> Int? {
        var info: UnsafeMutablePointer<hs_expr_info_t>?
        var error: UnsafeMutablePointer<hs_compile_error_t>?
        guard hs_expression_info(pattern, flags, &info, &error) == HS_SUCCESS, let info else {
            hs_free_compile_error(error)
            return nil
        }
        defer { free(info) }
        let width = info.pointee.max_width
        return width == UInt32.max ? nil : Int(width)
    }
}

extension Array where Element == UInt64 {
    func isSorted() -> Bool {
        var i = 1
        while i < count {
            if self[i - 1] > self[i] { return false }
            i += 1
        }
        return true
    }
}

/// Line starts for offsets asked in (mostly) rising order: it remembers the furthest offset asked
/// and its line start, so each byte is walked over once however many offsets share a long line.
struct LineCursor {
    /// Bytes before `position` hold no newline after `start`: `start` is the line start of `position`.
    private var position = 0
    private var start = 0

    mutating func lineStart(_ bytes: UnsafeBufferPointer<UInt8>, before offset: Int) -> Int {
        let x = min(offset, bytes.count)
        if x >= position {
            var i = x
            while i > position && bytes[i - 1] != 0x0a { i -= 1 }
            let found = i > position ? i : start
            position = x
            start = found
            return found
        }
        if x >= start { return start }
        // Behind the remembered line (rare: hits out of order): walk back from here.
        return Matcher.lineStart(bytes, before: x)
    }
}

/// Where Vectorscan reports hits during one scan. Reused across blobs by one thread.
final class HitBuffer {
    var ids: [UInt32] = []
    var tos: [UInt64] = []
    var count = 0
    /// Rule hits held before they are confirmed (from inside the callback): bounds the memory a
    /// blob full of hits takes, without ending its scan.
    static let limit = 1 << 16
    /// Locator hits kept per scanned buffer: 65,536 and one per 16 bytes (so their memory stays
    /// below the buffer's size); past it they are dropped and the blob is marked
    /// (`ScanGaps.decodedInPart`). One per base64 assignment always fits.
    static func locatorLimit(_ bytes: Int) -> Int { (1 << 16) + bytes / 16 }
    private var locatorLimit = 0

    /// Hits at ids from `ruleCount` on are the locators'.
    var ruleCount = 0
    /// Where encoded text may start, in order (see `SpanLocator`).
    var locators: [(SpanLocator, Int)] = []
    var locatorsDropped = false
    /// Confirms the rule hits held so far (set by `scan` for the length of one `hs_scan`).
    var flush: (() -> Void)?
    /// Per compiled pattern: whether deltas carry its hits (narrow and line patterns).
    var recordable: [Bool] = []
    /// While set, hits of recordable patterns are also kept in `recorded` (packed, see `RecordedHits`).
    var recording = false
    var recorded: [UInt64] = []
    /// More hits than a record keeps: the blob's deltas are scanned in full.
    var recordOverflow = false
    private var bytes = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
    /// Per locator kind: the end of the last kept hit and of its line (-1: none yet).
    private var lastEnd: [Int] = []
    private var lastLineEnd: [Int] = []

    func reset(ruleCount: Int, bytes: UnsafeBufferPointer<UInt8>) {
        clearRuleHits()
        self.ruleCount = ruleCount
        self.bytes = bytes
        locatorLimit = Self.locatorLimit(bytes.count)
        locators.removeAll(keepingCapacity: true)
        locatorsDropped = false
        lastEnd = [Int](repeating: -1, count: SpanLocator.allCases.count)
        lastLineEnd = lastEnd
        recorded.removeAll(keepingCapacity: true)
        recordOverflow = false
    }

    /// One hit, as Vectorscan reports it (or as a delta scan carries it over).
    @inline(__always)
    func add(_ id: UInt32, end: Int) {
        if recording && Int(id) < recordable.count && recordable[Int(id)] {
            if recorded.count < Self.limit { recorded.append(UInt64(end) << 20 | UInt64(id)) } else { recordOverflow = true }
        }
        if Int(id) >= ruleCount {
            // Safe: ids past the rules' are the locators', compiled in `SpanLocator` order.
            addLocator(SpanLocator(rawValue: Int(id) - ruleCount)!, end: end)
            return
        }
        ids.append(id)
        tos.append(UInt64(end))
        count += 1
        if count >= Self.limit { flush?() }
    }

    func clearRuleHits() {
        ids.removeAll(keepingCapacity: true)
        tos.removeAll(keepingCapacity: true)
        count = 0
    }

    /// Keeps a locator hit unless `EncodedSpans.find` would make nothing new of it: a Kubernetes
    /// locator after the first (the whole file is read once), a percent or JSON-escape hit on the
    /// line of the previous one of its kind (it decodes whole lines, once each), or a base64-header
    /// hit inside the base64 run of the previous one (its span runs back to the same start, over
    /// base64 other than `=`, and on to the same stop).
    func addLocator(_ kind: SpanLocator, end: Int) {
        let k = kind.rawValue
        switch kind {
        case .kubernetesSecret, .kubernetesSecretJSON:
            if lastEnd[k] >= 0 { return }
        case .percent, .jsonEscape, .sqlStatement:
            // Read by whole lines (a statement from its line's start): a second hit on the line adds nothing.
            if end > lastEnd[k] && end <= lastLineEnd[k] { return }
        case .base64Header:
            if lastEnd[k] >= 0 && end > lastEnd[k] && end <= bytes.count
                && bytes[lastEnd[k]..<end].allSatisfy({ EncodedSpans.isBase64($0) && $0 != 0x3d }) {
                lastEnd[k] = end  // each byte is looked at once: the next hit checks from here
                return
            }
        case .base64Assigned:
            break
        }
        guard locators.count < locatorLimit else {
            locatorsDropped = true
            return
        }
        lastEnd[k] = end
        if kind == .percent || kind == .jsonEscape || kind == .sqlStatement { lastLineEnd[k] = Matcher.lineEnd(bytes, from: max(end - 1, 0)) }
        locators.append((kind, end))
    }
}

private func onHit(_ id: UInt32, _ from: UInt64, _ to: UInt64, _ flags: UInt32, _ context: UnsafeMutableRawPointer?) -> Int32 {
    // Safe: `scan` passes its HitBuffer as the context and keeps it alive for the call.
    let hits = Unmanaged<HitBuffer>.fromOpaque(context!).takeUnretainedValue()
    hits.add(id, end: Int(to))
    return 0
}
