import Foundation
import XCTest

@testable import KeysealEngine

/// A delta scan (a revision scanned against the revision it is stored as a delta of) must find
/// exactly what a full scan finds. Texts full of every rule's own examples (so narrow, line and whole
/// patterns all hit, with decoders and pairs), edited at random the way git's deltas describe a
/// revision: copies of the base's bytes in any order, and inserted bytes that may split a line or a
/// token. Each target then serves as the base of the next edit, as delta chains do.
final class MatcherDeltaTests: XCTestCase {
    nonisolated(unsafe) static var shared: Matcher?
    static func matcher() throws -> Matcher {
        if let shared { return shared }
        let made = try Matcher(rules: BuiltInRules.all + wholeRules, deltaScans: true)
        shared = made
        return made
    }

    /// Custom rules whose whitespace crosses any number of line breaks: scanned over every target
    /// whole (no built-in rule is, so these keep that path in the random comparison).
    static let wholeRules = [
        Rule(id: "test-whole-spaced", provider: "t", description: "t", regex: "(?i)\\bwholekey\\s*[=:]\\s*[\"']?([A-Za-z0-9]{24})\\b",
             positives: ["wholekey =\n\n   \"⟪an:24⟫\"", "WHOLEKEY: ⟪an:24⟫"], negatives: []),
        Rule(id: "test-whole-command", provider: "t", description: "t", regex: "\\bwholetool\\s+login\\s+(?:-\\w+\\s+)*([a-f0-9]{32})\\b",
             positives: ["wholetool login\n  -q\n\n ⟪hex:32⟫"], negatives: []),
    ]

    /// Built-in patterns are all windowed in delta scans: one that may span any number of newlines
    /// makes every revision of every file be scanned whole again (0.5 s of CPU on redis for 28 such
    /// patterns). Write whitespace that may cross a line as `[ \t]*\r?\n?[ \t]*`, not `\s*`.
    func testNoBuiltInPatternIsScannedWhole() throws {
        let matcher = try Self.matcher()
        let kind = try XCTUnwrap(matcher.deltaDatabases).kind
        let builtIn = BuiltInRules.all.count, custom = Self.wholeRules.count
        let whole = kind.indices.filter { kind[$0] == .whole }
        XCTAssertEqual(whole.filter { $0 < builtIn }.map { BuiltInRules.all[$0].id }, [])
        XCTAssertEqual(whole.filter { $0 >= builtIn + custom }.map { "locator-\($0 - builtIn - custom)" }, [])
        XCTAssertEqual(whole.filter { $0 >= builtIn && $0 < builtIn + custom }.count, custom, "the test's own rules are scanned whole")
    }

