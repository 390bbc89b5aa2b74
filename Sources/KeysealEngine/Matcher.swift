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
    /// The identity the secret is used with, from the same block (`DB_USER (admi…)` beside a
    /// password, `CLIENT_ID (3f2a…)` beside a client secret): name and preview only.
    public var identity: String? = nil
}

/// What scanning one blob found, and what the blob was.
public struct BlobScan: Sendable {
    public let matches: [EngineMatch]
    public let kind: BlobKind
    /// An archive whose opening stopped at a bound (depth, size or member count).
    public let truncated: Bool
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
    private let database: OpaquePointer
    /// The longest match each rule's Vectorscan pattern can make (nil: unbounded). A hit ending at
    /// `to` started at or after `to - maxWidth`, which bounds where PCRE2 must look. This replaces
    /// HS_FLAG_SOM_LEFTMOST, which made compiling the rule set 25 times slower and is refused
    /// ("Pattern is too large") for a fifth of the rules.
    private let maxWidth: [Int?]
    private let pairIndex: [Int?]

    static let allowMarker = Array("keyseal:allow".utf8)

    /// Whether the Vectorscan database came from the on-disk cache (for tests and traces).
    public let loadedFromCache: Bool

    /// Compiles `rules`, or loads them from `cacheDirectory` when a database compiled from exactly
    /// these rules is there (and stores it there otherwise). PCRE2 programs are compiled lazily, per
    /// thread, for the rules that get a hit: a hook that scans a few files pays for a few.
    public init(rules: [Rule], cacheDirectory: URL? = nil) throws {
        self.rules = rules
        let compiled = rules + SpanLocator.rules
        if let cacheDirectory, let cached = RuleDatabaseCache.load(rules: compiled, from: cacheDirectory) {
            (database, maxWidth) = cached
            loadedFromCache = true
        } else {
            (database, maxWidth) = try Self.compileVectorscan(compiled)
            loadedFromCache = false
            if let cacheDirectory {
                RuleDatabaseCache.store(database, maxWidth: maxWidth, rules: compiled, in: cacheDirectory)
            }
        }
        let ids = Dictionary(rules.enumerated().map { ($0.element.id, $0.offset) }, uniquingKeysWith: { a, _ in a })
        pairIndex = rules.map { $0.pairsWith.flatMap { ids[$0] } }
    }

    deinit {
        hs_free_database(database)
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

        init(database: OpaquePointer, rules: [Rule]) throws {
            self.rules = rules
            programs = [OpaquePointer?](repeating: nil, count: rules.count)
            failed = [Bool](repeating: false, count: rules.count)
            var scratch: OpaquePointer?
            guard hs_alloc_scratch(database, &scratch) == HS_SUCCESS, let scratch else {
                throw EngineError("hs_alloc_scratch failed")
            }
            hs = scratch
            guard let data = pcre2_match_data_create_8(32, nil) else {
                hs_free_scratch(scratch)
                throw EngineError("pcre2_match_data_create_8 failed")
            }
            matchData = data
            jitStack = pcre2_jit_stack_create_8(32 * 1024, 1024 * 1024, nil)
            matchContext = pcre2_match_context_create_8(nil)
            if let matchContext, let jitStack { pcre2_jit_stack_assign_8(matchContext, nil, UnsafeMutableRawPointer(jitStack)) }
        }
        deinit {
            hs_free_scratch(hs)
            pcre2_match_data_free_8(matchData)
            pcre2_match_context_free_8(matchContext)
            pcre2_jit_stack_free_8(jitStack)
            for program in programs { pcre2_code_free_8(program) }
        }
    }

    public func makeScratch() throws -> Scratch { try Scratch(database: database, rules: rules) }

