@testable import KeysealCore
import XCTest

/// How the store's recorder cuts a scan's blobs into transactions.
final class ChunkSizingTests: XCTestCase {
    /// Hands blobs over as the recorder does (a chunk once `size` wait), all `total` at once.
    private func chunks(_ sizing: ChunkRecorder.Sizing, total: Int) -> (sizes: [Int], left: Int) {
        var handed = 0, sizes: [Int] = []
        while case let size = sizing.size(handedOver: handed), total - handed >= size {
            sizes.append(size)
            handed += size
        }
        return (sizes, total - handed)
    }

    func testFixedChunksAreAlwaysTheirSize() {
        XCTAssertEqual(chunks(.fixed(3), total: 10).sizes, [3, 3, 3])
        XCTAssertEqual(chunks(.fixed(3), total: 10).left, 1)
        XCTAssertEqual(ChunkRecorder.Sizing.fixed(0).size(handedOver: 0), 1, "never a chunk of nothing")
    }

    /// Large chunks while the scan runs, small ones at its end: what is left for the scan to wait
    /// for is less than the floor, in few transactions.
    func testShrinkingChunksLeaveLessThanTheFloorForTheEnd() {
        for total in [0, 1, 511, 512, 1500, 32_525, 165_000, 1_000_000] {
            let chunk = max(4096, (total + 3) / 4)
            let (sizes, left) = chunks(.shrinking(chunk: chunk, total: total, floor: 512), total: total)
            XCTAssertEqual(sizes.reduce(0, +) + left, total)
            XCTAssertLessThan(left, 512, "total \(total)")
            XCTAssertEqual(sizes, sizes.sorted(by: >), "sizes only shrink: \(sizes)")
            XCTAssertTrue(sizes.allSatisfy { $0 <= chunk && $0 >= 512 }, "\(sizes)")
            XCTAssertLessThanOrEqual(sizes.count, 4 + 12, "total \(total): \(sizes.count) chunks")
        }
        XCTAssertEqual(chunks(.shrinking(chunk: 8132, total: 32_525, floor: 512), total: 32_525).sizes,
                       [8132, 8132, 8130, 4065, 2033, 1016, 512])
    }
}

