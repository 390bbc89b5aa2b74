import CZlib
import Foundation
import XCTest

@testable import KeysealCore
@testable import KeysealEngine
@testable import KeysealGit

/// A history scan reads each revision stored in a pack as a delta of another as that delta (what it
/// inserted scanned, the base's hits carried over the rest). On a real repository whose packs git
/// wrote, it must report exactly what scanning every blob in full reports.
final class HistoryDeltaScanTests: XCTestCase {
    typealias SplitMix = MatcherDeltaTests.SplitMix

    static func lines(_ rng: inout SplitMix, _ count: Int) -> [String] {
        (0..<count).map { _ in
            switch rng.below(6) {
            case 0: return String(decoding: MatcherDeltaTests.pool[rng.below(MatcherDeltaTests.pool.count)], as: UTF8.self)
            case 1: return "    value_\(rng.below(1000)) = compute(\(rng.below(100)), \"label\");"
            default: return "static int counter_\(rng.below(100000)) = \(rng.below(1000)); /* padding padding padding */"
            }
        }
    }

    /// A repository of 40 commits editing four files full of rules' examples, repacked with deep
    /// delta chains.
    static func editedRepository() throws -> TestRepository {
        let repo = try TestRepository()
        var rng = SplitMix(state: 0x5eed)
        var files: [String: [String]] = [:]
        for name in ["src/server.c", "config/app.env", "deploy/values.yaml", "README.md"] {
            files[name] = Self.lines(&rng, 150 + rng.below(150))
        }
        for commit in 0..<40 {
            // Each commit edits two files: lines replaced, inserted, deleted, a block moved.
            for _ in 0..<2 {
                let name = files.keys.sorted()[rng.below(files.count)]
                var text = files[name]!
                for _ in 0..<(1 + rng.below(4)) {
                    let at = rng.below(max(text.count, 1))
                    switch rng.below(5) {
                    case 0: if !text.isEmpty { text.remove(at: at) }
                    case 1: if !text.isEmpty { text[at] = Self.lines(&rng, 1)[0] }
                    case 2:
                        let end = min(text.count, at + 10)
                        let block = Array(text[at..<end])
                        text.removeSubrange(at..<end)
                        text.insert(contentsOf: block, at: rng.below(text.count + 1))
                    case 3: if !text.isEmpty { text[at] += Self.lines(&rng, 1)[0] }  // two on one line
                    default: text.insert(contentsOf: Self.lines(&rng, 1 + rng.below(3)), at: min(at, text.count))
                    }
                }
                files[name] = text
                try repo.write(name, text.joined(separator: "\n") + "\n")
            }
            try repo.commit("change \(commit)")
        }
        // Packs as git writes them, with deep delta chains.
        try repo.git(["repack", "-adfq", "--depth=50", "--window=50"])
        return repo
    }

    func testDeltaScansReportWhatFullScansReport() throws {
        let repo = try Self.editedRepository()
        func scan(deltas: Bool) throws -> ScanResult {
            var options = ScanOptions(path: repo.path, threads: 2)
            options.deltaScans = deltas
            return try HistoryScan.scan(options)
        }
        let full = try scan(deltas: false)
        let delta = try scan(deltas: true)
        XCTAssertEqual(full.blobsScannedAsDeltas, 0)
        XCTAssertGreaterThan(delta.blobsScannedAsDeltas, 40, "most revisions are deltas in the pack")
        XCTAssertGreaterThan(delta.blobsRebuiltFromDeltas, 40, "most deltas are rebuilt from their base's bytes")
        var hashed = ScanOptions(path: repo.path, threads: 2)
        hashed.verifyHashes = true
        XCTAssertEqual(try HistoryScan.scan(hashed).blobsRebuiltFromDeltas, 0, "with hashes verified, libgit2 reads every blob")
        func places(_ result: ScanResult) -> [String] {
            result.findings.map { "\($0.rule) \($0.fingerprint) \($0.commit) \($0.path):\($0.line):\($0.column) \($0.inHead)" }.sorted()
        }
        XCTAssertGreaterThan(full.findings.count, 100)
        let (got, want) = (places(delta), places(full))
        XCTAssertEqual(got, want, "only in the delta scan: \(Set(got).subtracting(want)); only in the full scan: \(Set(want).subtracting(got))")
        XCTAssertEqual(delta.summary.blobsScanned, full.summary.blobsScanned)
        XCTAssertEqual(delta.summary.secrets, full.summary.secrets)
    }