    /// Finds every rule's secrets in a blob: text directly and through its encoded spans, a binary
    /// through its printable runs, an archive through its members.
    public func scanBlob(_ buffer: UnsafeRawBufferPointer, scratch: Scratch) throws -> BlobScan {
        var budget = ArchiveBudget()
        let (matches, kind) = try scanBlob(buffer.bindMemory(to: UInt8.self), scratch: scratch, depth: 0, budget: &budget)
        return BlobScan(matches: matches, kind: kind, truncated: budget.truncated)
    }

    private func scanBlob(_ bytes: UnsafeBufferPointer<UInt8>, scratch: Scratch, depth: Int,
                          budget: inout ArchiveBudget) throws -> ([EngineMatch], BlobKind) {
        if let format = Containers.format(bytes) {
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
            let (text, starts) = Containers.printableRuns(bytes)
            let found = try text.withUnsafeBytes { try scan($0, scratch: scratch) }.map { match -> EngineMatch in
                var located = match
                located.byteOffset = Containers.blobOffset(match.secretStart, in: starts)
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
        let hits = scratch.hits
        hits.reset(ruleCount: rules.count)
        let status = hs_scan(database, base.assumingMemoryBound(to: CChar.self), UInt32(buffer.count), 0, scratch.hs,
                             onHit, Unmanaged.passUnretained(hits).toOpaque())
        guard status == HS_SUCCESS || status == HS_SCAN_TERMINATED else {
            throw EngineError("hs_scan failed with status \(status)")
        }
        if hits.count == 0 { return [] }
        let bytes = buffer.bindMemory(to: UInt8.self)
        var (found, locators) = confirm(hits, in: buffer, scratch: scratch)
        found = resolveOverlaps(found)
        if !locators.isEmpty && depth < DecodeBudget.maxDepth {
            let known = Set(found.map { SecretKey(rule: $0.rule, secret: $0.secret) })
            var decoded: [EngineMatch] = []
            for span in EncodedSpans.find(locators, in: bytes, budget: &budget) {
                let inner = try span.decoded.withUnsafeBytes { try scan($0, scratch: scratch, depth: depth + 1, budget: &budget) }
                for match in inner where !known.contains(SecretKey(rule: match.rule, secret: match.secret)) {
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
        for i in found.indices where found[i].encoding == nil && found[i].pairedWith == nil {
            found[i].identity = Identities.identity(for: found[i], in: bytes)
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

    /// PCRE2 over each rule hit's neighbourhood; locator hits are handed back as they are.
    private func confirm(_ hits: HitBuffer, in buffer: UnsafeRawBufferPointer,
                         scratch: Scratch) -> ([EngineMatch], [(SpanLocator, Int)]) {
        let matchData = scratch.matchData
        var locators: [(SpanLocator, Int)] = []
        let bytes = buffer.bindMemory(to: UInt8.self)
        var found: [EngineMatch] = []
        var seen = Set<Int>()  // rule * 2^40 + secret start, to drop the same secret reported twice
        // Per rule: the end of the region already searched, so overlapping hits are not searched again.
        var searchedTo = [Int](repeating: -1, count: rules.count)
        for k in 0..<hits.count {
            let ruleIndex = Int(hits.ids[k])
            let end = Int(hits.tos[k])
            if ruleIndex >= rules.count {
                // Safe: ids past the rules' are the locators', compiled in `SpanLocator` order.
                locators.append((SpanLocator(rawValue: ruleIndex - rules.count)!, end))
                continue
            }
            let rule = rules[ruleIndex]
            if end <= searchedTo[ruleIndex] { continue }
            guard let program = scratch.program(ruleIndex) else { continue }
            let lineStart = Self.lineStart(bytes, before: max(end - 1, 0))
            var windowStart = lineStart
            if let width = maxWidth[ruleIndex] { windowStart = max(windowStart, end - width) }
            let blockStart = Self.lineStart(bytes, before: windowStart)
            let subjectStart: Int, windowEnd: Int
            switch rule.span {
            case .line:
                subjectStart = lineStart
                windowEnd = Self.lineEnd(bytes, from: end - 1)
            case .block(let maxBytes):
                subjectStart = blockStart
                windowEnd = min(bytes.count, blockStart + maxBytes)
            }
            var offset = windowStart
            while offset < windowEnd {
                var rc = pcre2_match_8(program, bytes.baseAddress! + subjectStart, windowEnd - subjectStart,
                                       offset - subjectStart, 0, matchData, scratch.matchContext)
                if rc < 0 && rc != PCRE2_ERROR_NOMATCH {
                    // A JIT resource limit is not a verdict: ask the interpreter, which backtracks on the heap.
                    rc = pcre2_match_8(program, bytes.baseAddress! + subjectStart, windowEnd - subjectStart,
                                       offset - subjectStart, UInt32(PCRE2_NO_JIT), matchData, scratch.matchContext)
                }
                if rc < 0 { break }
                let vector = pcre2_get_ovector_pointer_8(matchData)!
                let matchStart = subjectStart + vector[0], matchEnd = subjectStart + vector[1]
                let group = rule.secretGroup
                if Int(rc) > group, vector[2 * group] != Int(bitPattern: UInt.max) {
                    let s = subjectStart + vector[2 * group], e = subjectStart + vector[2 * group + 1]
                    var name: Range<Int>? = nil
                    if let g = rule.nameGroup, Int(rc) > g, vector[2 * g] != Int(bitPattern: UInt.max) {
                        name = (subjectStart + vector[2 * g])..<(subjectStart + vector[2 * g + 1])
                    }
                    if e > s, seen.insert(ruleIndex << 40 | s).inserted,
                       accept(rule, secret: s..<e, name: name, match: matchStart..<matchEnd, bytes: bytes) {
                        let secret = Array(bytes[s..<e])
                        found.append(EngineMatch(rule: ruleIndex, secretStart: s, secretEnd: e, line: 0, column: 0,
                                                 secret: secret, pairedWith: nil,
                                                 checksumValid: rule.checksum?.verify(secret)))
                    }
                }
                offset = matchEnd > matchStart ? matchEnd : matchStart + 1
            }
            searchedTo[ruleIndex] = rule.span == .line ? windowEnd : end
        }
        return (found, locators)
    }

    private func accept(_ rule: Rule, secret: Range<Int>, name: Range<Int>?, match: Range<Int>,
                        bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        if let name, NameFilter.isNonSecretName(Array(bytes[name])) { return false }
        let raw = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[secret]))
        if let floor = rule.minEntropy, shannonEntropy(raw) < floor { return false }
        if PublishedExamples.contains(UnsafeBufferPointer(rebasing: bytes[secret])) { return false }
        if TemplateMarkers.contains(UnsafeBufferPointer(rebasing: bytes[secret])) { return false }
        if rule.checksum == .basicCredentials && !BasicCredentials.plausible(Array(bytes[secret])) { return false }
        let lineStart = Self.lineStart(bytes, before: match.lowerBound)
        let lineEnd = Self.lineEnd(bytes, from: match.lowerBound)
        if Self.contains(bytes, lineStart..<lineEnd, Self.allowMarker) { return false }
        if !rule.keywords.isEmpty {
            let window = max(0, match.lowerBound - 256)..<min(bytes.count, match.upperBound + 64)
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[window]), as: UTF8.self).lowercased()
            if !rule.keywords.contains(where: { text.contains($0) }) { return false }
        }
        if rule.generic {
            let before = secret.lowerBound > 0 ? bytes[secret.lowerBound - 1] : 0
            let quoted = before == 0x22 || before == 0x27 || before == 0x60
            if PlaceholderFilter.isPlaceholder(Array(bytes[secret]), quoted: quoted) { return false }
            // `password = lookupPassword(user)`: a call, not a value.
            if secret.upperBound < bytes.count && bytes[secret.upperBound] == 0x28 { return false }
            if PlaceholderFilter.lineMarkers.contains(where: { Self.contains(bytes, lineStart..<lineEnd, $0) }) { return false }
        }
        return true
    }

    /// Where two matches cover the same bytes, a generic rule yields to a specific one, and between
    /// generic rules the one listed first (the more specialised: URIs before the catch-all) wins.
    /// Between specific rules, a secret inside another's (the API key inside a webhook URL, the JWT
    /// inside a connection string) yields to the whole; on exactly the same bytes, the higher
    /// precedence (then the rule listed first) names the secret.
    private func resolveOverlaps(_ found: [EngineMatch]) -> [EngineMatch] {
        guard found.count > 1 else { return found }
        let sorted = found.sorted { $0.secretStart < $1.secretStart }
        var dropped = [Bool](repeating: false, count: sorted.count)
        func loses(_ a: EngineMatch, to b: EngineMatch) -> Bool {
            let ra = rules[a.rule], rb = rules[b.rule]
            if ra.generic || rb.generic { return ra.generic && (!rb.generic || b.rule < a.rule) }
            let aInB = a.secretStart >= b.secretStart && a.secretEnd <= b.secretEnd
            let bInA = b.secretStart >= a.secretStart && b.secretEnd <= a.secretEnd
            if aInB && bInA {
                return rb.precedence > ra.precedence || (rb.precedence == ra.precedence && b.rule < a.rule)
            }
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

    /// Links each match of a paired rule to the nearest match of its partner within 10 lines.
    private func pair(_ found: inout [EngineMatch]) {
        for i in found.indices {
            guard let partner = pairIndex[found[i].rule] else { continue }
            var best: (Int, Int)? = nil
            for j in found.indices where found[j].rule == partner {
                let distance = abs(found[j].line - found[i].line)
                if distance <= 10, best == nil || distance < best!.1 { best = (j, distance) }
            }
            found[i].pairedWith = best?.0
        }
    }

    /// Fills in 1-based line and column for matches sorted by offset, in one pass over the buffer.
    static func locate(_ found: inout [EngineMatch], in bytes: UnsafeBufferPointer<UInt8>) {
        var line = 1, lineStart = 0, position = 0
        for i in found.indices {
            let target = found[i].secretStart
            while position < target {
                if bytes[position] == 0x0a { line += 1; lineStart = position + 1 }
                position += 1
            }
            var column = 1
            for byte in bytes[lineStart..<target] where byte & 0xc0 != 0x80 { column += 1 }
            found[i].line = line
            found[i].column = column
        }
    }

    @inline(__always)
    static func lineStart(_ bytes: UnsafeBufferPointer<UInt8>, before offset: Int) -> Int {
        var i = min(offset, bytes.count)
        while i > 0 && bytes[i - 1] != 0x0a { i -= 1 }
        return i
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
    static func compileVectorscan(_ rules: [Rule]) throws -> (OpaquePointer, [Int?]) {
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
                return (database, zip(cStrings, flags).map { maxWidth($0.0, $0.1) })
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

/// Where Vectorscan reports hits during one scan. Reused across blobs by one thread.
final class HitBuffer {
    var ids: [UInt32] = []
    var tos: [UInt64] = []
    var count = 0
    static let limit = 1 << 22

    func reset(ruleCount: Int) {
        ids.removeAll(keepingCapacity: true)
        tos.removeAll(keepingCapacity: true)
        count = 0
    }
}

private func onHit(_ id: UInt32, _ from: UInt64, _ to: UInt64, _ flags: UInt32, _ context: UnsafeMutableRawPointer?) -> Int32 {
    // Safe: `scan` passes its HitBuffer as the context and keeps it alive for the call.
    let hits = Unmanaged<HitBuffer>.fromOpaque(context!).takeUnretainedValue()
    hits.ids.append(id)
    hits.tos.append(to)
    hits.count += 1
    return hits.count >= HitBuffer.limit ? 1 : 0
}
