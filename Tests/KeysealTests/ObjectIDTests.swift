import Foundation
import XCTest

@testable import KeysealGit

/// Object ids are ordered and printed from three words: the order must be the bytes' (and so the
/// hex's, which the store sorts by), and the hex must be git's.
final class ObjectIDTests: XCTestCase {
    func testOrderAndHexAreTheBytes() throws {
        var generator = SystemRandomNumberGenerator()
        // Ids that differ in each byte position alone, and random ones.
        var hexes: [String] = []
        for position in 0..<20 {
            for value: UInt8 in [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff] {
                var bytes = [UInt8](repeating: 0x55, count: 20)
                bytes[position] = value
                hexes.append(bytes.map { String(format: "%02x", $0) }.joined())
            }
        }
        for _ in 0..<500 {
            hexes.append((0..<20).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined())
        }
        let ids = try hexes.map { try XCTUnwrap(ObjectID(hex: $0)) }
        XCTAssertEqual(ids.map(\.hex), hexes)
        XCTAssertEqual(ids.sorted().map(\.hex), hexes.sorted())
        for (a, b) in zip(ids, ids.dropFirst()) {
            XCTAssertEqual(a < b, a.hex < b.hex, "\(a) < \(b)")
        }
    }
}
