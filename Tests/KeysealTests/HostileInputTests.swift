import CZlib
import Foundation
import XCTest

@testable import KeysealCore
@testable import KeysealEngine

/// Archives, encodings and Dockerfiles built to crash, hang or exhaust the scanner (issue 11, items
/// 1, 3, 4 and 5). Every hostile input is built at run time. Linearity is asserted by counting work
/// or by sizes whose quadratic cost would take hours, never by timing a fast path.
final class HostileInputTests: XCTestCase {
    // MARK: - Helpers

    /// Runs the keyseal binary; a run still going after `seconds` (hours of work for the quadratic
    /// code these tests guard against) is killed and fails the test instead of hanging the suite.
    func runBounded(_ arguments: [String], in directory: URL, seconds: Double = 300) throws -> TestRepository.Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: KeysealBinary.path)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var environment = ProcessInfo.processInfo.environment
        environment["GIT_CONFIG_NOSYSTEM"] = "1"
        environment["HOME"] = directory.path
        environment["XDG_CACHE_HOME"] = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-test-cache").path
        process.environment = environment
        let outURL = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-out-\(UUID().uuidString)")
        let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-err-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            XCTFail("keyseal \(arguments.joined(separator: " ")) still running after \(Int(seconds)) s")
        }
        process.waitUntilExit()
        try out.close()
        try err.close()
        XCTAssertEqual(process.terminationReason, .exit, "keyseal \(arguments.joined(separator: " ")) crashed (signal \(process.terminationStatus))")
        return TestRepository.Output(status: process.terminationStatus,
                                     stdout: String(decoding: (try? Data(contentsOf: outURL)) ?? Data(), as: UTF8.self),
                                     stderr: String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self))
    }

    func json(_ output: TestRepository.Output) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any], output.stdout + output.stderr)
    }

    func scanBlob(_ bytes: [UInt8]) throws -> BlobScan {
        let matcher = try Self.matcher()
        let scratch = try matcher.makeScratch()
        return try bytes.withUnsafeBytes { try matcher.scanBlob($0, scratch: scratch) }
    }

    nonisolated(unsafe) static var shared: Matcher?
    static func matcher() throws -> Matcher {
        if let shared { return shared }
        let made = try Matcher(rules: BuiltInRules.all)
        shared = made
        return made
    }

    /// One ustar header (valid checksum unless `checksum` is given) with a raw 12-byte size field.
    static func tarHeader(name: String, sizeField: [UInt8], type: UInt8 = 0x30, checksum: Int? = nil) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ bytes: [UInt8], at: Int) { for (i, b) in bytes.enumerated() { header[at + i] = b } }
        put(Array(name.utf8.prefix(100)), at: 0)
        put(Array("0000644\0".utf8), at: 100)
        put(Array(sizeField.prefix(12)), at: 124)
        header[156] = type
        put(Array("ustar\0".utf8), at: 257)
        put(Array("00".utf8), at: 263)
        put(Array("        ".utf8), at: 148)
        let sum = checksum ?? header.reduce(0) { $0 + Int($1) }
        put(Array(String(format: "%06o\0 ", sum).utf8), at: 148)
        return header
    }

    static func octal(_ value: Int) -> [UInt8] { Array(String(format: "%011o\0", value).utf8) }
    static func padded(_ data: [UInt8]) -> [UInt8] { data + [UInt8](repeating: 0, count: (512 - data.count % 512) % 512) }

    static func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff)] }
    static func le32(_ v: Int) -> [UInt8] { le16(v & 0xffff) + le16(v >> 16 & 0xffff) }

    /// A zip whose central directory lists `entries` (name, method, compressed, size, local offset,
    /// flags) over `body` (local headers and data the caller laid out).
    static func zip(body: [UInt8], entries: [(name: String, method: Int, compressed: Int, size: Int, local: Int, flags: Int)]) -> [UInt8] {
        var central: [UInt8] = []
        for entry in entries {
            central += le32(0x0201_4b50) + le16(20) + le16(20) + le16(entry.flags) + le16(entry.method) + le16(0) + le16(0) + le32(0)
            central += le32(entry.compressed) + le32(entry.size) + le16(entry.name.utf8.count) + le16(0) + le16(0) + le16(0)
            central += le16(0) + le32(0) + le32(entry.local) + Array(entry.name.utf8)
        }
        let end = le32(0x0605_4b50) + le16(0) + le16(0) + le16(entries.count) + le16(entries.count)
            + le32(central.count) + le32(body.count) + le16(0)
        return body + central + end
    }

    static func localHeader(name: String, method: Int, compressed: Int, size: Int) -> [UInt8] {
        le32(0x0403_4b50) + le16(20) + le16(0) + le16(method) + le16(0) + le16(0) + le32(0)
            + le32(compressed) + le32(size) + le16(name.utf8.count) + le16(0) + Array(name.utf8)
    }

    static func rawDeflate(_ bytes: [UInt8]) -> [UInt8] { Array(EncodedAndContainedTests.rawDeflate(Data(bytes))) }
    static func gzip(_ bytes: [UInt8]) -> [UInt8] { Array(EncodedAndContainedTests.gzip(Data(bytes))) }

    // MARK: - 1. Tar size fields

    func testTarSizeFieldIsParsedStrictly() {
        func number(_ bytes: [UInt8]) -> Int? { bytes.withUnsafeBufferPointer { Containers.tarNumber($0) } }
        XCTAssertEqual(number(Array("00000001750\0".utf8)), 1000)
        XCTAssertEqual(number(Array("   1750 \0\0\0\0".utf8)), 1000, "leading spaces, trailing space and NULs")
        XCTAssertEqual(number(Array("\01750\0\0\0\0\0\0\0".utf8)), 1000, "a leading NUL")
        XCTAssertEqual(number([UInt8](repeating: 0, count: 12)), 0, "an empty field is 0, as Python's tarfile reads it")
        XCTAssertNil(number(Array("-1\0".utf8) + [UInt8](repeating: 0x20, count: 9)), "a sign")
        XCTAssertNil(number(Array("-2000      \0".utf8)))
        XCTAssertNil(number(Array("00000001758\0".utf8)), "8 is not an octal digit")
        XCTAssertNil(number(Array("0000 0001750".utf8)), "digits after the trailing space")
        XCTAssertNil(number(Array("+0000001750\0".utf8)))
        XCTAssertNil(number([UInt8](repeating: 0x37, count: 24)), "does not fit in an Int")
        XCTAssertEqual(number([0x80] + [UInt8](repeating: 0, count: 8) + [0x10, 0, 0]), 1 << 20, "GNU base-256")
        XCTAssertNil(number([0xff] + [UInt8](repeating: 0xff, count: 11)), "base-256 negative (-1)")
        XCTAssertNil(number([0x80] + [UInt8](repeating: 0xff, count: 11)), "base-256 too large")
    }

    /// Size `-1` trapped (exit 132), size <= -1023 made the reader stop advancing (100% CPU forever),
    /// in `scan` and in the hooks. Now both end the archive and mark it truncated.
    func testTarWithNegativeSizeNeitherCrashesNorHangsScanOrStaged() throws {
        let repo = try TestRepository()
        let filler = [UInt8](repeating: 0x78, count: 4096)
        for (name, size) in [("minus-one.tar", "-1"), ("minus-2000.tar", "-2000")] {
            let tar = Self.tarHeader(name: "a.txt", sizeField: Array(size.utf8) + [0]) + filler + [UInt8](repeating: 0, count: 1024)
            try repo.write(name, Data(tar))
        }
        try repo.write("README.md", "hello\n")
        try repo.commit("hostile tars")
        let scan = try runBounded(["scan", "--quiet", "--format", "json"], in: repo.url)
        XCTAssertEqual(scan.status, 0, scan.stderr)
        let summary = try XCTUnwrap(try json(scan)["summary"] as? [String: Any])
        XCTAssertEqual(summary["archives"] as? Int, 2)
        XCTAssertEqual(summary["archives_truncated"] as? Int, 2, "both archives were not fully read")

        let staged = Self.tarHeader(name: "b.txt", sizeField: Array("-1030".utf8) + [0]) + filler
        try repo.write("later.tar", Data(staged))
        let hook = try runBounded(["staged"], in: repo.url)
        XCTAssertTrue(hook.status == 0 || hook.status == 1, "exit \(hook.status): \(hook.stderr)")
    }

    func testMalformedTarHeaderEndsTheArchiveAndKeepsWhatCameBefore() throws {
        let token = FakeSecret.github("tar-first")
        let first = Array("TOKEN=\(token)\n".utf8)
        let good = Self.tarHeader(name: "first.env", sizeField: Self.octal(first.count)) + Self.padded(first)
        // Bad checksum, then a member that runs past the end of the blob.
        let badChecksum = Self.tarHeader(name: "second.env", sizeField: Self.octal(10), checksum: 1) + Self.padded(Array("0123456789".utf8))
        let tooLong = Self.tarHeader(name: "third.env", sizeField: Self.octal(1 << 20)) + Self.padded(Array("short".utf8))
        for tail in [badChecksum, tooLong, [UInt8](repeating: 0x41, count: 100)] {
            let archive = try XCTUnwrap(Containers.members(good + tail))
            XCTAssertEqual(archive.members.map(\.path), ["first.env"])
            XCTAssertEqual(archive.members.first?.bytes, first)
            XCTAssertTrue(archive.budget.truncated)
        }
        let whole = try XCTUnwrap(Containers.members(good + [UInt8](repeating: 0, count: 1024)))
        XCTAssertFalse(whole.budget.truncated, "a well-formed tar is not truncated")
        let scan = try scanBlob(good + badChecksum)
        XCTAssertEqual(scan.matches.map(\.innerPath), ["first.env"])
        XCTAssertTrue(scan.truncated)
    }

    func testTarLongNamesAndPaxHeadersAreBounded() throws {
        let content = Array("x=1\n".utf8)
        let longName = [UInt8](repeating: 0x6e, count: 100_000)
        var tar = Self.tarHeader(name: "././@LongLink", sizeField: Self.octal(longName.count), type: 0x4c) + Self.padded(longName)
        tar += Self.tarHeader(name: "short", sizeField: Self.octal(content.count)) + Self.padded(content)
        let record = " path=dir/from-pax.txt\n"
        let pax = Array("\(record.utf8.count + 2)\(record)".utf8)
        tar += Self.tarHeader(name: "PaxHeader", sizeField: Self.octal(pax.count), type: 0x78) + Self.padded(pax)
        tar += Self.tarHeader(name: "ustar-name", sizeField: Self.octal(content.count)) + Self.padded(content)
        // A pax header whose length field lies (runs past its data): ignored, the member keeps its name.
        let liar = Array("99999 path=evil\n".utf8)
        tar += Self.tarHeader(name: "PaxHeader", sizeField: Self.octal(liar.count), type: 0x78) + Self.padded(liar)
        tar += Self.tarHeader(name: "kept-name", sizeField: Self.octal(content.count)) + Self.padded(content)
        let archive = try XCTUnwrap(Containers.members(tar + [UInt8](repeating: 0, count: 1024)))
        XCTAssertEqual(archive.members.map { $0.path.utf8.count }.first, ArchiveBudget.maxNameBytes)
        XCTAssertEqual(archive.members.dropFirst().map(\.path), ["dir/from-pax.txt", "kept-name"])
        XCTAssertFalse(archive.budget.truncated)
    }

    /// Text with `ustar` at offset 257 was taken for a tar, found to have no members, and never
    /// scanned. A tar is now recognised by its header checksum too.
    func testTextThatMerelyContainsUstarIsStillScanned() throws {
        var text = Array(String(repeating: "# padding line\n", count: 20).utf8)
        text = Array(text.prefix(257)) + Array("ustar".utf8)
        text += Array("\nGITHUB_TOKEN=\(FakeSecret.github("ustar-text"))\n".utf8)
        text += Array(String(repeating: "more text\n", count: 40).utf8)
        let scan = try scanBlob(text)
        XCTAssertEqual(scan.kind, .text)
        XCTAssertEqual(scan.matches.count, 1)
    }

    // MARK: - 3. Zip amplification

    /// 400 central-directory entries over one stretch of data: read once, the rest refused.
    func testOverlappingZipEntriesAreReadOnceAndChargedWhatTheyProduce() throws {
        let content = [UInt8](repeating: 0x41, count: 1 << 20)
        let local = Self.localHeader(name: "a.txt", method: 0, compressed: content.count, size: content.count)
        let entries = (0..<400).map { (name: "m\($0).txt", method: 0, compressed: content.count, size: content.count, local: 0, flags: 0) }
        let stored = try XCTUnwrap(Containers.members(Self.zip(body: local + content, entries: entries)))
        XCTAssertEqual(stored.members.count, 1)
        XCTAssertTrue(stored.budget.truncated, "the refused entries were not scanned")
        XCTAssertEqual(stored.budget.bytesCharged, content.count)

        // Declared size 1, compressed 1 MiB: was charged 1 byte and copied 1 MiB, 400 times over.
        let liar = (0..<400).map { (name: "l\($0).txt", method: 0, compressed: content.count, size: 1, local: 0, flags: 0) }
        let lying = try XCTUnwrap(Containers.members(Self.zip(body: local + content, entries: liar)))
        XCTAssertEqual(lying.members.count, 0, "stored members need compressed == size")
        XCTAssertTrue(lying.budget.truncated)
        XCTAssertEqual(lying.budget.bytesCharged, 0)

        // Deflated: the bytes inflating produced are charged, whatever the declared size says.
        let deflated = Self.rawDeflate(content)
        let deflatedLocal = Self.localHeader(name: "d.txt", method: 8, compressed: deflated.count, size: 1)
        let bomb = (0..<400).map { (name: "d\($0).txt", method: 8, compressed: deflated.count, size: 1, local: 0, flags: 0) }
        let inflated = try XCTUnwrap(Containers.members(Self.zip(body: deflatedLocal + deflated, entries: bomb)))
        XCTAssertEqual(inflated.members.map(\.bytes.count), [content.count])
        XCTAssertEqual(inflated.budget.bytesCharged, content.count)
        XCTAssertTrue(inflated.budget.truncated)

        let scan = try scanBlob(Self.zip(body: local + content, entries: entries))
        XCTAssertEqual(scan.kind, .archive)
        XCTAssertTrue(scan.truncated)
    }

    /// Members are scanned as they are inflated: one member's bytes alive at a time, not all of them.
    func testZipMembersAreScannedOneAtATime() throws {
        var body: [UInt8] = []
        var entries: [(name: String, method: Int, compressed: Int, size: Int, local: Int, flags: Int)] = []
        let token = FakeSecret.github("zip-stream")
        for k in 0..<6 {
            let content = [UInt8](repeating: 0x20, count: 1 << 20) + Array("\nTOKEN=\(token)\n".utf8)
            let data = Self.rawDeflate(content)
            entries.append((name: "f\(k).txt", method: 8, compressed: data.count, size: content.count, local: body.count, flags: 0))
            body += Self.localHeader(name: "f\(k).txt", method: 8, compressed: data.count, size: content.count) + data
        }
        let zip = Self.zip(body: body, entries: entries)
        var budget = ArchiveBudget()
        var seen = 0
        let opened = zip.withUnsafeBufferPointer { buffer in
            Containers.forEachMember(buffer, format: .zip, budget: &budget) { member, budget in
                seen += 1
                XCTAssertEqual(budget.heldBytes, member.bytes.count, "only this member is alive")
            }
        }
        XCTAssertTrue(opened)
        XCTAssertEqual(seen, 6)
        XCTAssertLessThan(budget.peakHeldBytes, 2 << 20, "one member at a time, not six")
        XCTAssertFalse(budget.truncated)
        let scan = try scanBlob(zip)
        XCTAssertEqual(scan.matches.compactMap(\.innerPath).sorted(), (0..<6).map { "f\($0).txt" })
        XCTAssertFalse(scan.truncated)
    }

    func testZipMembersThatCannotBeReadMarkTheArchiveTruncated() throws {
        let content = Array("TOKEN=\(FakeSecret.github("zip-skip"))\n".utf8)
        func one(method: Int, compressed: Int, size: Int, flags: Int, data: [UInt8]? = nil) throws -> (members: Int, truncated: Bool) {
            let data = data ?? content
            let body = Self.localHeader(name: "x", method: method, compressed: data.count, size: data.count) + data
            let archive = try XCTUnwrap(Containers.members(Self.zip(body: body, entries: [
                (name: "x", method: method, compressed: compressed, size: size, local: 0, flags: flags)])))
            return (archive.members.count, archive.budget.truncated)
        }
        XCTAssertTrue(try one(method: 0, compressed: content.count, size: content.count, flags: 0) == (1, false))
        XCTAssertTrue(try one(method: 0, compressed: content.count, size: content.count, flags: 1) == (0, true), "encrypted")
        XCTAssertTrue(try one(method: 12, compressed: content.count, size: content.count, flags: 0) == (0, true), "bzip2")
        XCTAssertTrue(try one(method: 0, compressed: 0xffff_ffff, size: 0xffff_ffff, flags: 0) == (0, true), "zip64")
        let invalid = [UInt8](repeating: 0xff, count: 16)  // a final block of the reserved type
        XCTAssertTrue(try one(method: 8, compressed: 16, size: 100, flags: 0, data: invalid) == (0, true), "not deflate data")

        // A zip whose central directory is gone (a cut download): not openable, so its bytes are
        // scanned as they are (the stored member is in clear) and it is marked truncated.
        let cut = Self.localHeader(name: "x", method: 0, compressed: content.count, size: content.count) + content + [0, 0, 0]
        XCTAssertEqual(Containers.members(cut)?.opened, false)
        let scan = try scanBlob(cut)
        XCTAssertEqual(scan.matches.count, 1)
        XCTAssertTrue(scan.truncated)
    }

    // MARK: - gzip

    func testConcatenatedGzipMembersAreAllReadAndGarbageIsNoted() throws {
        let token = FakeSecret.stripe("gzip-second")
        let second = Self.gzip(Array("key=\(token)\n".utf8))
        let both = Self.gzip(Array(String(repeating: "nothing here\n", count: 50).utf8)) + second
        let scan = try scanBlob(both)
        XCTAssertEqual(scan.matches.map(\.encoding), ["gzip"], "the second gzip member is part of the file")
        XCTAssertFalse(scan.truncated)
        XCTAssertFalse(try scanBlob(second + [0, 0, 0, 0]).truncated, "zero padding after the stream")
        XCTAssertTrue(try scanBlob(second + Array("trailing".utf8)).truncated, "bytes after the stream were not read")
        // A gzip header followed by no deflate stream at all: scanned as it is, marked truncated.
        let broken = Array(second.prefix(10)) + [UInt8](repeating: 0xff, count: 64)
        XCTAssertEqual(Containers.members(broken)?.opened, false)
        XCTAssertTrue(try scanBlob(broken).truncated)
    }

    // MARK: - 4. Decoding is linear

    /// Locator hits every few bytes over `bytes`, as Vectorscan would report them for `kind`.
    func examined(_ bytes: [UInt8], _ kind: SpanLocator, every step: Int, from first: Int) -> (spans: [EncodedSpan], work: Int) {
        var budget = DecodeBudget()
        let locators = stride(from: first, through: bytes.count, by: step).map { (kind, $0) }
        let spans = bytes.withUnsafeBufferPointer { EncodedSpans.find(locators, in: $0, budget: &budget) }
        return (spans, budget.bytesExamined)
    }

    func testEncodedSpanDecodingWalksEachByteOnce() {
        // 3 MB of `%41` on one line: each hit walked back to the line start (8 s for 200 KB).
        let percentLine = Array(String(repeating: "%41", count: 1_000_000).utf8)
        let percent = examined(percentLine, .percent, every: 3, from: 9)
        XCTAssertLessThanOrEqual(percent.work, 2 * percentLine.count)
        XCTAssertTrue(percent.spans.isEmpty, "a line over the span bound is not decoded")
        let shortLines = Array(String(repeating: String(repeating: "%41", count: 300) + "\n", count: 3000).utf8)
        let lines = examined(shortLines, .percent, every: 3, from: 9)
        XCTAssertLessThanOrEqual(lines.work, 3 * shortLines.count)
        XCTAssertEqual(lines.spans.count, 2000, "one span per line, up to the span bound")

        // A repeated base64 PEM header: each hit walked back to offset 0 and on to the end (41 s for 200 KB).
        let header = "LS0tLS1CRUdJTi"
        let headers = Array(String(repeating: header, count: 300_000).utf8)
        let pem = examined(headers, .base64Header, every: header.utf8.count, from: header.utf8.count)
        XCTAssertLessThanOrEqual(pem.work, 3 * headers.count)

        // `x_b64=` assignments whose values run into the next one: `=` used to continue the run.
        let assignment = "x_b64=" + String(repeating: "A", count: 16)
        let assignments = Array(String(repeating: assignment, count: 200_000).utf8)
        let assigned = examined(assignments, .base64Assigned, every: assignment.utf8.count, from: assignment.utf8.count)
        XCTAssertLessThanOrEqual(assigned.work, 3 * assignments.count)

        let escapes = Array(String(repeating: "\\/", count: 1_500_000).utf8)
        XCTAssertLessThanOrEqual(examined(escapes, .jsonEscape, every: 2, from: 2).work, 2 * escapes.count)

        // One INSERT of 100,000 tuples on one line, a hit at every tuple: the statement is read once.
        let tuple = "('a', 'b'),"
        let insert = Array(("INSERT INTO t (x, y) VALUES " + String(repeating: tuple, count: 100_000) + "('a', 'b');").utf8)
        let sql = examined(insert, .sqlStatement, every: tuple.utf8.count, from: 30)
        XCTAssertLessThanOrEqual(sql.work, 2 * insert.count)
        XCTAssertEqual(sql.spans.count, 1)
        // Statements that never close (an unterminated quote, a column list without its end) on
        // many lines: each line is read at most to the span bound, and nothing is decoded.
        let broken = Array(String(repeating: "INSERT INTO t (a, b) VALUES ('x\n", count: 20_000).utf8)
        let unclosed = examined(broken, .sqlStatement, every: 33, from: 15)
        XCTAssertLessThanOrEqual(unclosed.work, 2 * broken.count)
    }

    /// A value named by its column (`INSERT INTO t (api_token) VALUES ('…')`) or by its row's key
    /// (`UPDATE settings SET value = '…' WHERE name = 'API_TOKEN'`) is found, as SQL.
    func testSQLValuesAreNamedByTheirColumnOrRowKey() throws {
        let token = ExampleTemplate.expand("⟪an:32⟫", salt: "sql")
        for statement in ["INSERT INTO integrations (service, widget_api_token) VALUES ('widgets', '\(token)'), ('other', NULL);",
                          "UPDATE app_settings\n  SET value = '\(token)'\n  WHERE name = 'WIDGET_API_TOKEN';",
                          "insert into `cfg` (`id`, `deploy_secret`) values (1, '\(token)');"] {
            let found = try scanBlob(Array(("BEGIN;\n" + statement + "\nCOMMIT;\n").utf8)).matches
            XCTAssertEqual(found.map { String(decoding: $0.secret, as: UTF8.self) }, [token], statement)
            XCTAssertEqual(found.first?.encoding, "sql", statement)
        }
        // A statement whose last quoted value ends in `\` at the very end of the input (a fuzzer
        // find): the reader stopped past the input and the span reached beyond the buffer.
        for statement in ["UPDATE s\n SET value = '\(token)', other = 'x\\", "UPDATE s SET value = 'x\\"] {
            let bytes = Array(statement.utf8)
            let (end, _) = bytes.withUnsafeBufferPointer { SQLStatement.assignments($0, from: 0) }
            XCTAssertLessThanOrEqual(end, bytes.count, statement)
            XCTAssertNoThrow(try scanBlob(bytes))
        }
        // Column lists and values that do not line up, and statements with no secret, give nothing.
        for statement in ["INSERT INTO t (api_token, b) VALUES ('\(token)');", "UPDATE t SET value = 'plain' WHERE name = 'API_TOKEN';"] {
            XCTAssertEqual(try scanBlob(Array(statement.utf8)).matches.count, 0, statement)
        }
    }

    /// The same inputs through the whole engine (the old code would take days at these sizes), with
    /// a secret after them that must still be found.
    func testHostileEncodingsThroughTheEngineStillFindTheSecret() throws {
        let webhook = ExampleTemplate.expand("https://hooks.slack.com/services/T⟪up:10⟫/B⟪up:10⟫/⟪an:24⟫", salt: "hostile")
        let percentHook = webhook.replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: "/", with: "%2F")
        let cases: [(String, String)] = [
            (String(repeating: "%41", count: 1_500_000) + "\n" + String(repeating: "%41", count: 200_000) + " url=" + percentHook + "\n", "percent"),
            (String(repeating: "LS0tLS1CRUdJTi", count: 300_000) + "\nHOOK_B64=" + Data(webhook.utf8).base64EncodedString() + "\n", "base64"),
            (String(repeating: "x_b64=AAAAAAAAAAAAAAAA", count: 200_000) + "\nHOOK_B64=" + Data(webhook.utf8).base64EncodedString() + "\n", "base64"),
            (String(repeating: "\\/", count: 1_500_000) + "\n{\"u\": \"" + webhook.replacingOccurrences(of: "/", with: "\\/") + "\"}\n", "json-escape"),
        ]
        for (text, encoding) in cases {
            let scan = try scanBlob(Array(text.utf8))
            let found = scan.matches.filter { $0.encoding == encoding }
            XCTAssertEqual(found.map(\.secret), [Array(webhook.utf8)], encoding)
        }
    }

    func testKubernetesJSONDataValuesStayLinear() {
        // Many `"data"` keys, and an object whose last string never ends.
        let text = Array((String(repeating: "\"data\": \"data\": {\"k\": \"dmFsdWU=\"} ", count: 100_000) + "\"data\": {\"k\": \"abc").utf8)
        let values = text.withUnsafeBufferPointer { EncodedSpans.kubernetesJSONDataValues($0) }
        XCTAssertEqual(values.count, 100_001)
        let yaml = Array(("kind: Secret\ndata:\n" + String(repeating: "  k: dmFsdWU=\n", count: 200_000)).utf8)
        XCTAssertEqual(yaml.withUnsafeBufferPointer { EncodedSpans.kubernetesDataValues($0) }.count, 200_000)
    }

    func testMergedRangesAnswerOverlapLikeALinearSearch() {
        let spans = [10..<20, 15..<25, 40..<50, 50..<55, 70..<71]
        let merged = Matcher.merged(spans)
        XCTAssertEqual(merged, [10..<25, 40..<55, 70..<71])
        for start in 0..<80 {
            for length in 1..<12 {
                let range = start..<(start + length)
                XCTAssertEqual(Matcher.overlaps(range, merged), spans.contains { $0.overlaps(range) }, "\(range)")
            }
        }
    }

    /// Through `keyseal scan` and `keyseal staged`: a repeated `%41` line and repeated base64 PEM
    /// headers (200 KB took 8 s and 41 s; these are 15 times larger).
    func testHostileEncodingsThroughScanAndStaged() throws {
        let repo = try TestRepository()
        try repo.write("percent.txt", String(repeating: "%41", count: 1_000_000) + "\n")
        try repo.commit("percent")
        let scan = try runBounded(["scan", "--quiet", "--format", "json"], in: repo.url)
        XCTAssertEqual(scan.status, 0, scan.stderr)
        try repo.write("headers.txt", String(repeating: "LS0tLS1CRUdJTi", count: 200_000) + "\n")
        let staged = try runBounded(["staged"], in: repo.url)
        XCTAssertEqual(staged.status, 0, staged.stderr + staged.stdout)
    }

    // MARK: - Dockerfile: linear, and warnings never quote content

    func testDockerfileContinuationLinesAreJoinedInLinearTime() {
        let count = 100_000
        let text = "FROM alpine\nRUN echo start \\\n" + String(repeating: "  && echo more \\\n", count: count) + "  && echo end\n"
        let (instructions, warnings) = DockerfileParser.parse(text)
        XCTAssertEqual(instructions.map(\.keyword), ["FROM", "RUN"])
        XCTAssertEqual(warnings, [])
        let run = instructions[1]
        XCTAssertEqual(run.segments.count, count + 2)
        XCTAssertEqual(run.line(at: run.arguments.count - 1), count + 3, "the last segment's physical line")
        XCTAssertEqual(run.line(at: 0), 2)
    }

    func testDockerfileChecksStayLinear() throws {
        var text = "FROM alpine AS s0\n"
        for k in 1..<20_000 { text += "FROM s\(k - 1) AS s\(k)\n" }
        for k in 0..<20_000 { text += "ARG SECRET_TOKEN_\(k)\n" }
        text += "RUN echo \\\n" + String(repeating: "  $SECRET_TOKEN_7 git config x \\\n", count: 20_000)
        text += "  " + String(repeating: ">", count: 100_000) + " " + String(repeating: "a", count: 100_000) + "\n"
        // One ENV of 20k continuation lines, each a finding whose line is looked up among 20k segments.
        let passwords = (0..<20_000).map { FakeSecret.password("env\($0)") }
        text += "ENV " + passwords.enumerated().map { "API_TOKEN_\($0)=\($1) \\\n" }.joined() + "  OTHER=1\n"
        text += "COPY . /app\n"
        let (findings, warnings) = DockerfileAudit.check(path: "Dockerfile", text: text, dockerignore: nil)
        XCTAssertEqual(warnings, [])
        let byRule = Dictionary(grouping: findings, by: \.rule).mapValues(\.count)
        XCTAssertEqual(byRule["audit-dockerfile-arg-in-run"], 1)
        XCTAssertNil(byRule["audit-dockerfile-run-writes-secret"])
        XCTAssertEqual(byRule["audit-dockerfile-secret-env"], passwords.filter(SecretNames.isLiteral).count)
        XCTAssertEqual(byRule["audit-dockerfile-copy-context"], 1)
        XCTAssertEqual(DockerfileAudit.writesCredentials(String(repeating: "git config ", count: 50_000) + "credential.helper store"),
                       "enables the plain-text credential store")
        XCTAssertEqual(DockerfileAudit.writesCredentials(String(repeating: "> ", count: 50_000) + "~/.npmrc"), "writes .npmrc")
        XCTAssertEqual(DockerfileAudit.writesCredentials("echo x>a>b/.netrc"), "writes .netrc")
        XCTAssertNil(DockerfileAudit.writesCredentials("git config a\ncredential.helper store"))
    }

    func testDockerfileWarningsNameFileLineAndKeywordOnly() throws {
        let token = FakeSecret.github("stray-line")
        let marker = "H" + ExampleTemplate.expand("⟪an:30⟫", salt: "marker")
        let dockerfile = "FROM alpine\n\(token)\nRUN <<\(marker)\necho hi\nENV A=1 \\\n"
        let (_, warnings) = DockerfileAudit.check(path: "svc/Dockerfile", text: dockerfile, dockerignore: nil)
        XCTAssertEqual(warnings.sorted(), [
            "svc/Dockerfile: line 2: not a Dockerfile instruction (the line is not quoted)",
            "svc/Dockerfile: line 3: RUN: a heredoc is never closed",
        ])
        let (_, unterminated) = DockerfileParser.parse("FROM alpine\nENV A=1 \\\n")
        XCTAssertEqual(unterminated, ["line 2: ENV ends with a line continuation at the end of the file"])

        // Through the text and JSON reports.
        let repo = try TestRepository()
        try repo.write("Dockerfile", dockerfile)
        try repo.commit("dockerfile")
        for format in ["json", "text"] {
            let out = try runBounded(["audit", "--format", format], in: repo.url)
            XCTAssertTrue((out.stdout + out.stderr).contains("line 2: not a Dockerfile instruction"), out.stdout + out.stderr)
            XCTAssertFalse((out.stdout + out.stderr).contains(token), "the stray token is not printed")
            XCTAssertFalse((out.stdout + out.stderr).contains(marker), "nor the heredoc marker")
        }
        let scan = try runBounded(["scan", "--format", "json"], in: repo.url)
        XCTAssertFalse((scan.stdout + scan.stderr).contains(token))
    }

    /// Tagging route findings with the content rule on their line looked up every finding's line
    /// among all matches of its file (20k secrets in one ENV took 37 s, growing with the square).
    func testAuditTagsManyFindingsWithoutASearchPerFinding() throws {
        let passwords = (0..<30_000).map { FakeSecret.password("tag\($0)") }
        let text = "FROM alpine\nENV " + passwords.enumerated().map { "API_TOKEN_\($0)=\($1)" }.joined(separator: " \\\n") + "\n"
        let settings = try Settings.load(workDirectory: nil, configFile: nil)
        let result = try Auditor.audit([Auditor.File(path: "Dockerfile", text: { text })], settings: settings)
        let env = result.findings.filter { $0.rule == "audit-dockerfile-secret-env" }
        XCTAssertEqual(env.count, passwords.filter(SecretNames.isLiteral).count)
        XCTAssertGreaterThan(env.filter { $0.contentRule != nil }.count, env.count * 9 / 10, "tagged with the content rule")
    }

    /// `keyseal audit` on a Dockerfile with 100k continuation lines (10k/20k/40k took 2.8/10.6/31 s).
    func testLongDockerfileThroughTheAudit() throws {
        let repo = try TestRepository()
        try repo.write("Dockerfile", "FROM alpine\nRUN echo a \\\n" + String(repeating: "  && echo b \\\n", count: 100_000)
            + "  && echo > ~/.netrc\n")
        try repo.commit("long dockerfile")
        let out = try runBounded(["audit", "--format", "json"], in: repo.url)
        let findings = try XCTUnwrap(try json(out)["findings"] as? [[String: Any]])
        XCTAssertEqual(findings.compactMap { $0["rule"] as? String }, ["audit-dockerfile-run-writes-secret"])
    }
}