    /// Every delta rebuilt from its base's bytes is the very blob libgit2 reads; a base of another
    /// length, or a target over the size limit, rebuilds nothing.
    func testRebuiltDeltasAreTheBlobsLibgit2Reads() throws {
        let repo = try Self.editedRepository()
        let ids = try repo.git(["rev-list", "--objects", "--all"]).split(separator: "\n").compactMap { line -> ObjectID? in
            ObjectID(hex: String(line.prefix(40)))
        }
        let repository = try Repository.open(repo.path)
        let blobs = try ids.filter { try repo.git(["cat-file", "-t", $0.hex]).hasPrefix("blob") }
        let deltas = PackDeltas(blobs, reading: Array(blobs.indices), repository: repository)
        let reader = PackDeltas.Reader()
        var rebuilt = 0
        for index in blobs.indices where deltas.base[index] >= 0 {
            let base = try repository.withBlob(blobs[Int(deltas.base[index])]) { [UInt8]($0) }
            let want = try repository.withBlob(blobs[index]) { [UInt8]($0) }
            let got = base.withUnsafeBytes { base in
                deltas.rebuild(index, base: base, maxLength: 1 << 20, reader: reader) { bytes, copies -> [UInt8] in
                    for copy in copies {
                        XCTAssertEqual(Array(bytes[copy.target..<(copy.target + copy.count)]), Array(base[copy.base..<(copy.base + copy.count)]))
                    }
                    return [UInt8](bytes)
                }
            }
            XCTAssertEqual(got, want, "blob \(blobs[index].hex)")
            rebuilt += 1
            XCTAssertNil(base.dropLast().withUnsafeBytes { deltas.rebuild(index, base: $0, maxLength: 1 << 20, reader: reader) { _, _ in 0 } },
                         "a base of another length")
            XCTAssertNil(base.withUnsafeBytes { deltas.rebuild(index, base: $0, maxLength: want.count - 1, reader: reader) { _, _ in 0 } },
                         "a target over the limit")
        }
        XCTAssertGreaterThan(rebuilt, 40)
    }

    /// A blob its pack stores whole is read from the pack as libgit2 reads it; a delta, a blob over
    /// the size limit, or one stored loose too is left to libgit2.
    func testWholeBlobsReadFromPacksAreTheBlobsLibgit2Reads() throws {
        let repo = try Self.editedRepository()
        let ids = try repo.git(["rev-list", "--objects", "--all"]).split(separator: "\n").compactMap { ObjectID(hex: String($0.prefix(40))) }
        let blobs = try ids.filter { try repo.git(["cat-file", "-t", $0.hex]).hasPrefix("blob") }
        let repository = try Repository.open(repo.path)
        let deltas = PackDeltas(blobs, reading: Array(blobs.indices), repository: repository)
        let reader = PackDeltas.Reader()
        var whole = 0
        for index in blobs.indices {
            let want = try repository.withBlob(blobs[index]) { [UInt8]($0) }
            let got = deltas.readWhole(index, maxLength: 1 << 20, reader: reader) { [UInt8]($0) }
            if deltas.base[index] >= 0 {
                XCTAssertNil(got, "a delta is not stored whole")
                continue
            }
            guard let got else { continue }
            XCTAssertEqual(got, want, "blob \(blobs[index].hex)")
            whole += 1
            XCTAssertNil(deltas.readWhole(index, maxLength: want.count - 1, reader: reader) { _ in 0 }, "over the limit")
        }
        XCTAssertEqual(whole, blobs.indices.filter { deltas.base[$0] < 0 }.count, "every blob that is no delta is stored whole")
    }