    /// A fixed-seed generator, so a failure can be replayed.
    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    }

    /// Lines to build texts from: every rule's positive examples (made at run time from their
    /// templates), the same base64-encoded and JSON-escaped, code, and a long line of several.
    static let pool: [[UInt8]] = {
        var lines: [String] = []
        for (n, rule) in (BuiltInRules.all + wholeRules).enumerated() {
            for (k, template) in rule.positives.enumerated() {
                let text = ExampleTemplate.expand(template, salt: "delta-\(n)-\(k)")
                lines.append(text)
                if k == 0 && n % 7 == 0 { lines.append("blob_b64 = \"" + Data(text.utf8).base64EncodedString() + "\"") }
                if k == 0 && n % 11 == 0 { lines.append("{\"value\": \"" + text.replacingOccurrences(of: "/", with: "\\/") + "\"}") }
            }
        }
        lines += ["int main(void) { return 0; }", "    if (x == NULL) goto err;", "password = ", "", "# comment",
                  "const token = process.env.TOKEN;", "kind: Secret", "data:", "  password: cGFzc3dvcmQxMjM0NTY3OA=="]
        return lines.map { Array($0.utf8) }
    }()

    static func text(_ rng: inout SplitMix, lines: Int) -> [UInt8] {
        var out: [UInt8] = []
        for _ in 0..<lines {
            out += pool[rng.below(pool.count)]
            // Now and then several on one line, or no newline between two.
            switch rng.below(10) {
            case 0: out += Array(" ; ".utf8)
            case 1: break
            default: out.append(0x0a)
            }
        }
        return out
    }

    /// A target built from `base` by copies (mostly in order, sometimes from anywhere) and inserts.
    static func edit(_ base: [UInt8], _ rng: inout SplitMix) -> ([UInt8], [CopySegment]) {
        var target: [UInt8] = []
        var segments: [CopySegment] = []
        var cursor = 0
        while cursor < base.count || target.count < 64 {
            switch rng.below(8) {
            case 0, 1:
                // Insert: whole lines, or a few random bytes (splitting whatever is there).
                if rng.below(2) == 0 {
                    target += text(&rng, lines: 1 + rng.below(3))
                } else {
                    for _ in 0..<(1 + rng.below(12)) { target.append(UInt8(0x20 + rng.below(95))) }
                }
            case 2:
                // Copy from anywhere (a moved block), or skip ahead (a deletion).
                if rng.below(2) == 0, !base.isEmpty {
                    let start = rng.below(base.count)
                    let count = 1 + rng.below(min(base.count - start, 2000))
                    segments.append(CopySegment(target: target.count, base: start, count: count))
                    target += base[start..<(start + count)]
                } else {
                    cursor = min(base.count, cursor + rng.below(200))
                }
            default:
                guard cursor < base.count else {
                    target += text(&rng, lines: 1)
                    continue
                }
                let count = 1 + rng.below(min(base.count - cursor, rng.below(4) == 0 ? 40 : 4000))
                segments.append(CopySegment(target: target.count, base: cursor, count: count))
                target += base[cursor..<(cursor + count)]
                cursor += count
            }
        }
        return (target, segments)
    }

    static func describe(_ scan: BlobScan) -> [String] {
        scan.matches.map { m in
            "\(m.rule) \(m.secretStart)-\(m.secretEnd) \(m.line):\(m.column) \(m.secret.hashValue) \(m.pairedWith.map(String.init) ?? "-") \(m.encoding ?? "-") \(m.identity ?? "-") \(m.checksumValid.map { "\($0)" } ?? "-")"
        }.sorted() + ["kind \(scan.kind)", "gaps \(scan.gaps.rawValue)"]
    }

    func testDeltaScansFindWhatFullScansFind() throws {
        let matcher = try Self.matcher()
        XCTAssertTrue(matcher.scansDeltas)
        let scratch = try matcher.makeScratch()
        var rng = SplitMix(state: 0x6b65_7973_6561_6c21)
        var compared = 0, matches = 0
        for round in 0..<40 {
            var base = Self.text(&rng, lines: 20 + rng.below(300))
            var recorded = try XCTUnwrap(base.withUnsafeBytes { try matcher.scanBlob($0, scratch: scratch, record: true) }.recorded)
            for step in 0..<3 {
                let (target, segments) = Self.edit(base, &rng)
                let full = try target.withUnsafeBytes { try matcher.scanBlob($0, scratch: scratch) }
                let delta = try target.withUnsafeBytes {
                    try matcher.scanBlob($0, scratch: scratch, delta: DeltaBase(hits: recorded, segments: segments), record: true)
                }
                let (got, want) = (Self.describe(delta), Self.describe(full))
                XCTAssertEqual(got, want, "round \(round) step \(step): only in the delta scan \(Set(got).subtracting(want)), only in the full scan \(Set(want).subtracting(got))")
                compared += 1
                matches += full.matches.count
                guard let next = delta.recorded else { break }
                recorded = next
                base = target
            }
        }
        XCTAssertGreaterThan(matches, 1000, "the texts hold secrets of many rules")
        // The delta path was taken (not a fallback to full scans), and read less than all.
        XCTAssertGreaterThan(scratch.deltaBlobs, compared * 9 / 10)
        XCTAssertLessThan(scratch.deltaBytesScanned, scratch.deltaBytes * 2)
        // Regions seen before (the pool repeats lines) took their hits from the cache, and the
        // comparisons above say those hits are the ones a scan finds.
        XCTAssertGreaterThan(scratch.deltaRegionsReused, 0)
        print("delta scans compared: \(compared) targets (\(scratch.deltaBlobs) as deltas), \(matches) matches; Vectorscan read \(scratch.deltaBytesScanned) of \(scratch.deltaBytes) bytes (windowed plus whole)")
    }

    /// The region cache's keys: the same bytes give the same key, other bytes or another length
    /// another, and another cache (another scan) draws another key.
    /// The word-at-a-time search back for a newline against a byte loop: every range of buffers
    /// with no newline, few, and many (next to each other, at word edges, at either end).
    func testLastNewlineIsTheByteLoops() {
        var random = SystemRandomNumberGenerator()
        for density in [0, 1, 8, 64, 1000] {
            for _ in 0..<40 {
                let count = Int.random(in: 0...70, using: &random)
                let bytes = (0..<count).map { _ -> UInt8 in
                    density > 0 && Int.random(in: 0..<1000, using: &random) < density ? 0x0a : UInt8.random(in: 0x0b...0xff, using: &random)
                }
                bytes.withUnsafeBufferPointer { buffer in
                    for lower in 0...count {
                        for upper in lower...count {
                            let expected: Int? = (lower..<upper).last(where: { bytes[$0] == 0x0a })
                            XCTAssertEqual(Matcher.lastNewline(buffer, lower..<upper), expected, "\(bytes) \(lower)..<\(upper)")
                        }
                        let newline: Int? = (0..<lower).last(where: { bytes[$0] == 0x0a })
                        XCTAssertEqual(Matcher.lineStart(buffer, before: lower), newline.map { $0 + 1 } ?? 0, "\(bytes) before \(lower)")
                        XCTAssertEqual(Matcher.lineStart(buffer, before: -1 - lower), 0)
                    }
                }
            }
        }
    }

    func testRegionKeysTellRegionsApart() {
        let cache = RegionHitCache(), other = RegionHitCache()
        let a = Array("token = abcdef\n".utf8), b = Array("token = abcdeg\n".utf8)
        let key = { (cache: RegionHitCache, bytes: [UInt8]) in bytes.withUnsafeBytes { cache.key($0) } }
        XCTAssertEqual(key(cache, a), key(cache, a))
        XCTAssertNotEqual(key(cache, a), key(cache, b))
        XCTAssertNotEqual(key(cache, a), key(cache, Array(a.dropLast())))
        XCTAssertNotEqual(key(cache, a), key(other, a))
        XCTAssertNil(cache.hits(key(cache, a)))
        cache.record(key(cache, a), [], shift: 0)
        XCTAssertEqual(cache.hits(key(cache, a)), [])
        cache.record(key(cache, b), [UInt64(5) << 20 | 3], shift: 0)
        XCTAssertEqual(cache.hits(key(cache, b)), [UInt64(5) << 20 | 3])
        // A region with more hits than are worth keeping is scanned again each time.
        let many = Array("x".utf8)
        cache.record(key(cache, many), (0..<UInt64(RegionHitCache.maxHitsPerRegion + 1)).map { $0 << 20 }[...], shift: 0)
        XCTAssertNil(cache.hits(key(cache, many)))
    }

    /// Custom rules whose hits depend on a byte past a line's newline, or on where the buffer ends
    /// (from the review of delta scans): carried hits would be the base's, not the target's.
    func testAssertionsPastALineAndAtTheBufferEndAreNotCarried() throws {
        let value = ExampleTemplate.expand("⟪an:24⟫", salt: "edge")
        let rules = [
            Rule(id: "test-header-block", provider: "t", description: "t", regex: "-----BEGIN [A-Z ]+-----\\n(\\w{20,})",
                 prefilter: "-----BEGIN [A-Z ]+-----\\n\\b", span: .block(maxBytes: 4096), positives: [], negatives: []),
            Rule(id: "test-token-at-end", provider: "t", description: "t", regex: "token=([a-z0-9]{24})\\Z", positives: [], negatives: []),
        ]
        let matcher = try Matcher(rules: rules, deltaScans: true)
        let scratch = try matcher.makeScratch()
        let token = ExampleTemplate.expand("⟪lo:24⟫", salt: "end")
        let cases: [([UInt8], [UInt8], [CopySegment])] = {
            // The blank line after the header deleted: the hit's `\b` now sees the value.
            let base = Array("a\nb\nc\n-----BEGIN FOO KEY-----\n\n\(value)\n".utf8)
            let header = 30  // up to and including the header's newline
            let target = Array(base[0..<header]) + Array(base[(header + 1)...])
            // A file cut just after a token line: `\Z` now holds there.
            let long = Array((String(repeating: "x", count: 70) + "\ntoken=\(token)\nx\n").utf8)
            let cut = long.count - 2
            return [(base, target, [CopySegment(target: 0, base: 0, count: header),
                                    CopySegment(target: header, base: header + 1, count: base.count - header - 1)]),
                    (long, Array(long[0..<cut]), [CopySegment(target: 0, base: 0, count: cut)])]
        }()
        for (base, target, segments) in cases {
            let recorded = try XCTUnwrap(base.withUnsafeBytes { try matcher.scanBlob($0, scratch: scratch, record: true) }.recorded)
            let full = try target.withUnsafeBytes { try matcher.scanBlob($0, scratch: scratch) }
            let delta = try target.withUnsafeBytes {
                try matcher.scanBlob($0, scratch: scratch, delta: DeltaBase(hits: recorded, segments: segments))
            }
            XCTAssertEqual(full.matches.count, 1)
            XCTAssertEqual(Self.describe(delta), Self.describe(full))
        }
    }

    /// A delta that does not describe the target (out of bounds, overlapping, a base of another
    /// length) is not used: the blob is scanned in full, with the same result.
    func testADeltaThatDoesNotHoldTogetherIsScannedInFull() throws {
        let matcher = try Self.matcher()
        let scratch = try matcher.makeScratch()
        var rng = SplitMix(state: 7)
        let base = Self.text(&rng, lines: 80)
        let recorded = try XCTUnwrap(base.withUnsafeBytes { try matcher.scanBlob($0, scratch: scratch, record: true) }.recorded)
        let target = Array(base.reversed())
        let full = try target.withUnsafeBytes { try matcher.scanBlob($0, scratch: scratch) }
        for segments in [[CopySegment(target: 0, base: 0, count: target.count + 1)],
                         [CopySegment(target: 10, base: 0, count: 20), CopySegment(target: 15, base: 0, count: 20)],
                         [CopySegment(target: 0, base: base.count - 5, count: 10)],
                         [CopySegment(target: 0, base: -1, count: 10)]] {
            let delta = try target.withUnsafeBytes {
                try matcher.scanBlob($0, scratch: scratch, delta: DeltaBase(hits: recorded, segments: segments))
            }
            XCTAssertEqual(Self.describe(delta), Self.describe(full))
        }
        // A wrong delta that does hold together (it claims copies the target does not hold) is the
        // caller's to prevent: the git side checks sizes and reads the delta from the pack itself.
    }
}