/// Crashes the fuzz targets found, each kept as a test that builds its input at run time.
final class FuzzFoundTests: XCTestCase {
    /// toml++ (inside TOMLKit) asserts on a table header whose key starts with `{`: a crafted
    /// `.keyseal.toml` in a repository aborted `keyseal scan`, `staged` and `config check` (exit 134).
    func testTableHeaderThatCrashedTheTOMLParserIsAConfigError() throws {
        let repo = try TestRepository()
        try repo.write("a.txt", "hello\n")
        try repo.commit("base")
        for header in ["[{rules]]", "[[ {x]]", "  [\u{1}a]", "[\u{FFFD}]", "[", "[[ ", "[\r"] {
            try repo.write(".keyseal.toml", "max_blob_size = \"10M\"\n\(header)\nid = \"c\"\n")
            let check = try KeysealBinary.run(["config", "check", ".keyseal.toml"], in: repo.url)
            XCTAssertEqual(check.status, 2, header + ": " + check.stderr)
            XCTAssertTrue(check.stderr.contains(".keyseal.toml:2"), check.stderr)
            XCTAssertTrue(check.stderr.contains("table header"), check.stderr)
            let scan = try KeysealBinary.run(["scan", "--no-store", "--quiet"], in: repo.url)
            XCTAssertEqual(scan.status, 2, header + ": " + scan.stderr)
            let staged = try KeysealBinary.run(["staged"], in: repo.url)
            XCTAssertEqual(staged.status, 2, header + ": " + staged.stderr)
        }
        // Other shapes toml++ asserts on (an array or value cut by a closing brace): parsed in a child
        // process first, so the abort ends the child, not keyseal.
        for value in ["s = [}", "s = [1,}", "s = [ # c\n}"] {
            try repo.write(".keyseal.toml", value + "\n")
            for command in [["config", "check", ".keyseal.toml"], ["scan", "--no-store", "--quiet"], ["staged"]] {
                let run = try KeysealBinary.run(command, in: repo.url)
                XCTAssertEqual(run.status, 2, value + ": " + run.stderr)
                XCTAssertTrue(run.stderr.contains("not valid TOML"), run.stderr)
                XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, "one line: " + run.stderr)
            }
        }
        // Valid headers, including quoted and dotted keys, still parse.
        try repo.write(".keyseal.toml", "[allowlist]\npaths = [\"x\"]\n[ \"allowlist\".x ]\n")
        let valid = try KeysealBinary.run(["config", "check", ".keyseal.toml"], in: repo.url)
        XCTAssertNotEqual(valid.status, 134, valid.stderr)
        XCTAssertFalse(valid.stderr.contains("table header"), valid.stderr)
    }

    /// A Dockerfile whose COPY sources hold NUL bytes and runs of slashes: Foundation's
    /// `lastPathComponent` crashed on it (the input FuzzDockerfile found, as base64).
    func testDockerfileCopySourceThatCrashedFoundationIsAudited() throws {
        let input = try XCTUnwrap(Data(base64Encoded: "I1YgQXgKQ09QWSAuIC9ZIC4gAT14CkNPUFkgLiAvWSAuIAEAACAvYXBwRyBBUP//V1kgQXgKQ09QWSAuIC9ZIC4gAUNPUFkgLiAvWSAuIAE9eApDT1BZIC4gL1kgLiABAAAgL2FwcEcgQVD//1dZIEF4CkNPUFkgLyAuIFkuIAE9eApDT1BZICAuIC9PIC4gL1BZIC4gL1kgLiABQ09QWSAuIC9ZIC4gAT14CkNPUFkgLiAvWSAuIAEAACAvYXBwRyBBUP//V1kgQXgKQ09QWSAuIC9ZIC4gAT14CkNPUFkgLiAvWSAuIAFZIC4gAQAAIC9hUkQ9U1VOAAAAAAAgL1kgWSAuLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLS0vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLyABAAAgL2FSRD14CkNPUFk9eApDT1BZIC4gL1kgLiABAAAgL2FwcEcgQVD//19OQU1FL08gLiAvIC4vTyAgLiAvWSAuIAEAACAvYVJEPXgKQ09QWSAuIC9ZIFkgLiABAAAgL2FSRD14CkNPUFkgLiAvWSAuINBcXFxcXFxcXFxcXFxcIAo="))
        let text = String(decoding: input, as: UTF8.self)
        _ = DockerfileAudit.check(path: "Dockerfile", text: text, dockerignore: ["*", "!src"])
        XCTAssertEqual(PathText.lastComponent("a/b/"), "b")
        XCTAssertEqual(PathText.lastComponent("/"), "/")
        XCTAssertEqual(PathText.lastComponent("x\u{0}/.env"), ".env")
        XCTAssertEqual(PathText.lastComponent(""), "")
    }
}