    /// Where libgit2 might read another copy of an object than the pack entry keyseal would rebuild
    /// it from, nothing is read as a delta: a blob also stored loose is no delta, and a pack whose
    /// header disagrees with its index (which libgit2 refuses) turns delta reading off.
    func testNoDeltaWhereLibgit2MightReadAnotherCopy() throws {
        let repo = try Self.editedRepository()
        let ids = try repo.git(["rev-list", "--objects", "--all"]).split(separator: "\n").compactMap { ObjectID(hex: String($0.prefix(40))) }
        let blobs = try ids.filter { try repo.git(["cat-file", "-t", $0.hex]).hasPrefix("blob") }
        let repository = try Repository.open(repo.path)
        let before = PackDeltas(blobs, reading: Array(blobs.indices), repository: repository)
        guard let delta = blobs.indices.first(where: { before.base[$0] >= 0 }) else { return XCTFail("no delta in the pack") }

        // A loose copy of that blob (zlib of "blob <size>\0<bytes>", where git keeps loose objects).
        let content = try repository.withBlob(blobs[delta]) { [UInt8]($0) }
        let raw = Array("blob \(content.count)\0".utf8) + content
        var compressed = [UInt8](repeating: 0, count: Int(compressBound(uLong(raw.count))))
        var length = uLongf(compressed.count)
        XCTAssertEqual(compress2(&compressed, &length, raw, uLong(raw.count), 6), Z_OK)
        let hex = blobs[delta].hex
        let folder = repo.url.appendingPathComponent(".git/objects/\(hex.prefix(2))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(compressed[0..<Int(length)]).write(to: folder.appendingPathComponent(String(hex.dropFirst(2))))
        let loose = PackDeltas(blobs, reading: Array(blobs.indices), repository: repository)
        XCTAssertEqual(loose.base[delta], -1, "a blob stored loose too is no delta")
        XCTAssertGreaterThan(loose.base.filter { $0 >= 0 }.count, 0, "the others still are")

        // The pack's object count off by one: libgit2 refuses the pack, keyseal reads no delta.
        let packFolder = repo.url.appendingPathComponent(".git/objects/pack")
        let pack = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: packFolder.path).first { $0.hasSuffix(".pack") })
        let packURL = packFolder.appendingPathComponent(pack)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: packURL.path)
        var bytes = try [UInt8](Data(contentsOf: packURL))
        bytes[11] &+= 1
        try Data(bytes).write(to: packURL)
        let refused = PackDeltas(blobs, reading: Array(blobs.indices), repository: repository)
        XCTAssertTrue(refused.base.allSatisfy { $0 < 0 }, "a pack libgit2 refuses is not read for deltas")
    }

    /// A malformed delta in a crafted pack is no delta: that blob is scanned in full.
    func testPackDeltaParserRefusesWhatDoesNotHoldTogether() {
        func parse(_ bytes: [UInt8], base: Int, target: Int) -> [PackDeltaCopy]? {
            bytes.withUnsafeBytes { PackDeltas.parse($0, baseLength: base, targetLength: target) }
        }
        // base 10, target 6: copy 4 from offset 2, insert "ab".
        let good: [UInt8] = [10, 6, 0x91, 2, 4, 2, 0x61, 0x62]
        XCTAssertEqual(parse(good, base: 10, target: 6), [PackDeltaCopy(target: 0, base: 2, count: 4)])
        XCTAssertNil(parse(good, base: 11, target: 6), "base size differs")
        XCTAssertNil(parse(good, base: 10, target: 7), "target size differs")
        XCTAssertNil(parse([10, 6, 0x91, 8, 4, 2, 0x61, 0x62], base: 10, target: 6), "copy past the base's end")
        XCTAssertNil(parse([10, 6, 0x91, 2, 4, 3, 0x61, 0x62], base: 10, target: 6), "insert past the delta's end")
        XCTAssertNil(parse([10, 6, 0x00], base: 10, target: 6), "reserved opcode")
        XCTAssertNil(parse([10, 6, 0x91, 2], base: 10, target: 6), "cut short")
        XCTAssertNil(parse([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80], base: 10, target: 6), "endless size")
        // Applied: the target is the copy and the insert.
        let base = Array("0123456789".utf8)
        var target = [UInt8](repeating: 0, count: 6)
        let applied = base.withUnsafeBytes { base in
            target.withUnsafeMutableBytes { target in
                good.withUnsafeBytes { PackDeltas.parse($0, baseLength: 10, targetLength: 6, apply: (base, target)) }
            }
        }
        XCTAssertEqual(applied, [PackDeltaCopy(target: 0, base: 2, count: 4)])
        XCTAssertEqual(String(decoding: target, as: UTF8.self), "2345ab")
        XCTAssertEqual(good.withUnsafeBytes { PackDeltas.targetLength($0) }, 6)
        // Two copies that run on are one.
        XCTAssertEqual(parse([10, 6, 0x91, 0, 3, 0x91, 3, 3], base: 10, target: 6), [PackDeltaCopy(target: 0, base: 0, count: 6)])
    }

    /// Deltas are inflated by libdeflate in one call when their compressed bytes are read whole; on
    /// every stream zlib takes, it must give zlib's bytes (filling the stated size) or refuse and
    /// leave the stream to zlib. Streams written at every level git may use, with the pack's next
    /// bytes after them, cut short, with a wrong size or a damaged checksum.
    func testWholeInflateAgreesWithZlib() throws {
        var rng = SplitMix(state: 17)
        let reader = PackDeltas.Reader()
        let decompressor = try XCTUnwrap(reader.decompressor)
        defer { withExtendedLifetime(reader) {} }  // it frees the decompressor
        func zlib(_ compressed: [UInt8], _ size: Int) -> [UInt8]? {
            var out = [UInt8](repeating: 0, count: size)
            let ok = compressed.withUnsafeBytes { c in out.withUnsafeMutableBytes { PackDeltas.inflate(c, into: $0, size: size) } }
            return ok ? out : nil
        }
        func whole(_ compressed: [UInt8], _ size: Int) -> [UInt8]? {
            var out = [UInt8](repeating: 0, count: size)
            let ok = compressed.withUnsafeBytes { c in
                out.withUnsafeMutableBytes { PackDeltas.inflateWhole(c, into: $0, decompressor: decompressor) }
            }
            return ok ? out : nil
        }
        for round in 0..<60 {
            let size = [0, 1, 100, 4096, 65_535, 65_536, 70_000, 300_000][round % 8]
            let text = round % 3 != 0
            let plain = (0..<size).map { _ in text ? UInt8(0x61 + rng.below(6)) : UInt8(truncatingIfNeeded: rng.below(256)) }
            let level = Int32([0, 1, 6, 9][round % 4])
            var length = compressBound(uLong(size))
            var compressed = [UInt8](repeating: 0, count: Int(length))
            XCTAssertEqual(compressed.withUnsafeMutableBufferPointer { c in
                plain.withUnsafeBufferPointer { compress2(c.baseAddress, &length, $0.baseAddress, uLong(size), level) }
            }, Z_OK)
            compressed = Array(compressed.prefix(Int(length)))
            XCTAssertLessThanOrEqual(compressed.count, PackDeltas.compressedBound(size), "level \(level), \(size) bytes")
            // The next entry's bytes follow a stream in a pack.
            let followed = compressed + (0..<40).map { _ in UInt8(truncatingIfNeeded: rng.below(256)) }
            XCTAssertEqual(whole(followed, size), plain, "level \(level), \(size) bytes")
            XCTAssertEqual(zlib(followed, size), plain)
            var cases: [(String, [UInt8], Int)] = [
                ("cut short", Array(compressed.dropLast(1 + rng.below(min(compressed.count, 8)))), size),
                ("one byte more stated", followed, size + 1),
            ]
            if size > 0 { cases.append(("one byte less stated", followed, size - 1)) }
            var damaged = followed
            damaged[compressed.count - 1 - rng.below(4)] ^= UInt8(1 << rng.below(8))
            cases.append(("checksum damaged", damaged, size))
            for (what, bytes, stated) in cases {
                let fast = whole(bytes, stated)
                XCTAssertNil(fast, "\(what): level \(level), \(size) bytes")
                if let fast { XCTAssertEqual(fast, zlib(bytes, stated), "libdeflate took what zlib reads otherwise") }
                XCTAssertNil(zlib(bytes, stated), "\(what): level \(level), \(size) bytes")
            }
        }
    }

    /// The one way the two differ (from the review): libdeflate also takes a few codes DEFLATE
    /// reserves (length symbols 286 and 287, distance codes 30 and 31, 288 or 32 codes in a block
    /// header), which zlib refuses. No git can read such an object (`git fsck` fails on it); keyseal
    /// scans the bytes libdeflate reads instead of stopping, so nothing a reader could see is missed.
    func testLibdeflateAlsoTakesReservedCodesZlibRefuses() throws {
        var out: [UInt8] = [], bits: UInt32 = 0, count = 0
        func put(_ value: UInt32, _ width: Int) {
            bits |= value << count
            count += width
            while count >= 8 { out.append(UInt8(bits & 0xff)); bits >>= 8; count -= 8 }
        }
        // Huffman codes go most significant bit first.
        func code(_ value: UInt32, _ width: Int) {
            put((0..<width).reduce(0) { $0 | ((value >> $1) & 1) << (width - 1 - $1) }, width)
        }
        put(1, 1); put(1, 2)  // the last block, fixed codes
        code(0x30 + 0x41, 8)  // "A"
        code(0xc0 + 6, 8)  // length symbol 286 (reserved)
        code(0, 5)  // distance 1
        code(0, 7)  // end of block
        if count > 0 { out.append(UInt8(bits & 0xff)) }
        let plain = [UInt8](repeating: 0x41, count: 259)
        let check = plain.withUnsafeBufferPointer { UInt32(adler32(1, $0.baseAddress, UInt32($0.count))) }
        let stream = [0x78, 0x01] + out + (0..<4).map { UInt8(truncatingIfNeeded: check >> (24 - 8 * $0)) }
        let reader = PackDeltas.Reader()
        let decompressor = try XCTUnwrap(reader.decompressor)
        defer { withExtendedLifetime(reader) {} }
        var fast = [UInt8](repeating: 0, count: plain.count), slow = fast
        XCTAssertTrue(stream.withUnsafeBytes { s in fast.withUnsafeMutableBytes { PackDeltas.inflateWhole(s, into: $0, decompressor: decompressor) } })
        XCTAssertEqual(fast, plain)
        XCTAssertFalse(stream.withUnsafeBytes { s in slow.withUnsafeMutableBytes { PackDeltas.inflate(s, into: $0, size: plain.count) } })
    }

    func testNewlineReachIsReadConservatively() {
        let cases: [(String, Int?)] = [
            ("key[ \\t]*=[ \\t]*[A-Za-z0-9]{20}", 0), ("a\\s*b", nil), ("a\\s?b", 1), ("x[^A-Za-z]{0,4}\\nvalue", 5),
            ("(?:a|\\n\\n)b", 2), ("[^\\n]*:", 0), (".*x", 0), ("(?s).x", nil), ("\\x0ax", 1), ("a{2,}", 0),
            ("[\\s\\S]{3}", 3), ("[^\\s\"']+", 0), ("(?i:key)[0-9]+", 0), ("a(?=b)", nil), ("[^a]+", nil), ("\\Wx", 1),
            ("[[:space:]]x", nil), ("[[:space:]]+x", nil), ("[\\t-\\r]*", nil), ("[\\b-~]*", nil), ("[\t-~]*", nil),
            ("[\\\na]*", nil), ("[^\\Q\\n\\E]*", nil), ("[^\\c\\n]*", nil), ("[ -~]*", 0), ("[A-Za-z0-9_.-]+", 0),
            ("(a\\n){2}", 2), ("(a\\n)*", nil), ("a{3", nil), (String(repeating: "(", count: 100_000) + "a" + String(repeating: ")", count: 100_000), nil), ("[^\\n\\r]{0,300}?x", 0),
            // Two-digit hex escapes are read; other forms are not.
            ("[^\\s\"\\x27<>]*?x", 0), ("\\x27*x", 0), ("[\\x00-\\x27]*", nil), ("[\\x28-\\x7e]*", 0), ("[^\\x0a]*", 0),
            ("[\\x0a]+", nil), ("\\x{0a}", nil), ("\\x4", nil), ("[\\x4]", nil),
        ]
        for (pattern, expected) in cases {
            XCTAssertEqual(NewlineReach.maxNewlines(pattern), expected, pattern)
        }
        // Hits that depend on where the buffer ends are never carried.
        for pattern in ["token=([a-z0-9]{32})\\Z", "\\Afoo", "x\\z", "(?-m)^x", "\\Gx"] {
            XCTAssertTrue(NewlineReach.anchorsToBuffer(pattern), pattern)
        }
        XCTAssertFalse(NewlineReach.anchorsToBuffer("^key=[a-z]+$"))
    }
}
