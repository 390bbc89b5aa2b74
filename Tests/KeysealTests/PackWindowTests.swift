import Foundation
import XCTest

@testable import KeysealGit

/// The read-ahead window over pack files hands out exactly the bytes a `pread` would: in order, out
/// of order, across two files, at a file's end (cut short there), and refuses what it cannot hold.
final class PackWindowTests: XCTestCase {
    func testWindowBytesAreTheFilesBytes() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keyseal-window-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var random = SystemRandomNumberGenerator()
        var contents: [[UInt8]] = []
        var packs: [(descriptor: Int32, size: Int)] = []
        for (n, size) in [700_000, 5_000].enumerated() {
            let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &random) }
            let url = folder.appendingPathComponent("\(n).pack")
            try Data(bytes).write(to: url)
            let descriptor = open(url.path, O_RDONLY)
            XCTAssertGreaterThanOrEqual(descriptor, 0)
            contents.append(bytes)
            packs.append((descriptor, size))
        }
        defer { for pack in packs { close(pack.descriptor) } }
        let window = PackWindow()
        func check(_ number: Int, _ offset: Int, _ length: Int, _ label: String) {
            let expected = Array(contents[number][offset..<min(offset + length, contents[number].count)])
            guard let got = window.bytes(packs, number, at: offset, length: length) else {
                return XCTFail("\(label): nothing for \(number) \(offset) \(length)")
            }
            XCTAssertEqual(Array(got), expected, "\(label): \(number) \(offset) \(length)")
        }
        // In order, as a batch of entries is read: headers (64 bytes) then data.
        var offset = 12
        while offset < 690_000 {
            check(0, offset, 64, "sequential header")
            let length = Int.random(in: 1...9_000, using: &random)
            check(0, offset + 3, length, "sequential data")
            offset += Int.random(in: 10...4_000, using: &random)
        }
        // Out of order, and between the two files.
        for _ in 0..<500 {
            let number = Int.random(in: 0...1, using: &random)
            let size = contents[number].count
            let at = Int.random(in: 0..<size, using: &random)
            check(number, at, Int.random(in: 1...min(PackWindow.readAhead, 20_000), using: &random), "random")
        }
        // At the end: cut short; past it, longer than a window, or at a bad offset: nothing.
        check(1, 4_990, 64, "end")
        XCTAssertNil(window.bytes(packs, 1, at: 5_000, length: 10))
        XCTAssertNil(window.bytes(packs, 0, at: 0, length: PackWindow.readAhead + 1))
        XCTAssertNil(window.bytes(packs, 0, at: -1, length: 10))
        XCTAssertNil(window.bytes(packs, 2, at: 0, length: 10))
        check(0, 0, PackWindow.readAhead, "a whole window")
    }
}
